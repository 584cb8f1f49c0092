package daemon

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"towerhook/logs"
)

// cliFiles: an echo webhook (JSON), a form webhook and a GET webhook, each
// showing the Content-Type it received, and a failing webhook with a message.
const cliFiles = `cetmix_tower_yaml_version: 1
records:
- cetmix_tower_model: webhook_authenticator
  reference: open
  name: Open
  code: |
    result = {allowed = true}
- cetmix_tower_model: webhook
  reference: echo
  name: Echo
  endpoint: echo
  authenticator_id: open
  code: |
    result.message = tostring(headers["content-type"]) .. "|" .. request.remote_addr .. "|" .. request.path
- cetmix_tower_model: webhook
  reference: former
  name: Former
  endpoint: former
  content_type: form
  authenticator_id: open
  code: |
    result.message = tostring(headers["content-type"]) .. "|" .. tostring(payload.a)
- cetmix_tower_model: webhook
  reference: getter
  name: Getter
  endpoint: getter
  method: get
  authenticator_id: open
  code: |
    result.message = tostring(headers["content-type"]) .. "|" .. tostring(payload.q)
- cetmix_tower_model: webhook
  reference: failing
  name: Failing
  endpoint: failing
  authenticator_id: open
  code: |
    result = {exit_code = 3, message = "disk full on /srv"}
`

func cliDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hooks.yaml": cliFiles})
	return dir
}

// runCall runs Call and fails the test on a panic (Call must never panic).
func runCall(t *testing.T, o CallOptions) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Fatalf("Call(%+v) panicked: %v", o, v)
			}
		}()
		code = Call(context.Background(), o, &out, &errb)
	}()
	return code, out.String(), errb.String()
}

// TestNormalizePrefixMatchesServe: call accepts, normalises and rejects
// --prefix exactly as serve's option check does, with the same text.
func TestNormalizePrefixMatchesServe(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"/hooks", "/hooks/", ""},
		{"/hooks/", "/hooks/", ""},
		{"/", "/", ""},
		{DefaultPrefix, DefaultPrefix, ""},
		{"/a/b", "/a/b/", ""},
		{"/a b", "/a b/", ""},
		{"hooks/", "", `--prefix "hooks/" must start with /`},
		{"hooks", "", `--prefix "hooks" must start with /`},
		{"", "", `--prefix "" must start with /`},
	}
	for _, tt := range tests {
		got, err := normalizePrefix(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("normalizePrefix(%q) = %q, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
		} else if err != nil || got != tt.want {
			t.Errorf("normalizePrefix(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		// Serve's own check must agree value for value.
		o := DefaultOptions()
		o.Prefix = tt.in
		serr := checkOptions(&o)
		if fmt.Sprint(serr) != fmt.Sprint(err) {
			t.Errorf("prefix %q: serve says %v, call says %v", tt.in, serr, err)
		}
		if err == nil && o.Prefix != got {
			t.Errorf("prefix %q: serve normalises to %q, call to %q", tt.in, o.Prefix, got)
		}
	}
}

func TestCallPrefixAndUsageErrors(t *testing.T) {
	dir := cliDir(t)
	tests := []struct {
		name     string
		o        CallOptions
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "prefix without trailing slash routes", o: CallOptions{Prefix: "/hooks", Endpoint: "echo", Data: "{}"},
			wantCode: 0, wantOut: "|/hooks/echo"},
		{name: "prefix with trailing slash", o: CallOptions{Prefix: "/hooks/", Endpoint: "echo", Data: "{}"},
			wantCode: 0, wantOut: "|/hooks/echo"},
		{name: "default prefix", o: CallOptions{Endpoint: "/echo"},
			wantCode: 0, wantOut: "|" + DefaultPrefix + "echo"},
		{name: "prefix with a space", o: CallOptions{Prefix: "/a b", Endpoint: "echo"},
			wantCode: 0, wantOut: "|/a b/echo"},
		{name: "prefix without leading slash", o: CallOptions{Prefix: "hooks/", Endpoint: "echo"},
			wantCode: 2, wantErr: `towerhook call: --prefix "hooks/" must start with /`},
		{name: "relative prefix", o: CallOptions{Prefix: "hooks", Endpoint: "echo"},
			wantCode: 2, wantErr: `towerhook call: --prefix "hooks" must start with /`},
		{name: "bad escape in endpoint", o: CallOptions{Endpoint: "a%zz"},
			wantCode: 2, wantErr: `towerhook call: endpoint "a%zz"`},
		{name: "control character in endpoint", o: CallOptions{Endpoint: "a\x01"},
			wantCode: 2, wantErr: `towerhook call: endpoint`},
		{name: "invalid method", o: CallOptions{Endpoint: "echo", Method: "GE T"},
			wantCode: 2, wantErr: `towerhook call: -X "GE T": not a valid HTTP method`},
		{name: "header without colon", o: CallOptions{Endpoint: "echo", Headers: []string{"X-A 1"}},
			wantCode: 2, wantErr: `towerhook call: bad header "X-A 1"`},
		{name: "header without name", o: CallOptions{Endpoint: "echo", Headers: []string{": 1"}},
			wantCode: 2, wantErr: `towerhook call: bad header ": 1"`},
		{name: "escaped prefix never matches, as in serve", o: CallOptions{Prefix: "/%41%42%43", Endpoint: "x", Data: "a=1"},
			wantCode: 1, wantOut: "HTTP 404"},
		{name: "unknown endpoint", o: CallOptions{Endpoint: "nope"}, wantCode: 1, wantOut: "HTTP 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Dir = dir
			code, out, errs := runCall(t, tt.o)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errs)
			}
			if code == 2 && out != "" {
				t.Errorf("usage error printed output: %q", out)
			}
		})
	}
}

func TestCallRemoteAddr(t *testing.T) {
	dir := cliDir(t)
	tests := []struct {
		addr     string
		wantCode int
		wantIP   string
	}{
		{"", 0, "127.0.0.1"}, // the zero value: the CLI default
		{"127.0.0.1", 0, "127.0.0.1"},
		{"192.0.2.7", 0, "192.0.2.7"},
		{"192.0.2.7:5555", 0, "192.0.2.7"},
		{"::1", 0, "::1"},
		{"2001:db8::5", 0, "2001:db8::5"},
		{"[2001:db8::5]:443", 0, "2001:db8::5"},
		{"bogus", 2, ""},
		{"bogus:80", 2, ""},
		{"localhost", 2, ""},
		{"[::1]", 2, ""},
		{"2001:db8::5]:443", 2, ""},
		{"192.0.2.7:", 2, ""},
		{"192.0.2.7:99999", 2, ""},
		{"192.0.2.300", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			code, out, errs := runCall(t, CallOptions{Dir: dir, Endpoint: "echo", RemoteAddr: tt.addr})
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errs)
			}
			if tt.wantCode == 2 {
				want := fmt.Sprintf("towerhook call: --remote-addr %q: want an IP address or IP:port", tt.addr)
				if !strings.Contains(errs, want) || out != "" {
					t.Errorf("stderr %q, stdout %q", errs, out)
				}
				return
			}
			if !strings.Contains(out, "|"+tt.wantIP+"|") {
				t.Errorf("remote_addr: want %s in %s", tt.wantIP, out)
			}
		})
	}
}

func TestCallContentTypeDefault(t *testing.T) {
	dir := cliDir(t)
	bodyFile := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(bodyFile, []byte("a=2"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		o       CallOptions
		wantOut string
	}{
		{"form webhook", CallOptions{Endpoint: "former", Data: "a=1"}, `"application/x-www-form-urlencoded|1"`},
		{"form webhook, lower-case method", CallOptions{Endpoint: "former", Method: "post", Data: "a=1"}, `"application/x-www-form-urlencoded|1"`},
		{"form webhook, body from file", CallOptions{Endpoint: "former", Data: "@" + bodyFile}, `"application/x-www-form-urlencoded|2"`},
		{"json webhook", CallOptions{Endpoint: "echo", Data: `{"a":1}`}, `"application/json|`},
		{"explicit header kept", CallOptions{Endpoint: "former", Data: "a=1", Headers: []string{"content-type: text/plain"}}, `"text/plain|1"`},
		{"explicit json on form kept", CallOptions{Endpoint: "former", Data: "a=1", Headers: []string{"Content-Type: application/json"}}, `"application/json|1"`},
		{"no body, no header", CallOptions{Endpoint: "echo"}, `"nil|`},
		{"GET gets none", CallOptions{Endpoint: "getter?q=7", Method: "GET", Data: "x=1"}, `"nil|7"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Dir = dir
			code, out, errs := runCall(t, tt.o)
			if code != 0 || !strings.Contains(out, tt.wantOut) {
				t.Errorf("exit %d, want %s in\nstdout: %s\nstderr: %s", code, tt.wantOut, out, errs)
			}
		})
	}
}

// writeStore creates dir/towerhook.db holding recs.
func writeStore(t *testing.T, dir string, recs ...*logs.Record) {
	t.Helper()
	s, err := logs.Open(filepath.Join(dir, logs.FileName), logs.Options{Logger: discardLogger(), Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLogsRemoteErrors: only a connection failure falls back to the store;
// an error answer from the daemon is printed with exit 1.
func TestLogsRemoteErrors(t *testing.T) {
	// A store in ./data that a wrong fallback would print.
	cwd := t.TempDir()
	writeStore(t, filepath.Join(cwd, "data"), &logs.Record{Webhook: "from_store", HTTPStatus: 200, ResultMessage: "stored"})
	t.Chdir(cwd)

	stub := func(code int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			fmt.Fprint(w, body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	tests := []struct {
		name     string
		admin    string
		wantCode int
		wantOut  string
		wantErr  []string
	}{
		{"bad request answer", stub(400, `{"message":"limit \"x\": want a positive integer"}`), 1, "",
			[]string{"400 Bad Request", `limit "x": want a positive integer`}},
		{"server error answer", stub(500, `{"message":"Call log query failed"}`), 1, "",
			[]string{"500 Internal Server Error", "Call log query failed"}},
		{"error answer without JSON", stub(502, `bad gateway`), 1, "", []string{"502 Bad Gateway"}},
		{"broken page", stub(200, `{"records":`), 1, "", []string{"decoding answer"}},
		{"daemon answers", stub(200, `{"records":[{"webhook":"from_daemon","http_status":200}],"next_cursor":""}`), 0, "from_daemon", nil},
		{"nothing listening falls back", deadURL, 0, "from_store", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Logs(context.Background(), LogsOptions{Admin: tt.admin, Limit: 10}, &out, &errb)
			if code != tt.wantCode || !strings.Contains(out.String(), tt.wantOut) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.wantCode, out.String(), errb.String())
			}
			if tt.wantCode != 0 {
				if out.Len() != 0 || strings.Contains(errb.String(), "no daemon answered") {
					t.Errorf("fell back on a daemon answer:\nstdout: %s\nstderr: %s", out.String(), errb.String())
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr %q lacks %q", errb.String(), w)
				}
			}
		})
	}
}

// TestLogsStatusValidation: --status is checked locally with the admin
// API's rules (usage error, exit 2, nothing asked); what the API accepts
// passes through.
func TestLogsStatusValidation(t *testing.T) {
	store, err := logs.Open(filepath.Join(t.TempDir(), logs.FileName), logs.Options{Logger: discardLogger(), Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var asked atomic.Int32
	api := store.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/logs") { // not the /-/healthy probe
			asked.Add(1)
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	for _, status := range []string{"", "success", "failed", "404", "100", "599", "weird", "Failed", "99", "600", "4xx", " 404"} {
		t.Run(status, func(t *testing.T) {
			// What the daemon itself answers for this value.
			resp, err := http.Get(srv.URL + "/api/v1/logs?status=" + url.QueryEscape(status))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			apiOK := resp.StatusCode == http.StatusOK
			if !apiOK && resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("API answered %s", resp.Status)
			}

			before := asked.Load()
			var out, errb bytes.Buffer
			code := Logs(context.Background(), LogsOptions{Admin: srv.URL, Status: status, Limit: 10}, &out, &errb)
			if apiOK {
				if code != 0 || asked.Load() != before+1 {
					t.Errorf("accepted by the API: exit %d, asked %d\nstderr: %s", code, asked.Load()-before, errb.String())
				}
				return
			}
			if code != 2 || asked.Load() != before || !strings.Contains(errb.String(), "--status:") ||
				!strings.Contains(errb.String(), fmt.Sprintf("%q", status)) || out.Len() != 0 {
				t.Errorf("rejected by the API: exit %d, asked %d\nstdout: %s\nstderr: %s", code, asked.Load()-before, out.String(), errb.String())
			}
		})
	}
}

// TestLogsTableMessage: the MESSAGE column shows the webhook's result
// message when it has one, else the error message; --json is unchanged.
func TestLogsTableMessage(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		result, error string
		want, notWant string
	}{
		{"failed with a message", "disk full on /srv", "exit_code 3", "disk full on /srv", "exit_code 3"},
		{"failed without a message", "", "exit_code 3", "exit_code 3", ""},
		{"success", "deployed", "", "deployed", ""},
		{"code error", "", "Webhook code execution error: boom", "Webhook code execution error: boom", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			r := &logs.Record{Time: t0.Add(time.Duration(i) * time.Second), Webhook: "hook", HTTPStatus: 500,
				ResultMessage: tt.result, ErrorMessage: tt.error}
			writeStore(t, data, r)
			var out, errb bytes.Buffer
			if code := Logs(context.Background(), LogsOptions{Data: data, Limit: 10}, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 || !strings.HasSuffix(lines[1], tt.want) ||
				(tt.notWant != "" && strings.Contains(lines[1], tt.notWant)) {
				t.Errorf("table:\n%s", out.String())
			}
			out.Reset()
			if code := Logs(context.Background(), LogsOptions{Data: data, Limit: 10, JSON: true}, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if !strings.Contains(out.String(), fmt.Sprintf(`"error_message":%q`, tt.error)) {
				t.Errorf("--json changed the record: %s", out.String())
			}
		})
	}
}

// TestLogsTableMessageFromDaemon: a failed webhook with a message, end to
// end through a running daemon's admin API.
func TestLogsTableMessageFromDaemon(t *testing.T) {
	d := startDaemon(t, map[string]string{"hooks.yaml": cliFiles}, nil)
	if r := do(t, "POST", d.pub+DefaultPrefix+"failing", "{}", nil); r.Status < 400 {
		t.Fatalf("failing answered %d %s", r.Status, r.Body)
	}
	var out, errb bytes.Buffer
	var code int
	eventually(t, 10*time.Second, "the record", func() bool {
		out.Reset()
		code = Logs(context.Background(), LogsOptions{Admin: d.admin, Webhook: "failing", Limit: 10}, &out, &errb)
		return code != 0 || strings.Count(out.String(), "\n") >= 2
	})
	if code != 0 || !strings.Contains(out.String(), "disk full on /srv") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
}
