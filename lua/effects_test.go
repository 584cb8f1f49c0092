package lua

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeEffects records what the code asked for and answers canned results.
type fakeEffects struct {
	http []HTTPSpec
	proc []ProcSpec
}

func (f *fakeEffects) HTTP(_ context.Context, spec HTTPSpec) (HTTPResponse, error) {
	f.http = append(f.http, spec)
	if spec.URL == "https://down.example.com/" {
		return HTTPResponse{}, errors.New("no mock for GET https://down.example.com/")
	}
	return HTTPResponse{StatusCode: 201, Text: `{"ok":true}`, Headers: map[string]string{"X-A": "b"}}, nil
}

func (f *fakeEffects) Run(_ context.Context, spec ProcSpec) (ProcResult, error) {
	f.proc = append(f.proc, spec)
	return ProcResult{ReturnCode: 3, Stdout: "out", Stderr: "err"}, nil
}

func TestEffectsReplaceRequestsAndSubprocess(t *testing.T) {
	e := testEngine(t, Options{})
	eff := &fakeEffects{}
	code := `
local r = requests.post("https://chat.example.com/hook", {json = {text = "hi"}, headers = {A = "1"}})
local p = subprocess.run({"/bin/definitely-not-run", "x"}, {input = "in"})
local ok, err = pcall(requests.get, "https://down.example.com/")
result = {exit_code = 0, message = r.status_code .. " " .. tostring(r:json().ok) .. " " .. r.headers["x-a"] ..
  " " .. p.returncode .. p.stdout .. p.stderr .. " " .. tostring(ok) .. " " .. tostring(err)}`
	c := &Call{Kind: KindWebhook, Script: mustCompile(t, code), Reference: "ref", Timeout: 5 * time.Second}
	res := e.Run(WithEffects(context.Background(), eff), c)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := "201 true b 3outerr false <lua>:4: no mock for GET https://down.example.com/"
	if res.Message != want {
		t.Errorf("message = %q, want %q", res.Message, want)
	}
	if len(eff.http) != 2 || eff.http[0].Method != "POST" || string(eff.http[0].JSON) != `{"text":"hi"}` || eff.http[0].Headers["A"] != "1" {
		t.Errorf("http specs = %+v", eff.http)
	}
	if len(eff.proc) != 1 || eff.proc[0].Argv[0] != "/bin/definitely-not-run" || string(eff.proc[0].Input) != "in" {
		t.Errorf("proc specs = %+v", eff.proc)
	}
}

func TestClockFixesTime(t *testing.T) {
	e := testEngine(t, Options{})
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	code := `result = {exit_code = 0, message = string.format("%d %s", time.time(), time.strftime("%Y-%m-%dT%H:%M:%SZ"))}`
	for _, kind := range []Kind{KindWebhook, KindAuthenticator} {
		c := &Call{Kind: kind, Script: mustCompile(t, code), Reference: "ref", Timeout: 5 * time.Second}
		res := e.Run(WithClock(context.Background(), now), c)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if want := "1772366400 2026-03-01T12:00:00Z"; res.Message != want {
			t.Errorf("%s: message = %q, want %q", kind, res.Message, want)
		}
	}
}
