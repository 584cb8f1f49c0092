package jsonx

import "unicode/utf8"

// EncodedLen returns the length of AppendString's output for s, quotes
// included.
func EncodedLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		l, size := runeLen(s, i)
		n += l
		i += size
	}
	return n
}

// Prefix returns the length of the longest prefix of s, cut on a rune
// boundary, whose AppendString output (quotes included) takes at most max
// bytes, and that output's length. It reads s only as far as that.
func Prefix(s string, max int) (prefix, encoded int) {
	n, i := 2, 0
	for i < len(s) {
		l, size := runeLen(s, i)
		if n > max-l {
			break
		}
		n += l
		i += size
	}
	return i, n
}

// runeLen returns the length AppendString writes for the rune at s[i],
// and its size in s.
func runeLen(s string, i int) (encoded, size int) {
	c := s[i]
	if c < utf8.RuneSelf {
		switch {
		case c >= 0x20 && c != '"' && c != '\\':
			return 1, 1
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
			return 2, 1
		}
		return 6, 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
		return 6, size
	}
	return size, size
}
