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
	letter, width := escapeLetter[s[i]], 1 // ASCII: one table look-up
	if s[i] >= utf8.RuneSelf {
		letter, _, width = escapeOf(s, i)
	}
	switch letter {
	case 0:
		return width, width
	case 'u':
		return len(`\u0000`), width
	default:
		return len(`\n`), width
	}
}
