// Package jsonx reads and writes JSON strings: the one JSON string escaper
// that the call log, the Lua runtime and the daemon's answers share, and
// the one decoder of JSON strings (AppendUnquoted).
package jsonx

import (
	"math"
	"unicode/utf8"
)

// escapeLetter tells, for each ASCII byte, how it is written inside a JSON
// string: 0 as it is, 'u' as a \u escape, another letter as that
// one-letter escape. Bytes from 0x80 up are 0 here (the escaper checks
// them as UTF-8). The same bytes end a run of plain text when decoding.
var escapeLetter = func() (t [256]byte) {
	for c := range 0x20 {
		t[c] = 'u'
	}
	for _, pair := range shortEscapes {
		t[pair[0]] = pair[1]
	}
	return t
}()

// shortEscapes pairs each byte that has a one-letter escape with the letter
// the escaper writes for it.
var shortEscapes = []string{`""`, `\\`, "\nn", "\rr", "\tt", "\bb", "\ff"}

// AppendString appends s as a JSON string, as encoding/json writes it
// without HTML escaping: invalid UTF-8 bytes become \ufffd, U+2028 and
// U+2029 are escaped.
func AppendString(b []byte, s string) []byte {
	b, _ = AppendStringLimit(b, s, math.MaxInt)
	return b
}

// AppendStringLimit is AppendString that stops as soon as b would grow
// past limit bytes: ok is false and b holds a partial string then. It never
// allocates much more than limit, whatever s is.
func AppendStringLimit(b []byte, s string, limit int) (out []byte, ok bool) {
	if len(b) >= limit {
		return b, false
	}
	b = append(b, '"')
	plain := 0 // start of the bytes not written yet, all written as they are
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf && escapeLetter[c] == 0 {
			i++ // the common case, checked without a call
			continue
		}
		var scratch [6]byte
		esc, width := escapeAt(scratch[:0], s, i)
		if esc == nil {
			i += width
			continue
		}
		if len(b)+(i-plain)+len(esc) > limit {
			return b, false
		}
		b = append(append(b, s[plain:i]...), esc...)
		i += width
		plain = i
	}
	if len(b)+(len(s)-plain)+1 > limit {
		return b, false
	}
	return append(append(b, s[plain:]...), '"'), true
}

// escapeAt returns the escape that the character at s[i] is written as
// (appended to dst; nil when it is written as it is) and its width in s.
func escapeAt(dst []byte, s string, i int) ([]byte, int) {
	letter, r, width := escapeOf(s, i)
	switch letter {
	case 0:
		return nil, width
	case 'u':
		return appendHexEscape(dst, r), width
	}
	return append(dst, '\\', letter), width
}

// escapeOf tells how the character at s[i] (width bytes) is written: as
// it is (letter 0), as the \u escape of r (letter 'u'), or as the
// one-letter escape letter. A byte that is not UTF-8 is written as the
// escape of U+FFFD.
func escapeOf(s string, i int) (letter byte, r rune, width int) {
	if c := s[i]; c < utf8.RuneSelf {
		return escapeLetter[c], rune(c), 1
	}
	r, width = utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && width == 1 || breaksJavaScript(r) {
		return 'u', r, width
	}
	return 0, r, width
}

// breaksJavaScript reports whether r, valid in JSON, ends a line inside a
// JavaScript string literal (U+2028 LINE SEPARATOR, U+2029 PARAGRAPH
// SEPARATOR), so that JSON text embedded in a script stays one string.
func breaksJavaScript(r rune) bool {
	return r == 0x2028 || r == 0x2029
}

// appendHexEscape appends r (at most U+FFFF) as \u and four lower-case hex
// digits.
func appendHexEscape(dst []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '\\', 'u')
	for shift := 12; shift >= 0; shift -= 4 {
		dst = append(dst, hex[r>>shift&0xf])
	}
	return dst
}
