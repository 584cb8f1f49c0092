package definitions

import "towerhook/internal/secrets"

// SecretMasker returns the masker of texts about definitions (Lua syntax
// errors, the endpoint a call record keeps): it replaces every secret
// value, as is, as the Lua literal that code holds after substitution
// (LuaString) and as that literal's contents, by "*****". Nil when values
// holds no secret.
func SecretMasker(values []string) *secrets.Masker {
	forms := make([]string, 0, 3*len(values))
	for _, v := range values {
		if v == "" {
			continue
		}
		lit := LuaString(v)
		forms = append(forms, v, lit, lit[1:len(lit)-1])
	}
	return secrets.NewMasker(forms)
}
