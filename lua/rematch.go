package lua

import (
	"regexp"
	"regexp/syntax"
	"unicode/utf8"

	glua "github.com/yuin/gopher-lua"
)

// eachMatch calls f with every match of re in s (at most n; n < 0: all),
// exactly as regexp's FindAllStringSubmatchIndex lists them, but one match
// at a time, checking the call's deadline between matches: findall, sub
// and split stop at the deadline instead of after the whole subject
// (README "Lua API").
func (st *state) eachMatch(L *glua.LState, re *regexp.Regexp, s string, n int, f func(loc []int)) {
	m := matcher{st: st, L: L, re: re, s: s}
	prevEnd := -1
	for pos, found, steps := 0, 0, 0; (n < 0 || found < n) && pos <= len(s); steps++ {
		if steps&63 == 63 {
			if err := st.interrupted(); err != nil {
				L.RaiseError("re: %s", err.Error())
			}
		}
		loc := m.from(pos)
		if loc == nil {
			break
		}
		accept := true
		if loc[1] == pos {
			// An empty match right after the previous one does not count;
			// either way the search moves on by one character.
			accept = loc[0] != prevEnd
			if _, w := utf8.DecodeRuneInString(s[pos:]); w > 0 {
				pos += w
			} else {
				pos = len(s) + 1
			}
		} else {
			pos = loc[1]
		}
		prevEnd = loc[1]
		if accept {
			f(loc)
			found++
		}
	}
}

// matcher finds the leftmost match of re at or after a position of s.
type matcher struct {
	st *state
	L  *glua.LState
	re *regexp.Regexp
	s  string
	// cont matches re after the character before the position, so that
	// ^, \A and \b see what precedes it; nil until needed.
	cont    *regexp.Regexp
	checked bool // whether re needs cont is known
}

func (m *matcher) from(pos int) []int {
	if pos == 0 {
		return m.re.FindStringSubmatchIndex(m.s)
	}
	if !m.checked {
		m.checked = true
		if needsContext(m.re.String()) {
			src := `\A(?s:.)(?s:.*?)(` + m.re.String() + `)`
			cont, err := m.st.e.re.get(src, func() (*regexp.Regexp, error) { return regexp.Compile(src) })
			if err != nil {
				m.L.RaiseError("re: %s", err.Error())
			}
			m.cont = cont
		}
	}
	if m.cont == nil {
		return shift(m.re.FindStringSubmatchIndex(m.s[pos:]), pos)
	}
	_, w := utf8.DecodeLastRuneInString(m.s[:pos])
	loc := m.cont.FindStringSubmatchIndex(m.s[pos-w:])
	if loc == nil {
		return nil
	}
	return shift(loc[2:], pos-w) // without the whole match of cont
}

// shift moves the positions of loc (-1: no match) by off.
func shift(loc []int, off int) []int {
	for i, p := range loc {
		if p >= 0 {
			loc[i] = p + off
		}
	}
	return loc
}

// needsContext reports whether the pattern holds an assertion that looks
// at the character before a position (^, \A, \b, \B).
func needsContext(pat string) bool {
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return true
	}
	var walk func(*syntax.Regexp) bool
	walk = func(r *syntax.Regexp) bool {
		switch r.Op {
		case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
			return true
		}
		for _, sub := range r.Sub {
			if walk(sub) {
				return true
			}
		}
		return false
	}
	return walk(re)
}
