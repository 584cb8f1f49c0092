package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testDaemon is a running Serve on loopback ports.
type testDaemon struct {
	t      testing.TB
	dir    string
	data   string
	pub    string // http://127.0.0.1:port
	admin  string
	cancel context.CancelFunc
	done   chan error
}

// writeFiles writes name -> content below dir (creating folders).
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// startDaemon runs Serve over files; mod may adjust the options.
func startDaemon(t testing.TB, files map[string]string, mod func(*Options)) *testDaemon {
	t.Helper()
	return startDaemonLogged(t, files, mod, nil)
}

// startDaemonLogged is startDaemon with the daemon's log written to logw
// as JSON lines (debug level) when logw is not nil.
func startDaemonLogged(t testing.TB, files map[string]string, mod func(*Options), logw io.Writer) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	o := DefaultOptions()
	o.Dir = dir
	o.Data = t.TempDir()
	o.Listen = "127.0.0.1:0"
	o.AdminListen = "127.0.0.1:0"
	o.RescanInterval = 0
	o.ShutdownTimeout = 10 * time.Second
	if mod != nil {
		mod(&o)
	}
	ready := make(chan [2]string, 1)
	o.OnReady = func(pub, adm string) { ready <- [2]string{pub, adm} }
	ctx, cancel := context.WithCancel(context.Background())
	d := &testDaemon{t: t, dir: dir, data: o.Data, cancel: cancel, done: make(chan error, 1)}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	switch {
	case logw != nil:
		logger = slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	case testing.Verbose():
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	go func() { d.done <- Serve(ctx, o, logger) }()
	select {
	case addrs := <-ready:
		d.pub, d.admin = "http://"+addrs[0], "http://"+addrs[1]
	case err := <-d.done:
		cancel()
		t.Fatalf("Serve returned early: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("Serve did not start")
	}
	t.Cleanup(d.stop)
	return d
}

func (d *testDaemon) stop() {
	d.cancel()
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		d.t.Error("Serve did not stop")
	}
}

// response is a decoded answer.
type response struct {
	Status  int
	Header  http.Header
	Body    string
	Message any
}

func do(t testing.TB, method, url string, body string, headers map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
	var m map[string]any
	if json.Unmarshal(b, &m) == nil {
		r.Message = m["message"]
	}
	return r
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// getJSON fetches url and decodes JSON into v.
func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", url, err)
	}
	return resp.StatusCode
}

// metricsText returns the admin /metrics text.
func metricsText(t testing.TB, admin string) string {
	t.Helper()
	return getText(t, admin+"/metrics")
}

// getText returns the body of a GET of url.
func getText(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// logBuffer collects a daemon's JSON log lines (safe for concurrent use).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns the log so far.
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Reset empties the log.
func (l *logBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
}

// entries returns the decoded log lines whose msg is msg.
func (l *logBuffer) entries(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}
