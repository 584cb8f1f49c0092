package definitions

import (
	"strings"
	"testing"
)

// maskSecretsRef is MaskSecrets without its shortcut: every form of every
// value is looked for.
func maskSecretsRef(s string, values []string) string {
	for _, v := range values {
		if v == "" {
			continue
		}
		lit := LuaString(v)
		s = strings.ReplaceAll(s, lit, "*****")
		if inner := lit[1 : len(lit)-1]; inner != v {
			s = strings.ReplaceAll(s, inner, "*****")
		}
		s = strings.ReplaceAll(s, v, "*****")
	}
	return s
}

func TestMaskSecrets(t *testing.T) {
	tests := []struct {
		s      string
		values []string
		want   string
	}{
		{"push", []string{"tok3n"}, "push"},
		{"push/tok3n", []string{"tok3n"}, "push/*****"},
		{`a"tok3n"b`, []string{"tok3n"}, "a*****b"},
		{`say "it's"`, []string{`it's`}, `say *****`},
		{`q\034x\034`, []string{`"x"`}, `q*****`},
		{"é-secret", []string{"é"}, "*****-secret"},
		{`\195\169`, []string{"é"}, "*****"},
		{"", []string{"x"}, ""},
		{"keep", []string{""}, "keep"},
	}
	for _, tt := range tests {
		if got := MaskSecrets(tt.s, tt.values); got != tt.want {
			t.Errorf("MaskSecrets(%q, %q) = %q, want %q", tt.s, tt.values, got, tt.want)
		}
	}
}

// FuzzMaskSecrets: the shortcut for values absent from s changes nothing.
func FuzzMaskSecrets(f *testing.F) {
	f.Add("push/tok3n", "tok3n", "other")
	f.Add(`a"x\"y"b`, `x"y`, "y")
	f.Add("\x00\xff", "\xff", "\x00")
	f.Fuzz(func(t *testing.T, s, v1, v2 string) {
		values := []string{v1, v2}
		if len(v2) > len(v1) {
			values = []string{v2, v1}
		}
		got := MaskSecrets(s, values)
		if want := maskSecretsRef(s, values); got != want {
			t.Fatalf("MaskSecrets(%q, %q) = %q, reference %q", s, values, got, want)
		}
	})
}
