package secrets

import (
	"strings"
	"testing"
)

func TestTrimCut(t *testing.T) {
	tests := []struct {
		name  string
		forms []string
		in    string
		want  string
	}{
		{"split secret", []string{"abcdef"}, "xxabcde", "xx"},
		{"one byte of it", []string{"abcdef"}, "xxa", "xx"},
		{"whole secret stays", []string{"abcdef"}, "xxabcdef", "xxabcdef"},
		{"no secret", []string{"abcdef"}, "xxb", "xxb"},
		{"nothing else", []string{"abcdef"}, "abc", ""},
		{"empty", []string{"abcdef"}, "", ""},
		{"longest tail goes", []string{"abab12"}, "xxabab", "xx"},
		{"second form", []string{"zzzzzzzz", "abc"}, "q zzz", "q "},
		{"whole secret whose end begins it", []string{"abab"}, "xxabab", "xxabab"},
		{"masked pairs, then half of one", []string{"aaaa"}, "xaaaaaaaaaa", "xaaaaaaaa"},
		{"a shorter form that a longer one starts with", []string{"abcdefghij", "abc"}, "xabcdef", "x"},
		{"whole short form at the end", []string{"abcdefghij", "abc"}, "xabc", "x"},
		{"one-byte secret", []string{"a"}, "xa", "xa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewMasker(tt.forms).TrimCut(tt.in); got != tt.want {
				t.Errorf("TrimCut(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := (*Masker)(nil).TrimCut("abc"); got != "abc" {
		t.Errorf("nil TrimCut = %q", got)
	}
}

// FuzzTrimCut cuts a text holding a secret twice (anywhere, adjacent
// copies too) at any length, and checks that masking what TrimCut keeps
// leaves no 8-byte run of the secret (all of it when shorter), that it
// only drops a tail shorter than the secret, and keeps cuts away from the
// secret whole.
func FuzzTrimCut(f *testing.F) {
	f.Add("Tok3n-0123456789-abcde", "", uint16(10), uint16(0), uint16(5), uint16(25))
	f.Add("aaaaaaaaa", "a", uint16(3), uint16(0), uint16(1), uint16(20))
	f.Add("abcabcabcab", "abc", uint16(0), uint16(2), uint16(0), uint16(17))
	f.Fuzz(func(t *testing.T, secret, other string, a, b, c, cut uint16) {
		if len(secret) == 0 || len(secret) > 64 || len(other) > 64 {
			return
		}
		fill := fillerFor(secret + other)
		if fill == "" {
			return
		}
		f := func(n uint16) string { return strings.Repeat(fill, int(n%100)) }
		text := f(a) + secret + f(b) + secret + f(c)
		s := text[:int(cut)%(len(text)+1)]
		m := NewMasker([]string{secret, other})
		if leakIn(m.Mask(text), secret) != "" {
			return // overlapping forms: masking leaks without a cut too
		}
		out := m.TrimCut(s)
		drop := s[len(out):]
		if !strings.HasPrefix(s, out) || !(strings.HasPrefix(secret, drop) && drop != secret ||
			strings.HasPrefix(other, drop) && drop != other) && drop != "" {
			t.Fatalf("TrimCut(%q) = %q", s, out)
		}
		if l := leakIn(m.Mask(out), secret); l != "" {
			t.Fatalf("TrimCut(%q) = %q masks to %q: leaks %q", s, out, m.Mask(out), l)
		}
	})
}

// fillerFor returns a byte that s does not hold, as a string ("" if none).
func fillerFor(s string) string {
	for c := range 256 {
		if strings.IndexByte(s, byte(c)) < 0 {
			return string([]byte{byte(c)})
		}
	}
	return ""
}

// leakIn returns the first 8-byte run of secret (all of it when shorter)
// in text, or "".
func leakIn(text, secret string) string {
	n := min(8, len(secret))
	for i := 0; i+n <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+n]) {
			return secret[i : i+n]
		}
	}
	return ""
}
