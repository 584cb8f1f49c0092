package jsonx

import (
	"encoding/json"
	"strings"
	"testing"
)

// marshal is encoding/json's text of s without HTML escaping.
func marshal(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "\n\r\t\b\f\x01\x1f", "é\u2028\u2029", "bad\xff\xc3", "<&>"} {
		if got, want := string(AppendString(nil, s)), marshal(s); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendStringLimit(t *testing.T) {
	for _, tc := range []struct {
		s     string
		limit int
		ok    bool
	}{
		{"abc", 5, true},
		{"abc", 4, false},
		{`""`, 6, true},
		{`""`, 5, false},
		{strings.Repeat("\x01", 1000), 100, false},
	} {
		b, ok := AppendStringLimit([]byte("x"), tc.s, tc.limit+1)
		if ok != tc.ok || len(b) > tc.limit+1 {
			t.Errorf("AppendStringLimit(%q, %d) = %q, %v", tc.s, tc.limit, b, ok)
		}
	}
}

// FuzzAppendString holds the escaper to encoding/json.
func FuzzAppendString(f *testing.F) {
	f.Add("a\"b\\c\x00\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(AppendString(nil, s)), marshal(s); got != want {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// BenchmarkAppendString escapes a call record's usual strings: plain text
// and a log line with quotes.
func BenchmarkAppendString(b *testing.B) {
	plain := strings.Repeat("push to octocat/Hello-World ", 8)
	quoted := strings.Repeat(`INFO: deployed "main" in 2.5 s\n`, 8)
	b.ReportAllocs()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = AppendString(buf[:0], plain)
		buf = AppendString(buf, quoted)
	}
}
