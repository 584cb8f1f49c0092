package secrets

import "strings"

// syncSearch bounds, in multiples of the longest form, how far TrimCut looks
// back for a place where masking is known to restart.
const syncSearch = 8

// TrimCut returns s, a text that a cap cut short before it could be masked
// (a subprocess's output, a response body), without the tail that begins
// a form: the readable part of a secret that straddled the cut, which
// masking could no longer recognise. Whole forms stay (they are masked
// where the text is output), unless the cut may have shortened a longer
// form that starts with one. The text is cut where masking would resume
// anyway, so what is kept masks as it did before the cut.
func (m *Masker) TrimCut(s string) string {
	if m == nil || s == "" {
		return s
	}
	from := m.syncBefore(s, max(0, len(s)-2*m.longest))
	for i := from; i < len(s); {
		if len(s)-i < m.longest && m.begins(s[i:]) {
			return s[:i]
		}
		i += max(1, m.matchAt(s, i))
	}
	return s
}

// begins reports whether tail is a proper prefix of a form.
func (m *Masker) begins(tail string) bool {
	for _, f := range m.forms {
		if len(f) <= len(tail) {
			return false // forms are longest first
		}
		if strings.HasPrefix(f, tail) {
			return true
		}
	}
	return false
}

// matchAt returns the length of the form that masking replaces at s[i:]
// (the longest that matches), or 0.
func (m *Masker) matchAt(s string, i int) int {
	for _, f := range m.forms {
		if strings.HasPrefix(s[i:], f) {
			return len(f)
		}
	}
	return 0
}

// syncBefore returns the last position at or before x, looking back at
// most syncSearch longest forms, that no occurrence of a form straddles:
// masking the whole of s passes there, so scanning from there sees the
// matches masking replaces. Without one in reach it returns the furthest.
func (m *Masker) syncBefore(s string, x int) int {
	stop := max(0, x-syncSearch*m.longest)
	for ; x > stop; x-- {
		if !m.straddled(s, x) {
			return x
		}
	}
	return stop
}

// straddled reports whether a form occurs in s from before x to after x.
func (m *Masker) straddled(s string, x int) bool {
	for _, f := range m.forms {
		for q := max(0, x-len(f)+1); q < x; q++ {
			if q+len(f) <= len(s) && s[q] == f[0] && strings.HasPrefix(s[q:], f) {
				return true
			}
		}
	}
	return false
}
