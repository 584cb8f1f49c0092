package lua

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func testEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := NewEngine(opts)
	t.Cleanup(e.Close)
	return e
}

func mustCompile(t testing.TB, code string) *Script {
	t.Helper()
	s, err := Compile("test", code)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return s
}

func run(t testing.TB, e *Engine, kind Kind, code string, mod func(*Call)) *Result {
	t.Helper()
	c := &Call{Kind: kind, Script: mustCompile(t, code), Reference: "ref", Name: "Name", Timeout: 5 * time.Second}
	if mod != nil {
		mod(c)
	}
	return e.Run(context.Background(), c)
}

func TestCompileError(t *testing.T) {
	for _, tc := range []struct {
		code string
		line int
		want string
	}{
		{"local x = 1\nif x then\n  y = = 2\nend", 3, "line 3:"},
		{"local x = 1\nif x then\n", 3, "line 3:"},
		{"x = 'unterminated\n", 1, "line"},
	} {
		_, err := Compile("r", tc.code)
		ce, ok := err.(*CompileError)
		if !ok {
			t.Fatalf("%q: want *CompileError, got %T %v", tc.code, err, err)
		}
		if !strings.Contains(ce.Msg, tc.want) || strings.Contains(ce.Msg, "<lua>") {
			t.Errorf("%q: msg %q", tc.code, ce.Msg)
		}
		if tc.line != 0 && ce.Line != tc.line && !strings.Contains(tc.code, "unterminated") {
			t.Errorf("%q: line %d want %d", tc.code, ce.Line, tc.line)
		}
	}
}

func TestResultProtocol(t *testing.T) {
	e := testEngine(t, Options{})
	for _, tc := range []struct {
		name  string
		kind  Kind
		code  string
		check func(*Result) string
	}{
		{"webhook default", KindWebhook, "", func(r *Result) string {
			if r.Err != nil || !r.HasExitCode || r.ExitCode != 0 || r.HasMessage {
				return "bad default"
			}
			return ""
		}},
		{"auth default", KindAuthenticator, "", func(r *Result) string {
			if r.Err != nil || r.Allowed {
				return "bad default"
			}
			return ""
		}},
		{"auth truthy", KindAuthenticator, "result = {allowed = 'yes', http_code = 401, message = 'm'}", func(r *Result) string {
			if !r.Allowed || r.HTTPCode != 401 || r.Message != "m" {
				return "bad"
			}
			return ""
		}},
		{"not a dict", KindWebhook, "result = 5", func(r *Result) string {
			if r.Err == nil || r.Err.Error() != "result is not a dict" {
				return "want result is not a dict"
			}
			return ""
		}},
		{"nil result", KindAuthenticator, "result = nil", func(r *Result) string {
			if r.Err == nil || r.Err.Error() != "result is not a dict" {
				return "want result is not a dict"
			}
			return ""
		}},
		{"fields", KindWebhook, `result = {exit_code = 3, message = {a = 1, b = {1, 2}}, http_code = 999, headers = {["X-A"] = "1", n = 2, bad = {}}, body = "raw", content_type = "text/plain"}`, func(r *Result) string {
			if r.ExitCode != 3 || !r.HasExitCode || r.Message != `{"a":1,"b":[1,2]}` || !r.MessageJSON || r.HTTPCode != 0 ||
				r.Headers["X-A"] != "1" || r.Headers["n"] != "2" || len(r.Headers) != 2 || r.Body == nil || *r.Body != "raw" || r.ContentType != "text/plain" {
				return "bad fields"
			}
			return ""
		}},
		{"missing exit code", KindWebhook, `result = {message = 12}`, func(r *Result) string {
			if r.HasExitCode || r.Message != "12" || !r.MessageJSON {
				return "bad"
			}
			return ""
		}},
		{"runtime error line", KindWebhook, "local a = 1\n\nlocal b = nil\nb()", func(r *Result) string {
			if r.Err == nil || !strings.HasPrefix(r.Err.Error(), "line 4:") || strings.Contains(r.Err.Error(), "<lua>") {
				return "bad error"
			}
			return ""
		}},
		{"error()", KindWebhook, "error('boom')", func(r *Result) string {
			if r.Err == nil || r.Err.Error() != "line 1: boom" {
				return "bad error"
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, e, tc.kind, tc.code, nil)
			if msg := tc.check(r); msg != "" {
				t.Errorf("%s: %+v", msg, r)
			}
		})
	}
}

func TestVariables(t *testing.T) {
	e := testEngine(t, Options{})
	code := `
assert(payload.a == 1 and payload.big == 2^53 and payload.s == "x")
assert(payload.n == json.null and payload.arr[2] == 2)
assert(headers["X-Hub-Signature-256"] == "sig")
assert(headers["x-hub-signature-256"] == "sig")
assert(headers["X-MULTI"] == "a, b")
assert(headers.missing == nil)
assert(raw_data == "RAW")
assert(request.method == "POST" and request.path == "/p" and request.endpoint == "e" and request.query == "q=1" and request.remote_addr == "1.2.3.4" and request.id == "rid")
assert(webhook.reference == "ref" and webhook.name == "Name" and webhook.endpoint == "ep")
assert(authenticator == nil)
result.message = json.dumps(payload)
`
	r := run(t, e, KindWebhook, code, func(c *Call) {
		c.Payload = `{"a":1,"big":9007199254740992,"s":"x","n":null,"arr":[1,2,[]]}`
		c.Headers = http.Header{"X-Hub-Signature-256": {"sig"}, "X-Multi": {"a", "b"}}
		c.RawData = "RAW"
		c.Request = Request{Method: "POST", Path: "/p", Endpoint: "e", Query: "q=1", RemoteAddr: "1.2.3.4", ID: "rid"}
		c.Info = map[string]string{"endpoint": "ep"}
	})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if want := `{"a":1,"arr":[1,2,[]],"big":9007199254740992,"n":null,"s":"x"}`; r.Message != want {
		t.Errorf("got %s want %s", r.Message, want)
	}
	for _, p := range []string{"", "not json", "[1,2]", "5"} {
		r := run(t, e, KindAuthenticator, `assert(type(payload) == "table" or type(payload) == "number"); assert(authenticator.reference == "ref"); result.allowed = true`, func(c *Call) { c.Payload = p })
		if r.Err != nil || !r.Allowed {
			t.Errorf("payload %q: %+v", p, r)
		}
	}
	r = run(t, e, KindWebhook, `result.message = payload.k`, func(c *Call) { c.PayloadForm = map[string]string{"k": "v"} })
	if r.Message != "v" {
		t.Errorf("form: %+v", r)
	}
}

func TestSecretMasking(t *testing.T) {
	e := testEngine(t, Options{Secrets: []string{"s3cr3t", ""}})
	r := run(t, e, KindWebhook, `log.info("key is s3cr3t"); result = {message = "m s3cr3t", body = "b s3cr3t", headers = {X = "s3cr3t"}}`, nil)
	if r.Message != "m *****" || *r.Body != "b *****" || r.Headers["X"] != "*****" || r.LogLines[0] != "INFO: key is *****" {
		t.Errorf("%+v", r)
	}
	r = run(t, e, KindWebhook, `error("bad s3cr3t")`, nil)
	if r.Err == nil || strings.Contains(r.Err.Error(), "s3cr3t") {
		t.Errorf("%v", r.Err)
	}
}

func TestIsolation(t *testing.T) {
	e := testEngine(t, Options{PoolSize: 1})
	attacks := []string{
		`x_global = 1`,
		`result.seen = 1`,
		`pcall(function() string.rep = nil end)`,
		`pcall(function() json.dumps = function() return "pwned" end end)`,
		`pcall(rawset, string, "rep", function() return "pwned" end)`,
		`pcall(rawset, json, "dumps", function() return "pwned" end)`,
		`pcall(setmetatable, string, {})`,
		`pcall(setmetatable, json, {__index = function() return function() return "pwned" end end})`,
		`pcall(function() getmetatable("").__index.rep = nil end)`,
		`pcall(function() local mt = getmetatable(_G); mt.__index.string = nil end)`,
		`pcall(table.insert, string, "x")`,
		`pcall(table.remove, math)`,
		`pcall(setmetatable, 1, {__index = function() return "pwned" end})`,
		`pcall(function() _G.string = {rep = function() return "pwned" end} end)`,
		`pcall(function() local mt = getmetatable(json.null); mt.__tostring = nil end)`,
		`pcall(function() headers.x = 1; getmetatable(headers).__index = nil end)`,
		`pcall(function() math.floor = nil end)`,
		`pcall(function() table.concat = nil end)`,
	}
	check := `
assert(x_global == nil, "global leaked")
assert(result.seen == nil, "result leaked")
assert(string.rep("a", 3) == "aaa", "string.rep")
assert(("a"):rep(2) == "aa", "string method")
assert(json.dumps({1}) == "[1]", "json.dumps")
assert(rawget(string, "rep") == nil and rawget(json, "dumps") == nil, "proxy raw")
assert(getmetatable("") == false, "string metatable")
assert(math.floor(1.5) == 1 and table.concat({"a"}) == "a")
assert(tostring(json.null) == "null")
assert(headers["X-Test"] == "v")
local n = 1
assert(getmetatable(n) == nil and (pcall(function() return n.x end)) == false)
`
	for _, a := range attacks {
		r := run(t, e, KindWebhook, a, nil)
		_ = r
		r = run(t, e, KindWebhook, check, func(c *Call) { c.Headers = http.Header{"X-Test": {"v"}} })
		if r.Err != nil {
			t.Errorf("after %q: %v", a, r.Err)
		}
	}
	// Writes to the proxies themselves raise.
	for _, code := range []string{`string.rep = nil`, `json.dumps = 1`, `rawset(string, "x", 1)`, `setmetatable(json, {})`, `table.insert(re, 1)`, `getmetatable("").__index = nil`} {
		r := run(t, e, KindWebhook, code, nil)
		if r.Err == nil {
			t.Errorf("%q: want error", code)
		}
	}
}

func TestSandboxRemoved(t *testing.T) {
	e := testEngine(t, Options{})
	for _, name := range []string{"dofile", "loadfile", "load", "loadstring", "require", "module", "getfenv", "setfenv",
		"newproxy", "collectgarbage", "print", "_printregs", "os", "io", "debug", "package", "channel", "coroutine"} {
		r := run(t, e, KindWebhook, "assert("+name+" == nil, '"+name+"')", nil)
		if r.Err != nil {
			t.Errorf("%s is reachable: %v", name, r.Err)
		}
	}
	r := run(t, e, KindWebhook, `assert(string.dump == nil and math.randomseed == nil and _G.string ~= nil)`, nil)
	if r.Err != nil {
		t.Error(r.Err)
	}
	r = run(t, e, KindAuthenticator, `assert(subprocess == nil and requests == nil)`, nil)
	if r.Err != nil {
		t.Error(r.Err)
	}
	r = run(t, e, KindWebhook, `assert(subprocess ~= nil and requests ~= nil)`, nil)
	if r.Err != nil {
		t.Error(r.Err)
	}
	e2 := testEngine(t, Options{DisableRequests: true, DisableSubprocess: true})
	r = run(t, e2, KindWebhook, `assert(subprocess == nil and requests == nil)`, nil)
	if r.Err != nil {
		t.Error(r.Err)
	}
}

func TestLimits(t *testing.T) {
	e := testEngine(t, Options{})
	for _, tc := range []struct {
		name, code string
		timeout    bool
		want       string
	}{
		{"busy loop", `while true do end`, true, "execution timed out after 200ms"},
		{"pcall loop", `while true do pcall(function() while true do end end) end`, true, "execution timed out"},
		{"rep", `string.rep("x", 1e9)`, false, "too large"},
		{"rep sep", `string.rep("x", 1e7, "yy")`, false, "too large"},
		{"recursion", `local function f() return 1 + f() end f()`, false, "stack overflow"},
		{"pattern", `string.find(string.rep("a", 200000), ".-.-.-.-.-.-b")`, true, "execution timed out"},
		{"gsub pattern", `string.gsub(string.rep("a", 200000), ".-.-.-.-b", "")`, true, "execution timed out"},
		{"big subject", `string.match(string.rep("a", 2^21), "a")`, false, "too long"},
		{"format width", `string.format("%999999999d", 1)`, false, "invalid format"},
		{"concat", `local t = {} for i = 1, 100 do t[i] = string.rep("x", 2^20) end table.concat(t)`, false, "too large"},
		{"unpack", `local t = {} for i = 1, 2^17 do t[i] = i end unpack(t)`, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to := 200 * time.Millisecond
			if !tc.timeout {
				to = 20 * time.Second // must fail on its own, not by the deadline
			}
			r := run(t, e, KindWebhook, tc.code, func(c *Call) { c.Timeout = to })
			if r.Err == nil {
				t.Fatalf("want error")
			}
			if r.TimedOut != tc.timeout || !strings.Contains(r.Err.Error(), tc.want) {
				t.Errorf("timedOut=%v err=%v", r.TimedOut, r.Err)
			}
		})
	}
	// The engine is still healthy.
	r := run(t, e, KindWebhook, `result.message = "ok"`, nil)
	if r.Err != nil || r.Message != "ok" {
		t.Fatalf("%+v", r)
	}
}

func TestCancel(t *testing.T) {
	e := testEngine(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	r := e.Run(ctx, &Call{Script: mustCompile(t, "while true do end")})
	if r.Err == nil || r.TimedOut {
		t.Fatalf("%+v", r)
	}
}

func TestConcurrentAndClose(t *testing.T) {
	e := testEngine(t, Options{PoolSize: 2})
	s := mustCompile(t, `result.message = tostring(payload.n * 2); x = payload.n`)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				r := e.Run(context.Background(), &Call{Script: s, Payload: `{"n": 21}`})
				if r.Err != nil || r.Message != "42" {
					t.Errorf("%+v", r)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	e.Close()
	r := e.Run(context.Background(), &Call{Script: s, Payload: `{"n": 1}`})
	if r.Err != nil || r.Message != "2" {
		t.Fatalf("after close: %+v", r)
	}
}
