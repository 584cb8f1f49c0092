package daemon

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestSecretSplitByOutputCaps: a subprocess's stdout (1 MiB) and a
// requests response body (10 MiB) are cut before masking; a secret the
// cut splits must not reach the answer, the call record or the daemon log
// in part (README "Secrets"). The secret starts 1 to 21 bytes before the
// cap; the code passes the end of the kept text on everywhere.
func TestSecretSplitByOutputCaps(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		off, _ := strconv.Atoi(r.URL.Query().Get("off"))
		w.Write([]byte(strings.Repeat("x", off) + maskSecret + "tail"))
	}))
	t.Cleanup(srv.Close)
	const long = `#!cxtower.secret.long!#`
	const pass = `local t = text:sub(-40)
_logger.info(t)
result = {exit_code = 0, message = {t = t}, headers = {["X-T"] = t}}`
	hooks := hook("proc", "proc", "open", "", `local r = subprocess.run({"sh", "-c", "head -c $1 /dev/zero | tr '\\0' x; printf %s \"$2\"", "sh", tostring(payload.off), `+long+`})
local text = r.stdout
`+pass) +
		hook("http", "http", "open", "", `local r = requests.get("`+srv.URL+`/?off=" .. payload.off)
local text = r.text
`+pass)
	var log logBuffer
	d := maskingDaemon(t, hooks, &log)
	for _, tc := range []struct {
		ref   string
		limit int
	}{{"proc", 1 << 20}, {"http", 10 << 20}} {
		for _, delta := range []int{-21, -8, -1} {
			t.Run(tc.ref+strconv.Itoa(delta), func(t *testing.T) {
				log.Reset()
				r := do(t, "POST", d.pub+DefaultPrefix+tc.ref, `{"off":`+strconv.Itoa(tc.limit+delta)+`}`, nil)
				if r.Status != 200 || !strings.Contains(r.Body, "xxxxxxxx") {
					t.Fatalf("status %d: %.300s", r.Status, r.Body)
				}
				outputs := map[string]string{"answer": answerText(r), "record": newestRecord(t, d.admin), "daemon log": log.String()}
				for where, text := range outputs {
					if l := leakOf(text, maskSecret); l != "" {
						t.Errorf("%s leaks %q", where, l)
					}
				}
			})
		}
	}
}
