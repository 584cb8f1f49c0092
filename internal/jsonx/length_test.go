package jsonx

import "testing"

// EncodedLen and Prefix measure what AppendString writes.
func FuzzEncodedLen(f *testing.F) {
	f.Add("a\"b\\c\n\x01é\u2028\xff", 10)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if got, want := EncodedLen(s), len(AppendString(nil, s)); got != want {
			t.Fatalf("EncodedLen = %d, AppendString wrote %d", got, want)
		}
		if max < 2 || max > 1<<20 {
			return
		}
		n, enc := Prefix(s, max)
		if out := AppendString(nil, s[:n]); len(out) != enc || enc > max {
			t.Fatalf("Prefix(%q, %d) = %d, %d; its encoding is %d bytes", s, max, n, enc, len(out))
		}
		if n < len(s) {
			if _, encNext := Prefix(s, max+6); encNext <= max {
				t.Fatalf("Prefix(%q, %d) stopped short", s, max)
			}
		}
	})
}
