package lua

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestBindings(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"got":` + string(b) + `,"q":"` + r.URL.Query().Get("q") + `"}`))
	}))
	defer srv.Close()
	e := testEngine(t, Options{})
	r := run(t, e, KindWebhook, `
local r = subprocess.run({"sh", "-c", "cat; echo err >&2; exit 3"}, {input = "hi", timeout = 5})
assert(r.returncode == 3 and r.stdout == "hi" and r.stderr == "err\n" and r.truncated == false, r.stdout)
local resp = requests.post(payload.url, {json = {a = 1}, params = {q = "x"}, timeout = 5})
assert(resp.status_code == 200 and resp.ok and resp.headers["content-type"] == "application/json")
local j = resp:json()
assert(j.got.a == 1 and j.q == "x")
result.message = "ok"`, func(c *Call) { c.Payload = `{"url":"` + srv.URL + `/x"}` })
	if r.Err != nil || r.Message != "ok" {
		t.Fatalf("%+v", r)
	}
}
