package daemon

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"towerhook/definitions"
	"towerhook/logs"
	"towerhook/lua"
)

// FuzzConsoleCallPage: whatever a call recorded, its page is valid UTF-8,
// runs no script but the console's own, and shows every value escaped
// (a value's text up to its first <, >, " or ' never appears as written).
func FuzzConsoleCallPage(f *testing.F) {
	f.Add("<script>alert(1)</script>", `{"a":"<b onclick=x>"}`, "X-Evil", "\xff\xfe<img src=x>")
	f.Add("a&b", `"<!-- text -->"`, "Cookie", `"quoted" 'single'`)
	f.Add("\u2028</pre>", `[1,"</textarea>",null]`, "", "")
	rl := newReloader(f.TempDir(), definitions.Options{}, buildOptions{
		Logger: discardLogger(), LuaMetrics: lua.NewMetrics(nil), DefaultTimeout: DefaultTimeout,
	}, newMetrics(prometheus.NewRegistry()), discardLogger())
	c := newConsole(rl, nil, DefaultPrefix, "fuzz", discardLogger())
	f.Fuzz(func(t *testing.T, msg, payload, hname, hval string) {
		// A mark of its own per value: no value is a prefix of another.
		msg, hname, hval = "QZ1"+msg, "QZ2"+hname, "QZ3"+hval
		rec := &logs.Record{
			ID: "0123456789abcdef0123456789abcdef", Webhook: msg, Endpoint: msg, Method: hval,
			ErrorMessage: msg, ResultMessage: hval, RequestHeaders: map[string]string{hname: hval},
			LogLines: []string{msg, hval}, ReplayOf: hval,
		}
		if json.Valid([]byte(payload)) && utf8.ValidString(payload) {
			rec.RequestPayload = json.RawMessage(payload)
		} else {
			rec.RequestPayload, _ = json.Marshal(payload)
		}
		page, err := c.callView(rec)
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		c.render(w, 200, "call.html", page)
		body := w.Body.String()
		if !utf8.ValidString(body) {
			t.Error("page is not valid UTF-8")
		}
		if n := strings.Count(strings.ToLower(body), "<script"); n != 1 {
			t.Errorf("%d script tags, want only the console's", n)
		}
		for _, v := range []string{msg, hname, hval} {
			if i := strings.IndexAny(v, `<>"'`); i >= 0 && strings.Contains(body, v[:i+1]) {
				t.Errorf("%q appears unescaped", v[:i+1])
			}
		}
	})
}
