package lua

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// sharedBig is Lua code building t: one 8 MiB string referenced 800 times
// (6.4 GB of JSON if encoded whole).
const sharedBig = `local s = string.rep("x", 8 * 2^20) local t = {} for i = 1, 800 do t[i] = s end `

// allocDuring returns the bytes allocated while f ran.
func allocDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestConversionCaps: Go-side conversions of Lua data to text stop at the
// 16 MiB cap while they build, with a clear error and bounded allocation
// (README "Lua API").
func TestConversionCaps(t *testing.T) {
	e := testEngine(t, Options{Secrets: []string{"s3cr3t-value"}})
	for _, tc := range []struct{ name, code, want string }{
		{"json.dumps", sharedBig + `result.message = json.dumps(t)`, "json.dumps: JSON text exceeds 16 MiB"},
		{"json.dumps indented", sharedBig + `result.message = json.dumps(t, 2)`, "json.dumps: JSON text exceeds 16 MiB"},
		{"error table", sharedBig + `error(t)`, "error object: JSON text exceeds 16 MiB"},
		{"message table", sharedBig + `result.message = t`, "result.message: JSON text exceeds 16 MiB"},
		{"message string", `result.message = string.rep("x", 2^24) .. "y"`, "result.message: text exceeds 16 MiB"},
		{"body", `result.body = string.rep("x", 2^24) .. "y"`, "result.body: text exceeds 16 MiB"},
		{"header", `result.headers = {X = string.rep("x", 2^24) .. "y"}`, "result.headers: text exceeds 16 MiB"},
		{"headers total", `local s = string.rep("x", 2^20) result.headers = {} for i = 1, 17 do result.headers["X" .. i] = s end`, "result.headers: text exceeds 16 MiB"},
		{"requests params", sharedBig + `local p = {} for i = 1, 800 do p["k" .. i] = s end requests.get("http://127.0.0.1:9/", {params = p})`, "params: text exceeds 16 MiB"},
		{"subprocess argv", sharedBig + `table.insert(t, 1, "/bin/true") subprocess.run(t)`, "argv: text exceeds 16 MiB"},
		{"content_type", `result.body = "" result.content_type = string.rep("x", 2^24) .. "y"`, "result.content_type: text exceeds 16 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r *Result
			n := allocDuring(func() {
				r = run(t, e, KindWebhook, tc.code, func(c *Call) { c.Timeout = time.Minute })
			})
			t.Logf("allocated %d MiB", n>>20)
			if r.Err == nil || !strings.Contains(r.Err.Error(), tc.want) {
				t.Fatalf("err = %.200v, want %q", r.Err, tc.want)
			}
			// The Lua side builds 8 or 16 MiB; the conversion may add about
			// two caps' worth, never the 6.4 GB the shared references spell.
			if n > 64<<20 {
				t.Errorf("allocated %d MiB", n>>20)
			}
		})
	}
}

// TestHelperOutputCaps: helpers that can grow their input check the 16 MiB
// cap while (or before) they build, not after (quote of 16 MiB returned
// 48 MiB).
func TestHelperOutputCaps(t *testing.T) {
	e := testEngine(t, Options{})
	for _, code := range []string{
		`urllib_parse.quote(string.rep("\1", 16 * 2^20))`,
		`urllib_parse.quote_plus(string.rep("\1", 6 * 2^20))`,
		`urllib_parse.urlencode({a = string.rep("\1", 6 * 2^20)})`,
		`local s = string.rep("x", 6 * 2^20) string.format("%s%s%s", s, s, s)`,
		`re.sub("(a+)", string.rep("\\1", 100), string.rep("a", 2^20))`,
		`string.gsub(string.rep("a", 2^16), "^.*$", string.rep("%0", 400))`,
		`base64.b64encode(string.rep("x", 13 * 2^20))`,
		`binascii.hexlify(string.rep("x", 9 * 2^20))`,
	} {
		var r *Result
		n := allocDuring(func() {
			r = run(t, e, KindWebhook, code, func(c *Call) { c.Timeout = time.Minute })
		})
		if r.Err == nil || !strings.Contains(r.Err.Error(), "too large") {
			t.Errorf("%s: err = %.200v", code, r.Err)
		}
		// The cap, grown by doubling, and the input: far below the old
		// results (48 MiB, 100 MiB).
		if n > 96<<20 {
			t.Errorf("%s: allocated %d MiB", code, n>>20)
		}
	}
}
