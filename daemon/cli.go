package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"towerhook/definitions"
	"towerhook/logs"
	"towerhook/lua"
)

// ValidateOptions configure Validate.
type ValidateOptions struct {
	Dir            string
	SecretsDir     string
	RequireSecrets bool
	// RetentionDays is serve's --log-retention-days: a dedup_window longer
	// than it is an error (0 = forever).
	RetentionDays int
}

// Validate loads and compiles a directory exactly as serve does and prints
// a summary (exit 0) or every error as file:line: message (exit 1).
// Without secrets it compiles with placeholders and lists the secrets needed.
func Validate(o ValidateOptions, stdout, stderr io.Writer) int {
	if st, err := os.Stat(o.Dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "%s: not a readable directory\n", o.Dir)
		return 1
	}
	allowMissing := o.SecretsDir == "" && !o.RequireSecrets && !hasSecretEnv(os.Environ())
	set, err := loadSet(o.Dir, definitions.Options{SecretsDir: o.SecretsDir, AllowMissingSecrets: allowMissing, RetentionDays: o.RetentionDays})
	if err == nil {
		var t *table
		t, err = buildTable(set, buildOptions{
			Logger: slog.New(slog.DiscardHandler), DefaultTimeout: DefaultTimeout,
			SkipUsers: !canCheckUsers(),
		})
		if t != nil {
			t.close()
		}
	}
	nTests, nTestFiles := 0, 0
	if err == nil {
		var terrs definitions.Errors
		if nTests, nTestFiles, terrs = checkTests(o.Dir, set); len(terrs) > 0 {
			err = terrs
		}
	}
	if err != nil {
		for _, e := range describeErrors(err) {
			fmt.Fprintln(stderr, prefixPath(o.Dir, e))
		}
		fmt.Fprintf(stderr, "%d error(s)\n", len(describeErrors(err)))
		return 1
	}
	enabled := 0
	for _, w := range set.Webhooks() {
		if w.Active {
			enabled++
		}
	}
	fmt.Fprintf(stdout, "OK: %d webhooks (%d enabled), %d authenticators in %d files; config hash %s\n",
		len(set.Webhooks()), enabled, len(set.Authenticators()), len(set.Files()), shortHash(set.Hash()))
	if nTestFiles > 0 {
		fmt.Fprintf(stdout, "tests: %d in %d files (run them with towerhook test)\n", nTests, nTestFiles)
	}
	if miss := set.MissingSecrets(); len(miss) > 0 {
		fmt.Fprintf(stdout, "secrets needed (not checked: no --secrets-dir): %s\n", strings.Join(miss, ", "))
	}
	return 0
}

// canCheckUsers reports whether run_as users are checked by validate: as
// root every user can be checked; otherwise a CI runner could not switch to
// them anyway, so only serve checks.
func canCheckUsers() bool { return os.Geteuid() == 0 }

func hasSecretEnv(env []string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, "TOWERHOOK_SECRET_") {
			return true
		}
	}
	return false
}

// prefixPath makes "file:line: msg" name the file as the user passed the dir.
func prefixPath(dir, e string) string {
	if i := strings.Index(e, ":"); i > 0 && !strings.HasPrefix(e, "/") {
		first := e[:i]
		if strings.HasSuffix(first, ".yaml") || strings.HasSuffix(first, ".yml") {
			return filepath.ToSlash(filepath.Join(dir, first)) + e[i:]
		}
	}
	return e
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// CallOptions configure Call. Zero values take the CLI defaults: Method
// POST, Prefix DefaultPrefix, RemoteAddr 127.0.0.1, Timeout DefaultTimeout.
type CallOptions struct {
	Dir        string
	Endpoint   string
	Method     string
	Headers    []string
	Data       string
	SecretsDir string
	// RemoteAddr is the client address the request appears to come from:
	// an IP address or IP:port ([v6]:port).
	RemoteAddr string
	// Prefix is normalised and checked exactly as serve's --prefix.
	Prefix  string
	Timeout time.Duration
	// Mock is a file with a mocks mapping (as a test's): requests and
	// subprocess calls are answered from it, nothing is sent or started.
	Mock string
	// DisableRequests and DisableSubprocess remove those modules.
	DisableRequests, DisableSubprocess bool
}

// Call runs one request through the same pipeline as serve, without a
// server or a call log, and prints status, body and log lines. Exit 0 on 2xx,
// 1 on any other answer or a definitions error, 2 on a usage error.
func Call(ctx context.Context, o CallOptions, stdout, stderr io.Writer) int {
	if o.Method == "" {
		o.Method = http.MethodPost
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.RemoteAddr == "" {
		o.RemoteAddr = "127.0.0.1"
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	var err error
	o.Prefix, err = normalizePrefix(o.Prefix)
	var req *http.Request
	if err == nil {
		req, err = callRequest(ctx, o)
	}
	if err != nil {
		fmt.Fprintf(stderr, "towerhook call: %v\n", err)
		return 2
	}
	if strings.HasPrefix(o.Data, "@") {
		body, err := os.ReadFile(o.Data[1:])
		if err != nil {
			fmt.Fprintf(stderr, "reading body: %v\n", err)
			return 1
		}
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}

	eff, code := callMocks(o.Mock, stderr)
	if code != 0 {
		return code
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	set, err := loadSet(o.Dir, definitions.Options{SecretsDir: o.SecretsDir})
	var t *table
	if err == nil {
		t, err = buildTable(set, buildOptions{Logger: logger, DefaultTimeout: o.Timeout, LuaMetrics: lua.NewMetrics(nil),
			DisableRequests: o.DisableRequests, DisableSubprocess: o.DisableSubprocess})
	}
	if err != nil {
		for _, e := range describeErrors(err) {
			fmt.Fprintln(stderr, prefixPath(o.Dir, e))
		}
		return 1
	}
	defer t.close()

	// Without an explicit Content-Type, send what the target webhook
	// expects (as its caller would): form or JSON, none for GET.
	if req.ContentLength > 0 && req.Method != http.MethodGet && req.Header.Get("Content-Type") == "" {
		ct := "application/json"
		// As the pipeline routes: the decoded path after the prefix.
		if ep, ok := strings.CutPrefix(req.URL.Path, o.Prefix); ok {
			if wh, ok := set.Lookup(ep, req.Method); ok && wh.ContentType == definitions.ContentForm {
				ct = "application/x-www-form-urlencoded"
			}
		}
		req.Header.Set("Content-Type", ct)
	}

	var cur atomic.Pointer[table]
	cur.Store(t)
	opts := DefaultOptions()
	opts.Prefix = o.Prefix
	var rec *logs.Record
	keep := func(_ context.Context, r *logs.Record) error { rec = r; return nil }
	p := newPipeline(opts, &cur, newMetrics(prometheus.NewRegistry()), logger, keep)
	rw := httptest.NewRecorder()
	if eff != nil {
		req = req.WithContext(lua.WithEffects(req.Context(), eff))
	}
	p.ServeHTTP(rw, req)

	fmt.Fprintf(stdout, "HTTP %d\n", rw.Code)
	out := rw.Body.Bytes()
	stdout.Write(out)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		fmt.Fprintln(stdout)
	}
	if rec != nil {
		if rec.ErrorMessage != "" {
			fmt.Fprintf(stdout, "error: %s\n", rec.ErrorMessage)
		}
		for _, l := range rec.LogLines {
			fmt.Fprintf(stdout, "log: %s\n", l)
		}
		printCallSummary(stdout, o.Dir, set, rec, eff)
	}
	if rw.Code >= 200 && rw.Code < 300 {
		return 0
	}
	return 1
}

// callRequest builds Call's request as serve would receive it, checking
// every usage input first (never a panic on odd input). o.Prefix must be
// normalised already. A Data of @file leaves the body to the caller.
func callRequest(ctx context.Context, o CallOptions) (*http.Request, error) {
	remote, err := parseRemoteAddr(o.RemoteAddr)
	if err != nil {
		return nil, err
	}
	header := http.Header{}
	for _, h := range o.Headers {
		k, v, ok := strings.Cut(h, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("bad header %q (want 'Key: Value')", h)
		}
		header.Add(k, strings.TrimSpace(v))
	}
	// The request line a client would send: ParseRequestURI, as net/http
	// does, so "//x" stays a path and "?a=1" becomes the query (GET payload).
	target := o.Prefix + strings.TrimPrefix(o.Endpoint, "/")
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %v", o.Endpoint, err)
	}
	var body []byte
	if !strings.HasPrefix(o.Data, "@") {
		body = []byte(o.Data)
	}
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(o.Method), "/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("-X %q: not a valid HTTP method", o.Method)
	}
	req.URL, req.RequestURI = u, u.RequestURI()
	// net/http moves Host out of the header map; default as httptest.NewRequest.
	req.Host = "example.com"
	if h := header.Get("Host"); h != "" {
		req.Host = h
		header.Del("Host")
	}
	req.Header = header
	req.RemoteAddr = remote
	return req, nil
}

// parseRemoteAddr accepts an IP address (v4 or v6) or IP:port ([v6]:port)
// and returns the request's RemoteAddr (port 40000 when none is given).
func parseRemoteAddr(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 40000).String(), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), nil
	}
	return "", fmt.Errorf("--remote-addr %q: want an IP address or IP:port (IPv6 with a port in brackets: [::1]:8080)", s)
}

// LogsOptions configure Logs.
type LogsOptions struct {
	Admin         string
	Data          string
	Webhook       string
	Authenticator string
	Status        string
	Since         string
	Until         string
	Limit         int
	JSON          bool
	// Cursor continues a listing where the previous page ended; All
	// prints every page.
	Cursor string
	All    bool
	// Show is the id of the one record to print (`logs show ID`).
	Show string
	// Follow prints new calls as they are logged until ctx ends, polling
	// the daemon every PollInterval (default 1s).
	Follow       bool
	PollInterval time.Duration
	// Local prints times in the local zone instead of UTC.
	Local bool
	// Check checks the store instead of printing records (logs_check.go).
	Check bool
}

// Logs prints call log records from the running daemon's admin API, or
// from the store under --data when no daemon is listening (a connection
// failure). An error answer from the daemon is printed with exit 1; a bad
// flag value is a usage error (exit 2), checked before asking. With Check
// it checks the store instead (towerhook logs --check).
func Logs(ctx context.Context, o LogsOptions, stdout, stderr io.Writer) int {
	if o.Check {
		return checkLog(o, stdout, stderr)
	}
	now := time.Now()
	f := logs.Filter{Webhook: o.Webhook, Authenticator: o.Authenticator, Status: o.Status, Limit: o.Limit}
	var err error
	// The admin API's own check (logs.ParseFilter): success, failed or an
	// HTTP code.
	if _, err = logs.ParseFilter(url.Values{"status": {o.Status}}, now); err != nil {
		fmt.Fprintf(stderr, "--status: %v\n", err)
		return 2
	}
	if f.Since, err = logs.ParseTime(o.Since, now); err != nil {
		fmt.Fprintf(stderr, "--since: %v\n", err)
		return 2
	}
	if f.Until, err = logs.ParseTime(o.Until, now); err != nil {
		fmt.Fprintf(stderr, "--until: %v\n", err)
		return 2
	}
	if o.Limit < 1 || o.Limit > logs.MaxLimit {
		fmt.Fprintf(stderr, "--limit %d: want 1 to %d (more with --all)\n", o.Limit, logs.MaxLimit)
		return 2
	}
	f.Cursor = o.Cursor
	if o.Follow && (o.All || o.Cursor != "" || o.Until != "" || o.Show != "") {
		fmt.Fprintln(stderr, "--follow shows new calls: it does not go with --all, --cursor, --until or show")
		return 2
	}
	src, code := openLogSource(ctx, o, stderr)
	if src == nil {
		return code
	}
	defer src.close()
	switch {
	case o.Show != "":
		return showLog(src, o, stdout, stderr)
	case o.Follow:
		return followLogs(src, o, f, stdout, stderr)
	}
	return listLogs(src, o, f, stdout, stderr)
}

// isNoDaemon reports whether err from logs.FetchRemote means nothing is
// listening at the admin address (the connection could not be made), the
// one case in which Logs falls back to the store.
func isNoDaemon(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func prefixes(ps []netip.Prefix) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if p.IsSingleIP() {
			out = append(out, p.Addr().String())
		} else {
			out = append(out, p.String())
		}
	}
	return out
}
