package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"towerhook/logs"
)

// consoleYAML: a token authenticator (X-Api-Key, redacted in the call log)
// and webhooks of every kind. deploy fails when payload.fail is set.
const consoleYAML = `cetmix_tower_yaml_version: 1
records:
- cetmix_tower_model: webhook_authenticator
  reference: api_key
  name: API key
  code: |
    if headers["X-Api-Key"] == "k3y-value" then
      result = {allowed = true}
    else
      result = {allowed = false, http_code = 401, message = "Bad key"}
    end
- cetmix_tower_model: webhook
  reference: deploy
  name: Deploy app
  authenticator_id: api_key
  endpoint: deploy/app
  code: |
    _logger.info("deploying " .. tostring(payload.ref))
    if payload.fail then
      error("deploy failed: " .. payload.fail)
    end
    result = {exit_code = 0, message = "deployed " .. tostring(payload.ref)}
- cetmix_tower_model: webhook
  reference: notify
  name: Notify
  authenticator_id: api_key
  endpoint: notify
  code: |
    result = {exit_code = 0, message = "notified"}
- cetmix_tower_model: webhook
  reference: form_hook
  name: Form
  authenticator_id: api_key
  endpoint: form
  content_type: form
  code: |
    result = {exit_code = 0, message = "form " .. tostring(payload.a) .. " raw " .. raw_data}
- cetmix_tower_model: webhook
  reference: get_hook
  name: Get
  authenticator_id: api_key
  endpoint: get
  method: get
  code: |
    result = {exit_code = 0, message = "get " .. tostring(payload.q) .. " query " .. request.query}
- cetmix_tower_model: webhook
  reference: off
  name: Disabled
  active: false
  authenticator_id: api_key
  endpoint: off
  code: |
    result = {exit_code = 0}
`

// consoleDaemon runs Serve over consoleYAML.
func consoleDaemon(t testing.TB) *testDaemon {
	t.Helper()
	return startDaemon(t, map[string]string{"hooks.yaml": consoleYAML}, nil)
}

// callHook posts body to the webhook endpoint with the right key and
// returns the new call's id (the newest record).
func callHook(t testing.TB, d *testDaemon, method, endpoint, contentType, body string) string {
	t.Helper()
	h := map[string]string{"X-Api-Key": "k3y-value"}
	if contentType != "" {
		h["Content-Type"] = contentType
	}
	do(t, method, d.pub+"/cetmix_tower_webhooks/"+endpoint, body, h)
	return newestID(t, d)
}

// newestID is the id of the newest call-log record.
func newestID(t testing.TB, d *testDaemon) string {
	t.Helper()
	var page logs.Page
	getJSON(t, d.admin+"/api/v1/logs?limit=1", &page)
	if len(page.Records) == 0 {
		t.Fatal("no call logged")
	}
	return page.Records[0].ID
}

// getPage fetches an admin path and returns status, Content-Type and body.
func getPage(t testing.TB, d *testDaemon, path string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(d.admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// rowWebhooks are the webhook cells of the calls table, in order.
var rowWebhook = regexp.MustCompile(`title="Only this webhook's calls">([a-z_]+)</a>`)

func TestConsolePagesEscapeBadPayloads(t *testing.T) {
	d := consoleDaemon(t)
	big := `{"ref":"main","blob":"` + strings.Repeat("x", 10_000_000) + `"}`
	tests := []struct {
		name        string
		body        string
		want        []string // in the call page
		unwanted    []string
		maxPageSize int
	}{
		{"script in payload", `{"ref":"<script>alert(1)</script>","html":"<b onmouseover=x>hi</b>"}`,
			[]string{`&lt;script&gt;alert(1)&lt;/script&gt;`, `&lt;b onmouseover=x&gt;hi&lt;/b&gt;`},
			[]string{`<script>alert`, `<b onmouseover`}, 64 << 10},
		{"invalid UTF-8", "{\"ref\":\"a\xff\xfeb\"}", []string{"a\uFFFD\uFFFDb"}, []string{"\xff"}, 64 << 10},
		{"not JSON", "<html><script>x()</script>", []string{"The body was not JSON", "&lt;html&gt;&lt;script&gt;x()"}, []string{"<html><script>"}, 64 << 10},
		{"10 MB of JSON", big, []string{"This record was cut when it was logged", "cannot be replayed"}, nil, 512 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := callHook(t, d, "POST", "deploy/app", "application/json", tt.body)
			for _, path := range []string{"/calls/" + id, "/"} {
				status, h, body := getPage(t, d, path)
				if status != http.StatusOK {
					t.Fatalf("%s: status %d", path, status)
				}
				if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'self'") {
					t.Errorf("%s: Content-Security-Policy %q", path, csp)
				}
				if len(body) > tt.maxPageSize {
					t.Errorf("%s: page of %d bytes, want at most %d", path, len(body), tt.maxPageSize)
				}
				for _, u := range tt.unwanted {
					if strings.Contains(body, u) {
						t.Errorf("%s: page contains %q unescaped", path, u)
					}
				}
				if !strings.HasSuffix(strings.TrimSpace(body), "</html>") {
					t.Errorf("%s: page does not end with </html>", path)
				}
				if path != "/" {
					for _, w := range tt.want {
						if !strings.Contains(body, w) {
							t.Errorf("%s: page lacks %q", path, w)
						}
					}
				}
			}
		})
	}
}

func TestConsoleCallPageShowsTheRecord(t *testing.T) {
	d := consoleDaemon(t)
	id := callHook(t, d, "POST", "deploy/app", "application/json", `{"ref":"v1","fail":"disk full"}`)
	_, _, body := getPage(t, d, "/calls/"+id)
	for _, w := range []string{
		"deploy failed: disk full",         // the error
		"deploying v1",                     // a log line
		"&#34;ref&#34;: &#34;v1&#34;",      // payload, pretty-printed
		`<th>X-Api-Key</th><td>*****</td>`, // header table, redacted
		`<th>authentication_status</th>`,   // every field
		`<th>config_hash</th>`,             // every field
		`href="/webhooks#wh-deploy"`,       // link to its webhook
		`action="/api/v1/logs/` + id + `/replay"`,
	} {
		if !strings.Contains(body, w) {
			t.Errorf("call page lacks %q", w)
		}
	}
}

func TestConsoleFilters(t *testing.T) {
	d := consoleDaemon(t)
	callHook(t, d, "POST", "deploy/app", "application/json", `{"ref":"a"}`)
	callHook(t, d, "POST", "notify", "application/json", `{}`)
	callHook(t, d, "POST", "deploy/app", "application/json", `{"ref":"b","fail":"x"}`)
	callHook(t, d, "POST", "notify", "application/json", `{}`)
	do(t, "POST", d.pub+"/cetmix_tower_webhooks/notify", `{}`, nil) // 401
	tests := []struct {
		query string
		want  []string // webhook cells, newest first
	}{
		{"", []string{"notify", "notify", "deploy", "notify", "deploy"}},
		{"webhook=deploy", []string{"deploy", "deploy"}},
		{"status=failed", []string{"notify", "deploy"}},
		{"status=success&webhook=notify", []string{"notify", "notify"}},
		{"code=401", []string{"notify"}},
		{"code=500&status=failed", []string{"deploy"}},
		{"since=1h&until=" + url.QueryEscape(time.Now().Add(time.Hour).UTC().Format("2006-01-02 15:04")), []string{"notify", "notify", "deploy", "notify", "deploy"}},
		{"since=" + url.QueryEscape(time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04")), nil},
		{"webhook=gone_hook", nil},
	}
	for _, tt := range tests {
		status, _, body := getPage(t, d, "/?"+tt.query)
		if status != http.StatusOK {
			t.Errorf("%s: status %d", tt.query, status)
			continue
		}
		var got []string
		for _, m := range rowWebhook.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: rows %v, want %v", tt.query, got, tt.want)
		}
	}
	// A contradictory status and code: a note, no query.
	if _, _, body := getPage(t, d, "/?status=success&code=500"); !strings.Contains(body, "No call can match") {
		t.Error("status=success&code=500: no note")
	}
	// The filter stays in the form and the paging links.
	_, _, body := getPage(t, d, "/?webhook=notify&limit=1")
	if !strings.Contains(body, `<option value="notify" selected>`) {
		t.Error("the webhook filter is not kept in the form")
	}
	next := regexp.MustCompile(`href="(/\?[^"]*cursor=[^"]*)" rel="next"`).FindStringSubmatch(body)
	if next == nil || !strings.Contains(next[1], "webhook=notify") {
		t.Fatalf("no Older link keeping the filter: %v", next)
	}
	seen := 1
	for link := strings.ReplaceAll(next[1], "&amp;", "&"); link != ""; seen++ {
		_, _, body = getPage(t, d, link)
		if !strings.Contains(body, "« Newest") {
			t.Error("a later page has no link back to the newest")
		}
		link = ""
		if m := regexp.MustCompile(`href="(/\?[^"]*)" rel="next"`).FindStringSubmatch(body); m != nil {
			link = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if seen != 3 { // notify: two successes and one 401
		t.Errorf("paged through %d notify calls one at a time, want 3", seen)
	}
}

// TestConsoleCallsScanBound: a filter that few calls match shows what the
// bounded search found and searches on with "Older".
func TestConsoleCallsScanBound(t *testing.T) {
	s, err := logs.Open(filepath.Join(t.TempDir(), logs.FileName), logs.Options{Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, ref := range []string{"deploy", "notify", "notify", "notify", "notify", "notify"} {
		if err := s.Append(t.Context(), &logs.Record{Webhook: ref, HTTPStatus: 200, Method: "POST"}); err != nil {
			t.Fatal(err)
		}
	}
	c, h := newTestConsole(t, consoleYAML, s)
	c.scanBound = 2
	var pages []string
	for link := "/?webhook=deploy"; link != ""; {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", link, nil))
		body := w.Body.String()
		pages = append(pages, fmt.Sprint(len(rowWebhook.FindAllString(body, -1)), strings.Contains(body, "Searched 2 calls without filling the page")))
		link = ""
		if m := regexp.MustCompile(`href="(/\?[^"]*)" rel="next"`).FindStringSubmatch(body); m != nil {
			link = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	// 6 records, 2 read a page: the deploy call (the oldest) is on the third.
	if got := strings.Join(pages, " "); got != "0 true 0 true 1 false" {
		t.Errorf("pages (rows, note): %s", got)
	}
}

func TestConsoleErrors(t *testing.T) {
	d := consoleDaemon(t)
	tests := []struct {
		path   string
		status int
		want   string
	}{
		{"/calls/nope", 400, "is not a call id"},
		{"/calls/%3Cscript%3E", 400, "&#34;&lt;script&gt;&#34; is not a call id"},
		{"/calls/0123456789abcdef0123456789abcdef", 404, "No call with id 0123456789abcdef0123456789abcdef"},
		{"/?status=broken", 400, "Status &#34;broken&#34;: want success or failed"},
		{"/?code=99", 400, "HTTP code &#34;99&#34;: want a number from 100 to 599"},
		{"/?code=abc", 400, "HTTP code &#34;abc&#34;"},
		{"/?since=yesterday", 400, "since: &#34;yesterday&#34;"},
		{"/?until=2026-13-45", 400, "until:"},
		{"/?limit=-1", 400, "limit"},
		{"/?cursor=%21%21%21", 400, "The page cursor is not valid"},
		{"/?cursor=AAAA", 400, "The page cursor is not valid"},
	}
	for _, tt := range tests {
		status, h, body := getPage(t, d, tt.path)
		if status != tt.status {
			t.Errorf("%s: status %d, want %d", tt.path, status, tt.status)
		}
		if !strings.Contains(body, tt.want) {
			t.Errorf("%s: page lacks %q:\n%s", tt.path, tt.want, body)
		}
		if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" || h.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: Content-Type %q, CSP %q", tt.path, ct, h.Get("Content-Security-Policy"))
		}
	}
}

func TestConsoleWebhooksPage(t *testing.T) {
	d := consoleDaemon(t)
	callHook(t, d, "POST", "deploy/app", "application/json", `{"ref":"a"}`)
	callHook(t, d, "POST", "deploy/app", "application/json", `{"fail":"x"}`)
	callHook(t, d, "POST", "notify", "application/json", `{}`)
	_, _, body := getPage(t, d, "/webhooks")
	row := func(ref string) string {
		i := strings.Index(body, `<tr id="wh-`+ref+`"`)
		if i < 0 {
			t.Fatalf("no row for %s", ref)
		}
		return body[i : i+strings.Index(body[i:], "</tr>")]
	}
	for _, tt := range []struct {
		ref  string
		want []string
	}{
		{"deploy", []string{"/cetmix_tower_webhooks/deploy/app", "api_key", "enabled", `>2</a>`, `class="pill fail"`, ">1</a>", " UTC</span></td>", "hooks.yaml:"}},
		{"notify", []string{">1</a>", `<span class="muted">0</span>`}},
		{"off", []string{"disabled", "none in 24 h"}},
	} {
		r := row(tt.ref)
		for _, w := range tt.want {
			if !strings.Contains(r, w) {
				t.Errorf("%s row lacks %q:\n%s", tt.ref, w, r)
			}
		}
	}
	if !strings.Contains(body, `<tr id="auth-api_key">`) {
		t.Error("no authenticators table")
	}

	// A broken file: the page shows the failed reload and its file:line errors.
	writeFiles(t, d.dir, map[string]string{"broken.yaml": "cetmix_tower_yaml_version: 1\nrecords:\n- cetmix_tower_model: webhook\n  name: x\n"})
	do(t, "POST", d.admin+"/-/reload", "", nil)
	_, _, body = getPage(t, d, "/webhooks")
	for _, w := range []string{"The last reload failed", "broken.yaml:3", "keeps serving the last good set"} {
		if !strings.Contains(body, w) {
			t.Errorf("failed reload: page lacks %q", w)
		}
	}
	if _, _, calls := getPage(t, d, "/"); !strings.Contains(calls, "The last reload failed") {
		t.Error("the calls page has no banner for the failed reload")
	}
}

// TestConsoleReloadButton: the console's reload form reloads and comes back.
func TestConsoleReloadButton(t *testing.T) {
	d := consoleDaemon(t)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(d.admin+"/webhooks/reload", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/webhooks#reload" {
		t.Fatalf("status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var dv definitionsResponse
	getJSON(t, d.admin+"/api/v1/definitions", &dv)
	if dv.LastReload.Reason != "console" {
		t.Errorf("last reload reason %q, want console", dv.LastReload.Reason)
	}
}

func TestConsoleStaticAssets(t *testing.T) {
	d := consoleDaemon(t)
	for _, tt := range []struct {
		path, ctype string
		status      int
	}{
		{"/static/console.css", "text/css; charset=utf-8", 200},
		{"/static/console.js", "text/javascript; charset=utf-8", 200},
		{"/static/", "text/html; charset=utf-8", 404},
		{"/static/nope.js", "text/plain; charset=utf-8", 404},
	} {
		status, h, _ := getPage(t, d, tt.path)
		if status != tt.status || h.Get("Content-Type") != tt.ctype {
			t.Errorf("%s: %d %q, want %d %q", tt.path, status, h.Get("Content-Type"), tt.status, tt.ctype)
		}
	}
}

// TestRecordFieldsListsEveryField: the call page's field table has every
// field of the record's JSON but those shown in sections.
func TestRecordFieldsListsEveryField(t *testing.T) {
	r := &logs.Record{ID: "0123456789abcdef0123456789abcdef", Webhook: "w", ReplayOf: "ffff", Truncated: true}
	fields, err := recordFields(r, false)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r)
	var m map[string]any
	json.Unmarshal(b, &m)
	got := map[string]fieldRow{}
	for _, f := range fields {
		got[f.Name] = f
	}
	for name := range m {
		_, shown := got[name]
		if shown == (name == "request_headers" || name == "request_payload" || name == "log_lines") {
			t.Errorf("field %s: in the table %v", name, shown)
		}
	}
	if got["replay_of"].URL != "/calls/ffff" || got["webhook"].URL != "/webhooks#wh-w" || got["truncated"].Value != "true" {
		t.Errorf("links and values: %+v", got)
	}
	if len(fields) != len(m)-3 {
		t.Errorf("%d fields, want %d", len(fields), len(m)-3)
	}
}
