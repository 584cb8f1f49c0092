package lua

import (
	"context"
	"slices"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

func TestPayloadKeys(t *testing.T) {
	for _, tc := range []struct {
		code string
		keys []string // nil: not projected
	}{
		{`result = {message = payload.ref}`, []string{"ref"}},
		{`local r = payload.repository.full_name .. payload["pusher"].name; result.message = r .. payload.ref`, []string{"pusher", "ref", "repository"}},
		{`if payload.a then payload.b = 1 end; function payload.c() end`, []string{"a", "b", "c"}},
		{`result.message = "no payload here"`, []string{}},
		{`result.message = json.dumps(payload)`, nil},
		{`for k, v in pairs(payload) do end`, nil},
		{`local k = "a"; local v = payload[k]`, nil},
		{`local v = payload[1]`, nil},
		{`local p = payload; result.message = p.a`, nil},
		{`payload = {}`, nil},
		{`local payload = {a = 1}; result.message = payload.a`, nil},
		{`local function f(payload) return payload.x end`, nil},
		{`for payload = 1, 2 do end`, nil},
		{`for _, payload in ipairs({}) do end`, nil},
		{`local n = #payload`, nil},
		{`payload:method()`, nil},
		{`local t = {payload}`, nil},
		{`result.message = _G["pay" .. "load"].a`, nil},
		{`local g = _G; result.message = payload.a`, nil},
		{`local f = function() return payload.a end; result.message = f()`, []string{"a"}},
	} {
		s, err := Compile("t", tc.code)
		if err != nil {
			t.Fatalf("%s: %v", tc.code, err)
		}
		if tc.keys == nil {
			if s.projected {
				t.Errorf("%s: projected to %q, want the whole payload", tc.code, s.payloadKeys)
			}
			continue
		}
		if !s.projected || !slices.Equal(s.payloadKeys, tc.keys) && !(len(s.payloadKeys) == 0 && len(tc.keys) == 0) {
			t.Errorf("%s: keys %q (projected %v), want %q", tc.code, s.payloadKeys, s.projected, tc.keys)
		}
	}
}

// Projected and whole decoding agree on the members the code reads, and on
// what is not JSON.
func TestProjectedPayloadMatchesWhole(t *testing.T) {
	e := testEngine(t, Options{})
	code := `result = {exit_code = 0, message = json.dumps({payload.a, payload.b, payload["c d"], payload.missing})}`
	projected, err := Compile("p", code)
	if err != nil || !projected.projected {
		t.Fatalf("not projected: %v", err)
	}
	whole, err := Compile("w", code+"\nlocal _ = payload")
	if err != nil || whole.projected {
		t.Fatalf("projected: %v", err)
	}
	for _, body := range []string{
		`{"a":1,"b":[1,{"x":"y"}],"skip":{"deep":[1,2,{"z":null}]},"c d":"é","n":-0.5e3}`,
		`{"skip":1,"a":"first","a":"second"}`,
		`{"a":1,"skip":[1,2,}`, `{"a":1,"skip":tru}`, `{"a":1,"skip":"\x"}`, `{"a":1} extra`, `{"a":1,"skip":01}`,
		`[1,2]`, `"s"`, ``, `{}`, `  {"b" : true , "skip" : "\u00e9\ud83d\ude00" }  `,
		`{"a":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}`,
		`{"skip":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `,"a":1}`,
	} {
		var got [2]string
		for i, s := range []*Script{projected, whole} {
			r := e.Run(context.Background(), &Call{Kind: KindWebhook, Script: s, Payload: body})
			if r.Err != nil {
				t.Fatalf("%q: %v", body, r.Err)
			}
			got[i] = r.Message
		}
		if got[0] != got[1] {
			t.Errorf("%q: projected %s, whole %s", body, got[0], got[1])
		}
	}
}

func FuzzPayloadProjection(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":{"c":[1,2]},"z":"x"}`, `{"a":[`, `{"z":{"a":1},"a":2}`, `[1]`, `{"a":"\ud800"}`} {
		f.Add([]byte(s))
	}
	e := NewEngine(Options{PoolSize: 1})
	defer e.Close()
	st := e.newState()
	defer st.L.Close()
	keys := []string{"a", "b"}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, werr := st.decodeJSONString(string(in))
		part, perr := st.decodeJSONProjected(string(in), keys)
		if (werr == nil) != (perr == nil) {
			t.Fatalf("%q: whole err %v, projected err %v", in, werr, perr)
		}
		if werr != nil {
			return
		}
		wt, ok := whole.(*glua.LTable)
		if !ok || !strings.HasPrefix(strings.TrimLeft(string(in), " \t\r\n"), "{") {
			a, _ := st.encodeJSON(whole, "")
			b, _ := st.encodeJSON(part, "")
			if string(a) != string(b) {
				t.Fatalf("%q: whole %s, projected %s", in, a, b)
			}
			return
		}
		pt := part.(*glua.LTable)
		for _, k := range keys {
			a, _ := st.encodeJSON(wt.RawGetString(k), "")
			b, _ := st.encodeJSON(pt.RawGetString(k), "")
			if string(a) != string(b) {
				t.Fatalf("%q: member %s whole %s, projected %s", in, k, a, b)
			}
		}
		pt.ForEach(func(k, _ glua.LValue) {
			if s, ok := k.(glua.LString); !ok || !slices.Contains(keys, string(s)) {
				t.Fatalf("%q: projected table has member %v", in, k)
			}
		})
	})
}
