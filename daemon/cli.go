package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
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
	set, err := definitions.LoadDir(o.Dir, definitions.Options{SecretsDir: o.SecretsDir, AllowMissingSecrets: allowMissing})
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

// CallOptions configure Call.
type CallOptions struct {
	Dir        string
	Endpoint   string
	Method     string
	Headers    []string
	Data       string
	SecretsDir string
	RemoteAddr string
	Prefix     string
	Timeout    time.Duration
}

// Call runs one request through the same pipeline as serve, without a
// server or a call log, and prints status, body and log lines. Exit 0 on 2xx.
func Call(ctx context.Context, o CallOptions, stdout, stderr io.Writer) int {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	set, err := definitions.LoadDir(o.Dir, definitions.Options{SecretsDir: o.SecretsDir})
	var t *table
	if err == nil {
		t, err = buildTable(set, buildOptions{Logger: logger, DefaultTimeout: o.Timeout, LuaMetrics: lua.NewMetrics(nil)})
	}
	if err != nil {
		for _, e := range describeErrors(err) {
			fmt.Fprintln(stderr, prefixPath(o.Dir, e))
		}
		return 1
	}
	defer t.close()

	var body []byte
	if strings.HasPrefix(o.Data, "@") {
		body, err = os.ReadFile(o.Data[1:])
		if err != nil {
			fmt.Fprintf(stderr, "reading body: %v\n", err)
			return 1
		}
	} else {
		body = []byte(o.Data)
	}
	method := strings.ToUpper(o.Method)
	target := strings.TrimSuffix(o.Prefix, "/") + "/" + strings.TrimPrefix(o.Endpoint, "/")
	req := httptest.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	for _, h := range o.Headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintf(stderr, "bad header %q (want 'Key: Value')\n", h)
			return 2
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if len(body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	addr := o.RemoteAddr
	if a, err := netip.ParseAddr(addr); err == nil {
		addr = netip.AddrPortFrom(a, 40000).String()
	}
	req.RemoteAddr = addr

	var cur atomic.Pointer[table]
	cur.Store(t)
	opts := DefaultOptions()
	opts.Prefix = o.Prefix
	var rec *logs.Record
	keep := func(_ context.Context, r *logs.Record) error { rec = r; return nil }
	p := newPipeline(opts, &cur, newMetrics(prometheus.NewRegistry()), logger, keep)
	rw := httptest.NewRecorder()
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
	}
	if rw.Code >= 200 && rw.Code < 300 {
		return 0
	}
	return 1
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
}

// Logs prints call log records from the running daemon's admin API, or
// from the store under --data when no daemon answers.
func Logs(ctx context.Context, o LogsOptions, stdout, stderr io.Writer) int {
	now := time.Now()
	f := logs.Filter{Webhook: o.Webhook, Authenticator: o.Authenticator, Status: o.Status, Limit: o.Limit}
	var err error
	if f.Since, err = logs.ParseTime(o.Since, now); err != nil {
		fmt.Fprintf(stderr, "--since: %v\n", err)
		return 2
	}
	if f.Until, err = logs.ParseTime(o.Until, now); err != nil {
		fmt.Fprintf(stderr, "--until: %v\n", err)
		return 2
	}
	var page *logs.Page
	var remoteErr error
	if o.Admin != "" && o.Data == "" {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		page, remoteErr = logs.FetchRemote(cctx, &http.Client{Timeout: 5 * time.Second}, o.Admin, f)
		cancel()
	}
	if page == nil {
		// No daemon answered (or --data was given): read the store directly.
		dir := o.Data
		if dir == "" {
			dir = "data"
		}
		store, oerr := logs.Open(filepath.Join(dir, logs.FileName), logs.Options{
			Logger: slog.New(slog.DiscardHandler), ReadOnly: true, OpenTimeout: 2 * time.Second,
		})
		if oerr != nil {
			if remoteErr != nil {
				fmt.Fprintf(stderr, "no daemon answered at %s (%v)\n", o.Admin, remoteErr)
			}
			fmt.Fprintf(stderr, "%v\n", oerr)
			return 1
		}
		defer store.Close()
		page, err = store.Query(f)
		if err != nil {
			fmt.Fprintf(stderr, "query: %v\n", err)
			return 1
		}
	}
	if o.JSON {
		err = logs.WriteJSONLines(stdout, page.Records)
	} else {
		err = logs.WriteTable(stdout, page.Records)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	return 0
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
