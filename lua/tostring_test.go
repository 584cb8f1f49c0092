package lua

import "testing"

// TestToString: tostring answers as Lua's for every kind of value.
func TestToString(t *testing.T) {
	e := testEngine(t, Options{PoolSize: 1})
	tests := []struct{ code, want string }{
		{`return tostring("abc")`, "abc"},
		{`return tostring("")`, ""},
		{`return tostring(12)`, "12"},
		{`return tostring(1.5)`, "1.5"},
		{`return tostring(nil)`, "nil"},
		{`return tostring(true)`, "true"},
		{`return tostring(json.null)`, "null"},
		{`return tostring(setmetatable({}, {__tostring = function() return "T" end}))`, "T"},
		{`local ok, err = pcall(tostring); return tostring(ok) .. " " .. tostring(err ~= nil)`, "false true"},
		{`return type(tostring(payload.s)) .. tostring(payload.s == tostring(payload.s))`, "stringtrue"},
	}
	for _, tt := range tests {
		code := "local function f() " + tt.code + " end\nresult = {exit_code = 0, message = f()}"
		r := run(t, e, KindWebhook, code, func(c *Call) { c.Payload = `{"s":"x"}` })
		if r.Err != nil || r.Message != tt.want {
			t.Errorf("%s: %q %v, want %q", tt.code, r.Message, r.Err, tt.want)
		}
	}
}
