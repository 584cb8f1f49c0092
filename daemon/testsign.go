package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"towerhook/definitions"
	"towerhook/lua"
)

// A test's sign code (docs/testing.md "Test your definitions") runs as authenticator
// code (the helper modules, no requests or subprocess) on an engine of its
// own that masks nothing, so a signature that contains a secret reaches the
// request intact. It sees body (the exact bytes sent), headers (a writable
// table, case-insensitive lookup) and secrets. The prelude and the epilogue
// wrap it in a function, so that a return inside it works; the prelude sits
// on the code's first line, so Lua line numbers stay those of the file.
const (
	signPrelude = `local body, secrets, headers = raw_data, payload, (function() ` +
		`local h = setmetatable({}, {__index = function(t, k) if type(k) ~= "string" then return nil end ` +
		`for name, v in pairs(t) do if string.lower(name) == string.lower(k) then return v end end end}) ` +
		`for k, v in pairs(headers) do h[k] = v end return h end)() local function __towerhook_sign() `
	signEpilogue = "\nend __towerhook_sign() result = {allowed = true, message = headers}"
)

// luaLineRe finds the Lua line in an engine error text ("line 3: ...").
var luaLineRe = regexp.MustCompile(`^line (\d+):`)

// signer compiles (once per distinct code) and runs sign code.
type signer struct {
	engine *lua.Engine
	mu     sync.Mutex
	cache  map[string]*lua.Script
}

func newSigner(logger *slog.Logger) *signer {
	return &signer{
		engine: lua.NewEngine(lua.Options{Logger: logger, DisableRequests: true, DisableSubprocess: true}),
		cache:  map[string]*lua.Script{},
	}
}

func (s *signer) close() { s.engine.Close() }

// script returns the compiled sign code of t.
func (s *signer) script(code string) (*lua.Script, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.cache[code]; ok {
		return sc, nil
	}
	sc, err := lua.Compile("sign", signPrelude+code+signEpilogue)
	if err == nil {
		s.cache[code] = sc
	}
	return sc, err
}

// run runs t's sign code and returns the request headers it left. mask are
// secret values masked in its error texts.
func (s *signer) run(ctx context.Context, t *definitions.Test, body []byte, header http.Header,
	secrets map[string]string, timeout time.Duration, mask []string) (http.Header, *testFailure) {
	fail := func(text string) *testFailure {
		line := 1
		if m := luaLineRe.FindStringSubmatch(text); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		return &testFailure{line: t.Request.SignFileLine(line), msg: "request.sign: " + definitions.SecretMasker(mask).Mask(text)}
	}
	sc, err := s.script(t.Request.Sign)
	if err != nil {
		return nil, fail(err.Error())
	}
	if !t.Now.IsZero() {
		ctx = lua.WithClock(ctx, t.Now)
	}
	res := s.engine.Run(ctx, &lua.Call{
		Kind: lua.KindAuthenticator, Script: sc, Reference: "sign", Name: t.Name,
		PayloadForm: secrets, Headers: header, RawData: string(body), Timeout: timeout,
	})
	if res.Err != nil {
		return nil, fail(res.Err.Error())
	}
	h, f := signedHeaders(res.Message)
	if f != nil {
		f.line = t.Request.SignFileLine(1)
	}
	return h, f
}

// signedHeaders decodes the headers table the sign code left (JSON text).
func signedHeaders(text string) (http.Header, *testFailure) {
	out := http.Header{}
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		var empty []any
		if json.Unmarshal([]byte(text), &empty) == nil && len(empty) == 0 {
			return out, nil
		}
		return nil, &testFailure{msg: "request.sign: headers must be a table of strings"}
	}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out.Set(k, x)
		case float64:
			out.Set(k, strconv.FormatFloat(x, 'f', -1, 64))
		case bool:
			out.Set(k, strconv.FormatBool(x))
		default:
			return nil, &testFailure{msg: fmt.Sprintf("request.sign: header %q must be a string", k)}
		}
	}
	return out, nil
}
