package lua

import (
	"strings"
	"testing"
)

// TestSecretMaskingForms: secrets are masked in the forms the runtime
// writes them, not only as is.
func TestSecretMaskingForms(t *testing.T) {
	const quoted = `p"w<d&é\z`
	const hookURL = "http://user:pa55@127.0.0.1:1/hook/xyzSECRET?token=t0k3n"
	e := testEngine(t, Options{Secrets: []string{quoted, hookURL}})
	tests := []struct {
		name, code string
		leaks      []string
	}{
		{"table message", `result = {exit_code = 0, message = {k = "` + luaEscape(quoted) + `"}}`,
			[]string{`p\"w`, `w\u003cd`, `w<d`, `\\z`}},
		{"json.dumps in a message", `result = {exit_code = 0, message = json.dumps({k = "` + luaEscape(quoted) + `"})}`,
			[]string{`p\"w`, `w<d`, `\\z`}},
		{"json.dumps inside a table message (encoded twice)", `result = {exit_code = 0, message = {y = json.dumps("` + luaEscape(quoted) + `")}}`,
			[]string{`p\\\"w`, `w<d`, `w\u003cd`}},
		{"URL-quoted", `result = {exit_code = 0, message = urllib_parse.quote("` + luaEscape(quoted) + `") .. " " .. urllib_parse.quote_plus("` + luaEscape(quoted) + `")}`,
			[]string{"p%22w", "%3Cd"}},
		{"requests error quoting the URL", `requests.post("` + hookURL + `", {json = {a = 1}, timeout = 2})`,
			[]string{"xyzSECRET", "pa55", "t0k3n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, e, KindWebhook, tt.code, nil)
			text := r.Message
			if r.Err != nil {
				text += " " + r.Err.Error()
			}
			if !strings.Contains(text, "*****") {
				t.Errorf("nothing masked: %q", text)
			}
			for _, l := range tt.leaks {
				if strings.Contains(text, l) {
					t.Errorf("%q leaks %q", text, l)
				}
			}
		})
	}
}

// luaEscape writes s as the inside of a double-quoted Lua string.
func luaEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}
