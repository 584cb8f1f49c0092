package jsonx

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

func TestAppendUnquoted(t *testing.T) {
	tests := []struct {
		in, want string
		n        int
		err      string // "": none
	}{
		{in: `plain" rest`, want: "plain", n: 6},
		{in: `"`, want: "", n: 1},
		{in: `a\"b\\c\/d\b\f\n\r\t"`, want: "a\"b\\c/d\b\f\n\r\t", n: 21},
		{in: `caf\u00e9 \u00E9"`, want: "café é", n: 17},
		{in: `\ud83d\ude00"`, want: "😀", n: 13},
		{in: `\ud83dx"`, want: "\ufffdx", n: 8},
		{in: `\ude00\ud83d"`, want: "\ufffd\ufffd", n: 13},
		{in: `\ud83d\u0041"`, want: "\ufffdA", n: 13},
		{in: "bad\xff\"", want: "bad\xff", n: 5},
		{in: `abc`, err: "unterminated string at byte 3"},
		{in: `abc\`, err: "unterminated string at byte 4"},
		{in: "a\nb\"", err: "invalid control character at byte 1"},
		{in: `a\x"`, err: `invalid \escape at byte 3`},
		{in: `a\u12"`, err: `invalid \uXXXX escape at byte 3`},
		{in: `\ud83d\uzzzz"`, err: `invalid \uXXXX escape at byte 8`},
	}
	for _, tt := range tests {
		for _, kind := range []string{"string", "[]byte"} {
			var out []byte
			var n int
			var err error
			if kind == "string" {
				out, n, err = AppendUnquoted([]byte("x"), tt.in)
			} else {
				out, n, err = AppendUnquoted([]byte("x"), []byte(tt.in))
			}
			if tt.err != "" {
				var se *StringError
				if err == nil || err.Error() != tt.err || !errors.As(err, &se) {
					t.Errorf("%s %q: err %v, want %s", kind, tt.in, err, tt.err)
				}
				continue
			}
			if err != nil || string(out) != "x"+tt.want || n != tt.n {
				t.Errorf("%s %q: %q, %d, %v; want %q, %d", kind, tt.in, out, n, err, tt.want, tt.n)
			}
		}
	}
}

// FuzzAppendUnquoted holds the decoder to encoding/json: the same text,
// the same strings refused (for UTF-8 input; other bytes are kept as is,
// where encoding/json writes U+FFFD), the closing quote found.
func FuzzAppendUnquoted(f *testing.F) {
	for _, s := range []string{`a\"b"`, `\ud800\udc00"`, `\ud800\u0041" `, `x\u00e9\/"`, "\x01\"", `\q"`, `abc`, `a"b"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, n, err := AppendUnquoted(nil, s)
		if err == nil {
			if n < 1 || s[n-1] != '"' {
				t.Fatalf("%q: read %d bytes", s, n)
			}
			if out2, n2, _ := AppendUnquoted(nil, []byte(s)); string(out2) != string(out) || n2 != n {
				t.Fatalf("%q: []byte gives %q, %d; string %q, %d", s, out2, n2, out, n)
			}
			s = s[:n]
		}
		if !utf8.ValidString(s) {
			return
		}
		var want string
		stdErr := json.Unmarshal([]byte(`"`+s), &want)
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("%q: err %v, encoding/json: %v", s, err, stdErr)
		}
		if err == nil && string(out) != want {
			t.Fatalf("%q: %q, encoding/json: %q", s, out, want)
		}
	})
}
