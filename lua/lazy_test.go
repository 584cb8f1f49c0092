package lua

import (
	"context"
	"net/http"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

func TestLayoutMatches(t *testing.T) {
	// A gopher-lua upgrade that changes LTable must update tableLayout
	// (until then the engine silently uses the slower public API).
	if !layoutMatches() {
		t.Fatal("tableLayout no longer mirrors gopher-lua's LTable")
	}
}

// TestLazyVariables: the per-call variables behave as if they were set
// before the code ran, although they are built on first access.
func TestLazyVariables(t *testing.T) {
	body := `{"a":1,"s":"x\u00e9","arr":[1,"2",{"k":[]}],"o":{}}`
	hdr := http.Header{"X-Hub-Signature-256": {"sig"}, "X-Multi": {"a", "b"}, "x-raw": {"r"}}
	for _, fast := range []bool{true, false} {
		e := testEngine(t, Options{PoolSize: 1})
		e.fastTables = fast
		for _, tc := range []struct {
			name string
			kind Kind
			code string
			want string // expected Err text ("" = success); or check result below
			mod  func(*Call)
			chk  func(*Result) bool
		}{
			{"payload nil before read", KindWebhook, `payload = nil; assert(payload == nil)`, "", nil, nil},
			{"payload nil after read", KindWebhook, `local p = payload; assert(p.a == 1); payload = nil; assert(payload == nil)`, "", nil, nil},
			{"payload replaced", KindWebhook, `payload = 5; assert(payload == 5)`, "", nil, nil},
			{"payload shares raw_data", KindWebhook, `assert(payload.s == "x\195\169" and raw_data:sub(1, 6) == '{"a":1' and #payload.arr == 3 and payload.arr[3].k ~= nil)
				assert(json.dumps(payload) == '{"a":1,"arr":[1,"2",{"k":[]}],"o":{},"s":"x\195\169"}')`, "", nil, nil},
			{"payload separate bytes", KindWebhook, `assert(payload.a == 1 and raw_data == "other")`, "", func(c *Call) { c.RawData = "other" }, nil},
			{"pairs payload", KindWebhook, `local n = 0 for k, v in pairs(payload) do n = n + 1 end assert(n == 4)
				local m = 0 for i, v in ipairs(payload.arr) do m = m + 1 end assert(m == 3)`, "", nil, nil},
			{"payload grows", KindWebhook, `payload.new = 1; payload.arr[4] = 4; assert(payload.new == 1 and #payload.arr == 4)
				payload.a = nil; local n = 0 for k in pairs(payload) do n = n + 1 end assert(n == 4)`, "", nil, nil},
			{"auth result nil", KindAuthenticator, `result = nil`, "result is not a dict", nil, nil},
			{"webhook result nil", KindWebhook, `result = nil`, "result is not a dict", nil, nil},
			{"result field", KindAuthenticator, `result.allowed = true`, "", nil, func(r *Result) bool { return r.Allowed }},
			{"result replaced", KindWebhook, `result = {exit_code = 2}`, "", nil, func(r *Result) bool { return r.ExitCode == 2 }},
			{"result untouched", KindWebhook, ``, "", nil, func(r *Result) bool { return r.HasExitCode && r.ExitCode == 0 }},
			{"_G", KindWebhook, `assert(_G._G == _G and _G.payload.a == 1 and _G.string == string); _G.x = 1; assert(x == 1)`, "", nil, nil},
			{"_G replaced", KindWebhook, `_G = nil; assert(_G == nil and string ~= nil)`, "", nil, nil},
			{"info by kind", KindAuthenticator, `assert(webhook == nil and authenticator.reference == "ref")`, "", nil, nil},
			{"headers lookup", KindWebhook, `assert(headers["x-hub-signature-256"] == "sig" and headers["X-MULTI"] == "a, b" and headers["X-Raw"] == "r" and headers.nope == nil and headers[1] == nil)`, "", nil, nil},
			{"headers pairs", KindWebhook, `local n = 0 for k, v in pairs(headers) do n = n + 1; assert(headers[k] == v) end assert(n == 3)
				assert(next(headers) ~= nil); local s = json.dumps(headers); assert(s:find('"X-Multi":"a, b"', 1, true) and s:find('"X-Raw":"r"', 1, true), s)`, "", nil, nil},
			{"headers read-only", KindWebhook, `headers.x = 1`, "read-only", nil, nil},
			{"headers rawset", KindWebhook, `rawset(headers, "x", 1)`, "read-only", nil, nil},
			{"headers metatable", KindWebhook, `assert(getmetatable(headers) == false); setmetatable(headers, nil)`, "protected", nil, nil},
			{"auth never decodes", KindAuthenticator, `result.allowed = raw_data == "{not json"`, "", func(c *Call) { c.Payload = "{not json"; c.RawData = c.Payload }, func(r *Result) bool { return r.Allowed }},
			{"main chunk arg", KindWebhook, `assert(arg == nil); local function f(...) return arg.n end; assert(f(1, 2) == 2)`, "", nil, nil},
			{"global nil key", KindWebhook, `_G[nil] = 1`, "index is nil", nil, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := run(t, e, tc.kind, tc.code, func(c *Call) {
					c.Payload, c.RawData, c.Headers = body, body, hdr
					if tc.mod != nil {
						tc.mod(c)
					}
				})
				if tc.want == "" && r.Err != nil || tc.want != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), tc.want)) {
					t.Fatalf("fast=%v: err %v, want %q", fast, r.Err, tc.want)
				}
				if tc.chk != nil && !tc.chk(r) {
					t.Fatalf("fast=%v: %+v", fast, r)
				}
			})
		}
	}
}

// TestEnvReuse: the emptied environment that the next call gets shows
// nothing of the previous call, and is dropped when it held odd keys.
func TestEnvReuse(t *testing.T) {
	e := testEngine(t, Options{PoolSize: 1})
	check := `
local n = 0
for k in pairs(_G) do assert(k == "_G", "leaked key " .. tostring(k)); n = n + 1 end
assert(n == 1 and a == nil and z == nil and g39 == nil and result.x == nil and rawget(_G, 1) == nil)
assert(getmetatable(_G) == false and string.rep("a", 2) == "aa")`
	for _, tc := range []struct {
		name   string
		code   string
		reused bool
	}{
		{"plain", `a = 1; z = {}; result.x = 1; rawset(_G, "r", 1); local t = _G; t.q = 2`, true},
		{"set to nil", `a = 1; a = nil; payload = nil`, true},
		{"array key", `_G[1] = "x"`, false},
		{"bool key", `_G[true] = "x"`, false},
		{"many names", `for i = 1, 40 do _G["g" .. i] = i end`, false},
		{"error", `a = 1; error("boom")`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(t, e, KindWebhook, tc.code, nil)
			st := <-e.pool
			got := st.env != nil
			e.pool <- st
			if got != tc.reused {
				t.Errorf("reused=%v want %v", got, tc.reused)
			}
			for _, kind := range []Kind{KindWebhook, KindAuthenticator} {
				if r := run(t, e, kind, check, nil); r.Err != nil {
					t.Fatalf("after %q (kind %v): %v", tc.code, kind, r.Err)
				}
			}
		})
	}
	// Concurrent callers on a small pool never see each other's globals.
	s := mustCompile(t, `assert(mine == nil, "leak"); mine = payload.n; result.message = tostring(mine)`)
	done := make(chan string, 4)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := 0; i < 100; i++ {
				r := e.Run(context.Background(), &Call{Script: s, Payload: `{"n":` + string(rune('0'+g)) + `}`})
				if r.Err != nil || r.Message != string(rune('0'+g)) {
					done <- r.Message + " " + errText(r.Err)
					return
				}
			}
			done <- ""
		}(g)
	}
	for g := 0; g < 4; g++ {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestStringSlab: slab-boxed strings behave exactly like converted ones.
func TestStringSlab(t *testing.T) {
	tab := lstringTab()
	if tab == nil {
		t.Fatal("LValue layout probe failed")
	}
	in := []string{"a", "", "payload", strings.Repeat("x", 100), "a"}
	var sl stringSlab
	sl.tab = tab
	sl.reset(len(in) - 1) // the last one overflows to plain boxing
	m := map[glua.LValue]int{}
	for i, s := range in {
		v := sl.box(s)
		if v != glua.LValue(glua.LString(s)) || v.String() != s || v.Type() != glua.LTString {
			t.Fatalf("%q: got %#v", s, v)
		}
		if ls, ok := v.(glua.LString); !ok || string(ls) != s {
			t.Fatalf("%q: type switch", s)
		}
		m[v] = i
	}
	if len(m) != 4 || m[glua.LString("a")] != 4 {
		t.Fatalf("map keys: %v", m)
	}
}

// TestHMACReuse: the per-state HMAC reuse never mixes objects or state.
func TestHMACReuse(t *testing.T) {
	e := testEngine(t, Options{PoolSize: 1})
	const gh = `assert(hmac.new("It's a Secret to Everybody", "Hello, World!", "sha256"):hexdigest() == "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")`
	for _, code := range []string{
		gh,
		`local a = hmac.new("It's a Secret to Everybody", "Hello", "sha256"); a:update(", junk")`, // leaves the cached object dirty
		gh,
		`local a = hmac.new("It's a Secret to Everybody", "Hello, World!", "sha256")
		 local b = hmac.new("It's a Secret to Everybody", "other", "sha256")
		 assert(a:hexdigest() ~= b:hexdigest())
		 assert(a:hexdigest() == "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
		 b:update("x"); assert(a:hexdigest() == "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")`,
		`assert(hmac.new("other key", "Hello, World!", "sha256"):hexdigest() ~= "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")`,
		`assert(hmac.new("It's a Secret to Everybody", "Hello, World!", "sha1"):hexdigest() ~= "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")`,
		gh,
	} {
		if r := run(t, e, KindAuthenticator, code, nil); r.Err != nil {
			t.Fatalf("%s: %v", code, r.Err)
		}
	}
}
