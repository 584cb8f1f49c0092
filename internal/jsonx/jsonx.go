// Package jsonx writes JSON strings: the one JSON string escaper that the
// call log, the Lua runtime and the daemon's answers share.
package jsonx

import (
	"math"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

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
	start := 0
	// flush appends s[start:i] plus room bytes of escape, within limit.
	flush := func(i, room int) bool {
		if len(b)+(i-start)+room > limit {
			return false
		}
		b = append(b, s[start:i]...)
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			var esc [6]byte
			e := esc[:2]
			esc[0] = '\\'
			switch c {
			case '"', '\\':
				esc[1] = c
			case '\n':
				esc[1] = 'n'
			case '\r':
				esc[1] = 'r'
			case '\t':
				esc[1] = 't'
			case '\b':
				esc[1] = 'b'
			case '\f':
				esc[1] = 'f'
			default:
				esc = [6]byte{'\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf]}
				e = esc[:]
			}
			if !flush(i, len(e)) {
				return b, false
			}
			b = append(b, e...)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			if !flush(i, 6) {
				return b, false
			}
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			if !flush(i, 6) {
				return b, false
			}
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	if !flush(len(s), 1) {
		return b, false
	}
	return append(b, '"'), true
}
