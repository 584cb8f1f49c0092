package jsonx

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// StringError is a malformed JSON string: what is wrong, and where (a byte
// offset in the text given to AppendUnquoted).
type StringError struct {
	Offset int
	Msg    string
}

// Error returns Msg and the offset.
func (e *StringError) Error() string { return e.Msg + " at byte " + strconv.Itoa(e.Offset) }

// AppendUnquoted decodes the JSON string that s starts with (s begins
// after the opening quote and holds the closing one) and appends its text
// to dst; n is the number of bytes of s it read, closing quote included.
// Escapes decode as encoding/json decodes them: a \u escape of half a
// surrogate pair that is not completed by the next \u escape is U+FFFD.
// Other bytes are copied as they are, so text that is not UTF-8 stays as
// the sender wrote it (where encoding/json would put U+FFFD for each bad
// byte). A control character, a malformed escape and a missing closing
// quote are a *StringError.
func AppendUnquoted[T string | []byte](dst []byte, s T) (out []byte, n int, err error) {
	i := 0
	for {
		run := i
		for i < len(s) && escapeLetter[s[i]] == 0 {
			i++
		}
		dst = append(dst, s[run:i]...)
		switch {
		case i == len(s):
			return dst, i, &StringError{i, "unterminated string"}
		case s[i] == '"':
			return dst, i + 1, nil
		case s[i] < 0x20:
			return dst, i, &StringError{i, "invalid control character"}
		case i+1 < len(s) && unescaped[s[i+1]] != 0:
			dst = append(dst, unescaped[s[i+1]])
			i += 2
			continue
		}
		if dst, i, err = appendEscape(dst, s, i+1); err != nil {
			return dst, i, err
		}
	}
}

// appendEscape decodes the \u escape whose letter is at s[i] (after its
// backslash; any other letter is an error) and returns the offset after it.
func appendEscape[T string | []byte](dst []byte, s T, i int) ([]byte, int, error) {
	if i == len(s) {
		return dst, i, &StringError{i, "unterminated string"}
	}
	if s[i] != 'u' {
		return dst, i + 1, &StringError{i + 1, `invalid \escape`}
	}
	i++
	r, ok := hexRune(s, i)
	if !ok {
		return dst, i, &StringError{i, `invalid \uXXXX escape`}
	}
	i += 4
	if utf16.IsSurrogate(r) {
		// Only a pair makes a character; the next escape is read again
		// when it does not complete this one.
		r2, ok := hexRune(s, i+2)
		if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' && ok {
			if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
				return utf8.AppendRune(dst, pair), i + 6, nil
			}
		}
		r = utf8.RuneError
	}
	return utf8.AppendRune(dst, r), i, nil
}

// unescaped maps the letter of a one-letter escape to the byte it stands
// for (0: not such a letter): the escaper's letters, and "\/".
var unescaped = func() (t [256]byte) {
	for _, pair := range shortEscapes {
		t[pair[1]] = pair[0]
	}
	t['/'] = '/'
	return t
}()

// hexRune reads the four hex digits at s[i:].
func hexRune[T string | []byte](s T, i int) (rune, bool) {
	if i < 0 || i+4 > len(s) {
		return 0, false
	}
	var r rune
	for j := i; j < i+4; j++ {
		c, d := s[j], byte(0)
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			d = c | 0x20 - 'a' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}
