package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"towerhook/definitions"
	"towerhook/logs"
	"towerhook/lua"
)

// Console pages on a big call log: 1 000 000 records over 30 days and 10
// webhooks (every 7th failed), the newest at benchNow.
const (
	benchRecords  = 1_000_000
	benchDays     = 30
	benchWebhooks = 10
)

var benchNow = time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)

// fillBenchStore appends the records through the store's own writer (the
// asynchronous path; a dropped record is sent again).
func fillBenchStore(b *testing.B, path string) {
	b.Helper()
	start := time.Now()
	s, err := logs.Open(path, logs.Options{QueueSize: 1 << 16, Now: func() time.Time { return benchNow }})
	if err != nil {
		b.Fatal(err)
	}
	first := benchNow.AddDate(0, 0, -benchDays)
	step := time.Duration(int64(benchDays*24*time.Hour) / benchRecords)
	for i := 0; i < benchRecords; i++ {
		r := &logs.Record{
			Time: first.Add(time.Duration(i+1) * step), Webhook: fmt.Sprint("w", i%benchWebhooks), WebhookName: "Webhook",
			Endpoint: fmt.Sprint("hooks/w", i%benchWebhooks), Method: "POST", Authenticator: "open",
			AuthenticationStatus: logs.AuthSuccess, CodeStatus: logs.CodeSuccess, HTTPStatus: 200,
			ResultMessage: "deployed refs/heads/main", IPAddress: "192.0.2.10", DurationSeconds: 0.0123,
			RequestID: "4f8a0c1e9b7d4c2a8e6f1b3d5a7c9e0f",
			RequestHeaders: map[string]string{"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/abc",
				"X-Github-Event": "push", "X-Hub-Signature-256": "sha256=" + strings.Repeat("ab", 32)},
			RequestPayload: json.RawMessage(`{"ref":"refs/heads/main","repository":{"full_name":"acme/shop"},"pusher":{"name":"alice"},"head_commit":{"id":"9fceb02d0ae598e95dc970b74767f19372d61af8","message":"Fix checkout totals"}}`),
			ConfigHash:     "8d36f83376f6fac2", LogLines: []string{"INFO: deploying refs/heads/main"},
		}
		if i%7 == 0 {
			r.HTTPStatus, r.CodeStatus, r.ResultMessage, r.ErrorMessage = 500, logs.CodeFailed, "", "Webhook code execution error: line 3: deploy failed"
		}
		for {
			err := s.Append(context.Background(), r)
			if !errors.Is(err, logs.ErrDropped) {
				if err != nil {
					b.Fatal(err)
				}
				break
			}
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d records in %v", benchRecords, time.Since(start).Round(time.Millisecond))
}

// newTestConsole serves the console over store with the definitions in
// yaml loaded, without a daemon.
func newTestConsole(tb testing.TB, yaml string, store *logs.Store) (*console, http.Handler) {
	tb.Helper()
	dir := tb.TempDir()
	writeFiles(tb, dir, map[string]string{"hooks.yaml": yaml})
	rl := newReloader(dir, definitions.Options{}, buildOptions{
		Logger: discardLogger(), LuaMetrics: lua.NewMetrics(nil), DefaultTimeout: DefaultTimeout,
	}, newMetrics(prometheus.NewRegistry()), discardLogger())
	if res := rl.reload("test"); res.Status != "success" {
		tb.Fatalf("load: %+v", res)
	}
	c := newConsole(rl, store, DefaultPrefix, "test", discardLogger())
	mux := http.NewServeMux()
	c.mount(mux)
	return c, mux
}

// benchConsole serves the console over the store at path with the bench
// webhooks loaded.
func benchConsole(b *testing.B, path string) http.Handler {
	b.Helper()
	var y strings.Builder
	y.WriteString("cetmix_tower_yaml_version: 1\nrecords:\n- cetmix_tower_model: webhook_authenticator\n  reference: open\n  name: Open\n  code: 'result = {allowed = true}'\n")
	for i := 0; i < benchWebhooks; i++ {
		fmt.Fprintf(&y, "- cetmix_tower_model: webhook\n  reference: w%d\n  name: Webhook %d\n  authenticator_id: open\n  endpoint: hooks/w%d\n  code: 'result = {exit_code = 0}'\n", i, i, i)
	}
	s, err := logs.Open(path, logs.Options{ReadOnly: true, Now: func() time.Time { return benchNow }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	c, h := newTestConsole(b, y.String(), s)
	c.now = func() time.Time { return benchNow }
	return h
}

// BenchmarkConsole1M: server time of console pages (handler only, no
// network) over 1 000 000 records. Target: the calls page <= 50 ms.
func BenchmarkConsole1M(b *testing.B) {
	path := filepath.Join(b.TempDir(), "towerhook.db")
	fillBenchStore(b, path)
	h := benchConsole(b, path)
	for _, p := range []struct{ name, path string }{
		{"calls", "/"},
		{"calls/webhook", "/?webhook=w3"},
		{"calls/webhook+failed", "/?webhook=w3&status=failed"},
		{"calls/no-such-webhook", "/?webhook=gone"}, // every header read, no page filled
		{"calls/page2", ""}, // the Older link of the first page
		{"call", ""},        // the newest call's page
		{"webhooks", "/webhooks"},
	} {
		b.Run(p.name, func(b *testing.B) {
			target := p.path
			switch p.name {
			case "calls/page2":
				target = olderLink(b, h)
			case "call":
				target = "/calls/" + newestCall(b, h)
			}
			cpu0 := processCPU()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", target, w.Code, w.Body.String())
				}
			}
			// The process's CPU time per page: the server's cost, which a
			// machine shared with other work does not inflate as it does
			// the wall time (ns/op).
			b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

func olderLink(b *testing.B, h http.Handler) string {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	body := w.Body.String()
	i := strings.Index(body, `" rel="next"`)
	j := strings.LastIndex(body[:max(i, 0)], `href="`)
	if i < 0 || j < 0 {
		b.Fatal("no Older link")
	}
	return strings.ReplaceAll(body[j+len(`href="`):i], "&amp;", "&")
}

func newestCall(b *testing.B, h http.Handler) string {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	body := w.Body.String()
	i := strings.Index(body, `<a href="/calls/`)
	if i < 0 {
		b.Fatal("no call link")
	}
	return body[i+len(`<a href="/calls/`) : i+len(`<a href="/calls/`)+32]
}
