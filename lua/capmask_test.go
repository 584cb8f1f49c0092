package lua

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// capSecret is the secret put across the output caps.
const capSecret = "Tok3n-0123456789-abcde"

// leakOf returns the first 8-byte run of secret found in text, or "".
func leakOf(text, secret string) string {
	for i := 0; i+8 <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+8]) {
			return secret[i : i+8]
		}
	}
	return ""
}

// TestCapSplitSecret: a subprocess's output and a response body are cut
// by their caps before anything is masked; a secret the cut splits must
// not reach Lua in part, where masking cannot recognise it (README
// "Secrets"). The secret starts before the cap (split), right at it (cut
// off), or ends right at it (kept whole, then masked).
func TestCapSplitSecret(t *testing.T) {
	e := testEngine(t, Options{Secrets: []string{capSecret}})
	srv := httpTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		off, _ := strconv.Atoi(r.URL.Query().Get("off"))
		w.Write([]byte(strings.Repeat("x", off) + capSecret + "tail"))
	}))
	for _, delta := range []int{-21, -8, -1, 0, -len(capSecret)} {
		t.Run("subprocess "+strconv.Itoa(delta), func(t *testing.T) {
			code := `local r = subprocess.run({"sh", "-c", "head -c ` + strconv.Itoa(procOutputCap+delta) +
				` /dev/zero | tr '\\0' x; printf %s ` + capSecret + `tail"})
assert(r.truncated, "not truncated")
result.message = r.stdout:sub(-40)`
			checkCapSplit(t, run(t, e, KindWebhook, code, nil), delta)
		})
		t.Run("requests "+strconv.Itoa(delta), func(t *testing.T) {
			code := `local r = requests.get("` + srv.URL + `/?off=` + strconv.Itoa(httpBodyCap+delta) + `")
assert(r.truncated, "not truncated")
result.message = r.text:sub(-40)`
			checkCapSplit(t, run(t, e, KindWebhook, code, nil), delta)
		})
	}
}

// checkCapSplit checks the message of a TestCapSplitSecret call.
func checkCapSplit(t *testing.T, r *Result, delta int) {
	t.Helper()
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if l := leakOf(r.Message, capSecret); l != "" {
		t.Fatalf("message %q leaks %q", r.Message, l)
	}
	want := strings.Repeat("x", 40)
	if delta == -len(capSecret) {
		want = strings.Repeat("x", 40-len(capSecret)) + "*****"
	}
	if r.Message != want {
		t.Errorf("message %q, want %q", r.Message, want)
	}
}
