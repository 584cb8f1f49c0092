package definitions

import "testing"

// TestSecretMasker: a secret is masked as is, as the Lua literal that code
// holds after substitution, and as that literal's contents (a syntax error
// quotes a token of the code).
func TestSecretMasker(t *testing.T) {
	const quoted = "pa\"ss\nwörd"
	tests := []struct {
		name, in, want string
	}{
		{"as is", "x " + quoted + " y", "x ***** y"},
		{"literal", "near '" + LuaString(quoted) + "'", "near '*****'"},
		{"literal contents", "near 'pa\\034ss\\010w\\195\\182rd", "near '*****"},
		{"plain secret literal", `near '"plain-secret"'`, "near '*****'"},
		{"no secret", "unexpected symbol", "unexpected symbol"},
	}
	m := SecretMasker([]string{quoted, "", "plain-secret"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.Mask(tt.in); got != tt.want {
				t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if SecretMasker([]string{""}) != nil {
		t.Error("a masker without secrets")
	}
	if got := LuaErrorText("near '\"plain-secret\"'", 3, []string{"plain-secret"}); got != "lua syntax error: near '*****' (lua line 3)" {
		t.Errorf("LuaErrorText = %q", got)
	}
}
