package daemon

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"towerhook/lua"
)

// maskSecret is 22 bytes, as the one whose 21 first bytes leaked at the
// end of a truncated log line; maskShort is the short secret that turned a
// number into invalid JSON.
const (
	maskSecret = "Tok3n-0123456789-abcde"
	maskShort  = "1234"
)

// leakOf returns the first 8-byte run of secret (all of it when shorter)
// found in text, or "".
func leakOf(text, secret string) string {
	n := min(8, len(secret))
	for i := 0; i+n <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+n]) {
			return secret[i : i+n]
		}
	}
	return ""
}

// maskingDaemon serves hooks (records built with hook) with the secrets
// long = maskSecret and short = maskShort, logging to log.
func maskingDaemon(t testing.TB, hooks string, log io.Writer) *testDaemon {
	dir := t.TempDir()
	for name, v := range map[string]string{"long": maskSecret, "short": maskShort} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return startDaemonLogged(t, map[string]string{"hooks.yml": openFile(hooks)},
		func(o *Options) { o.SecretsDir = dir }, log)
}

// answerText is everything an answer shows: status line, headers, body.
func answerText(r response) string {
	var b strings.Builder
	r.Header.Write(&b)
	for k := range r.Header {
		b.WriteString(k + "\n")
	}
	return b.String() + r.Body
}

// recordText is the raw JSON of the call-log records of webhook ref.
func recordText(t testing.TB, admin, ref string) string {
	t.Helper()
	b := getText(t, admin+"/api/v1/logs?webhook="+ref)
	if !strings.Contains(b, `"webhook":"`+ref+`"`) {
		t.Fatalf("no record of %s: %.300s", ref, b)
	}
	return b
}

// TestSecretsMaskedInEveryOutput: a secret is masked in the answer's body
// and headers (Content-Type and header names included), the call record
// and the daemon log, also where a cap cuts the text (masking comes
// first), and masking never makes a JSON answer invalid (README "Secrets").
func TestSecretsMaskedInEveryOutput(t *testing.T) {
	const long = `#!cxtower.secret.long!#`
	const short = `#!cxtower.secret.short!#`
	hooks := hook("logtail", "logtail", "open", "", `_logger.info(string.rep("x", 65536 - 21) .. `+long+`)
_logger.warning("%s", string.rep("y", 65536 - 9) .. `+long+`)
result.message = "ok"`) +
		hook("ctype", "ctype", "open", "", `result = {exit_code = 0, body = "b", content_type = "text/plain; k=" .. `+long+`,
  headers = {["X-"..`+long+`] = `+long+`, ["X-Plain"] = "v " .. `+long+`}}`) +
		hook("number", "number", "open", "", `result.message = {total = tonumber("9" .. `+short+`), list = {`+short+`, 5}, s = "a" .. `+short+`, [`+short+`] = 1}`) +
		hook("errtable", "errtable", "open", "", `error({code = `+long+`, n = tonumber(`+short+`)})`) +
		hook("longerr", "longerr", "open", "", `error(string.rep("z", 65536 - 3) .. `+long+`)`)
	var log logBuffer
	d := maskingDaemon(t, hooks, &log)
	for _, tc := range []struct {
		ref    string
		status int
		json   bool // the answer is application/json
	}{
		{"logtail", 200, true},
		{"ctype", 200, false},
		{"number", 200, true},
		{"errtable", 500, true},
		{"longerr", 500, true},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			r := do(t, "POST", d.pub+DefaultPrefix+tc.ref, "{}", nil)
			if r.Status != tc.status {
				t.Fatalf("status %d: %.300s", r.Status, r.Body)
			}
			if tc.json && !json.Valid([]byte(r.Body)) {
				t.Errorf("invalid JSON answer: %.300s", r.Body)
			}
			outputs := map[string]string{"answer": answerText(r), "record": recordText(t, d.admin, tc.ref), "daemon log": log.String()}
			for where, text := range outputs {
				if l := leakOf(text, maskSecret); l != "" {
					t.Errorf("%s leaks %q", where, l)
				}
			}
			if l := leakOf(r.Body, maskShort); l != "" {
				t.Errorf("answer leaks %q: %.300s", l, r.Body)
			}
		})
	}
	// Masking keeps the shape: the number that held a secret is the
	// string "*****", other values stay.
	r := do(t, "POST", d.pub+DefaultPrefix+"number", "{}", nil)
	want := `{"message":{"*****":1,"list":["*****",5],"s":"a*****","total":"*****"}}` + "\n"
	if r.Body != want {
		t.Errorf("number: %s, want %s", r.Body, want)
	}
	r = do(t, "POST", d.pub+DefaultPrefix+"ctype", "{}", nil)
	if ct := r.Header.Get("Content-Type"); ct != "text/plain; k=*****" || r.Header.Get("X-*****") != "*****" {
		t.Errorf("headers: %v", r.Header)
	}
}

// fuzzHook puts the secret "long" at offset off of a text of off + len +
// tail bytes, in the output that where picks: messages (string, table,
// JSON text, failure), log lines (plain, formatted, joined), errors
// (string, table), body, content type, header value and name.
const fuzzHook = `local s = string.rep("x", payload.off) .. #!cxtower.secret.long!# .. string.rep("y", payload.tail)
local w = payload.where
if w == 0 then result.message = s
elseif w == 1 then result.message = {k = s, [s] = 1}
elseif w == 2 then result.message = json.dumps({s})
elseif w == 3 then result = {exit_code = 1, message = s}
elseif w == 4 then _logger.info(s)
elseif w == 5 then _logger.warning("%s!", s)
elseif w == 6 then _logger.error("a", s)
elseif w == 7 then error(s)
elseif w == 8 then error({e = s})
elseif w == 9 then result = {exit_code = 0, body = s}
elseif w == 10 then result = {exit_code = 0, body = "b", content_type = s}
elseif w == 11 then result = {exit_code = 0, body = "b", headers = {["X-A"] = s}}
else result = {exit_code = 0, body = "b", headers = {[s] = "v"}}
end`

// fuzzCaps are the caps a secret is put around: none, and the log line
// cap and the stored payload cap (64 KiB). The 16 MiB text cap is held by
// TestSecretMaskingAtTextCap: texts that long make one input take seconds
// in an instrumented fuzzing binary.
var fuzzCaps = []int{0, 64 << 10}

// TestSecretMaskingAtTextCap runs FuzzSecretMasking's check with the
// secret around the 16 MiB cap of messages, errors and bodies.
func TestSecretMaskingAtTextCap(t *testing.T) {
	var log logBuffer
	d := maskingDaemon(t, hook("fuzz", "fuzz", "open", "", fuzzHook), &log)
	for _, where := range []uint8{0, 1, 7, 9} {
		// The text ends right at the cap (served), or just past it (refused).
		for _, delta := range []int16{-27, -10} {
			checkMasking(t, d, &log, where, lua.MaxStringSize, delta, 5)
		}
	}
}

// FuzzSecretMasking puts a secret at random offsets of messages, log
// lines, errors, headers and bodies, and of the request's header and body,
// around every cap, and checks that no 8-byte run of it survives in the
// answer (body and headers), the call record or the daemon log.
func FuzzSecretMasking(f *testing.F) {
	for where := range 13 {
		f.Add(uint8(where), uint8(1), int16(-21), uint16(3))
	}
	f.Add(uint8(4), uint8(1), int16(-11), uint16(0))
	f.Add(uint8(0), uint8(2), int16(-10), uint16(100))
	var log logBuffer
	d := maskingDaemon(f, hook("fuzz", "fuzz", "open", "", fuzzHook), &log)
	f.Fuzz(func(t *testing.T, where, capIdx uint8, delta int16, tail uint16) {
		checkMasking(t, d, &log, where, fuzzCaps[int(capIdx)%len(fuzzCaps)], delta, tail)
	})
}

// checkMasking runs one input of FuzzSecretMasking.
// The secret starts at capAt+delta (delta taken modulo 256).
func checkMasking(t *testing.T, d *testDaemon, log *logBuffer, where uint8, capAt int, delta int16, tail uint16) {
	where %= 13
	if where >= 10 && capAt > 64<<10 {
		capAt = 64 << 10 // HTTP clients refuse answer headers of megabytes
	}
	off := capAt + int(delta)%256
	if off < 0 {
		off = 0
	}
	tail %= 512
	filler := strings.Repeat("x", min(off, 70<<10))
	payload, _ := json.Marshal(map[string]any{
		"where": where, "off": off, "tail": tail,
		"d": filler + maskSecret + strings.Repeat("y", int(tail)),
	})
	log.Reset()
	// The request's header too (below the server's 64 KiB header limit).
	r := do(t, "POST", d.pub+DefaultPrefix+"fuzz", string(payload),
		map[string]string{"X-Data": filler[:off%(32<<10)] + maskSecret})
	if r.Status != 200 && r.Status != 500 {
		t.Fatalf("status %d: %.200s", r.Status, r.Body)
	}
	outputs := map[string]string{"answer": answerText(r), "record": newestRecord(t, d.admin), "daemon log": log.String()}
	for where, text := range outputs {
		if l := leakOf(text, maskSecret); l != "" {
			i := strings.Index(text, l)
			t.Fatalf("%s leaks %q: ...%s...", where, l, text[max(0, i-40):min(len(text), i+40)])
		}
	}
}

// newestRecord is the raw JSON of the newest call-log record.
func newestRecord(t testing.TB, admin string) string {
	t.Helper()
	return getText(t, admin+"/api/v1/logs?limit=1")
}
