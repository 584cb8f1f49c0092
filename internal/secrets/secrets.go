// Package secrets masks secret values in text: the one masker that the Lua
// runtime's answers, errors and log lines go through (README "Secrets").
package secrets

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Redacted is what a secret is replaced with.
const Redacted = "*****"

// Masker replaces every one of a fixed set of strings (a secret's forms)
// with Redacted. A nil *Masker masks nothing.
type Masker struct {
	r       *strings.Replacer
	forms   []string // longest first
	longest int      // bytes of the longest form
}

// NewMasker returns a masker for forms (empty and repeated ones are
// ignored), or nil when there is nothing to mask. Longer forms win, so a
// secret containing another is masked whole.
func NewMasker(forms []string) *Masker {
	var ss []string
	seen := map[string]bool{}
	for _, f := range forms {
		if f != "" && !seen[f] {
			seen[f] = true
			ss = append(ss, f)
		}
	}
	if len(ss) == 0 {
		return nil
	}
	sort.Slice(ss, func(i, j int) bool { return len(ss[i]) > len(ss[j]) })
	args := make([]string, 0, 2*len(ss))
	for _, s := range ss {
		args = append(args, s, Redacted)
	}
	return &Masker{r: strings.NewReplacer(args...), forms: ss, longest: len(ss[0])}
}

// Mask returns s with every form replaced.
func (m *Masker) Mask(s string) string {
	if m == nil || s == "" || len(s) <= shortText && !m.occursIn(s) {
		return s
	}
	return m.r.Replace(s)
}

// shortText is the length up to which Mask first looks for each form
// (cheap for short texts, and no allocation when none occurs) before
// replacing in one pass.
const shortText = 512

// occursIn reports whether a form occurs in s.
func (m *Masker) occursIn(s string) bool {
	for _, f := range m.forms {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

// Longest returns the length in bytes of the longest form (0: none).
func (m *Masker) Longest() int {
	if m == nil {
		return 0
	}
	return m.longest
}

// MaskCut masks s and then cuts it to at most limit bytes (on a rune
// boundary); cut reports whether anything was dropped. Masking comes
// first, so a secret that straddles limit is masked whole, never cut into a
// readable prefix. Only the first limit bytes plus one form's length of s are
// read, so a huge s costs no more than a short one.
func (m *Masker) MaskCut(s string, limit int) (out string, cut bool) {
	if len(s) <= limit {
		out = m.Mask(s)
		if len(out) <= limit {
			return out, false
		}
		return cutRunes(out, limit), true
	}
	// A form that starts before limit ends before limit+longest: the rest of s
	// cannot change what is kept.
	if m == nil {
		return cutRunes(s, limit), true
	}
	head := s
	if len(head) > limit+m.longest {
		head = head[:limit+m.longest]
	}
	out = m.Mask(head)
	keep := limit
	if len(head) < len(s) {
		// The last longest-1 bytes may begin a form that the cut split:
		// unmasked, they could spell most of a secret.
		keep = min(keep, len(out)-(m.longest-1))
	}
	return cutRunes(out, max(keep, 0)), true
}

// cutRunes returns s cut to at most n bytes, on a rune boundary.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
