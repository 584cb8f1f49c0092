package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"towerhook/definitions"
	"towerhook/logs"
	"towerhook/lua"
)

// Debounce of filesystem events (DESIGN section 8).
const (
	watchQuiet    = 250 * time.Millisecond
	watchMaxDelay = 2 * time.Second
)

// Serve runs the daemon until ctx is done: it opens the call log, binds both
// listeners, loads the definitions, watches them and serves. On
// cancellation it stops being ready, drains in-flight requests, flushes the
// call log and returns nil. Start-up failures return one clear error.
func Serve(ctx context.Context, o Options, logger *slog.Logger) error {
	if err := checkOptions(&o); err != nil {
		return err
	}
	adminHosts, err := parseAdminHosts(o.AdminHosts)
	if err != nil {
		return err
	}
	if st, err := os.Stat(o.Dir); err != nil {
		return fmt.Errorf("definitions directory: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("definitions directory %s is not a directory", o.Dir)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(reg)
	lm := lua.NewMetrics(reg)
	shared := lua.NewShared(o.MaxConcurrentProcess, lm)
	shared.GuardMemory(uint64(o.MaxMemory), logger)
	defer shared.Close()

	if err := os.MkdirAll(o.Data, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	store, err := logs.Open(filepath.Join(o.Data, logs.FileName), logs.Options{
		Logger: logger, Registerer: reg, Sync: o.LogSync, RetentionDays: o.LogRetentionDays,
		MaxSizeBytes: int64(o.LogMaxSize), Recover: o.LogRecover,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			logger.Error("closing call log", "err", err)
		}
	}()

	pubLn, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("public listener: %w", err)
	}
	defer pubLn.Close()
	admLn, err := net.Listen("tcp", o.AdminListen)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	defer admLn.Close()

	rl := newReloader(o.Dir, definitions.Options{SecretsDir: o.SecretsDir, RetentionDays: o.LogRetentionDays}, buildOptions{
		Logger: logger, LuaMetrics: lm, DefaultTimeout: o.Timeout,
		DisableSubprocess: o.DisableSubprocess, DisableRequests: o.DisableRequests,
		MaxSubprocesses: o.MaxConcurrentProcess, PoolSize: o.MaxConcurrent, Shared: shared,
	}, m, logger)
	rl.settle = newSettler(o.ReloadSettle)

	p := newPipeline(o, &rl.current, m, logger, store.Append)
	p.expect = store.Expect
	p.durable, p.logFailing = o.LogSync, store.Failing
	sched, err := startDelivery(p, store, &rl.current, m, logger)
	if err != nil {
		return err
	}
	rl.subscribers = append(rl.subscribers, sched.tableChanged)
	rl.reload("startup")
	var draining atomic.Bool
	// A call runs the authenticator and the webhook, each within the code
	// timeout (at most MaxCodeTimeout), then commits its call log record.
	longest := 2*maxDuration(o.Timeout, MaxCodeTimeout) + time.Minute
	pub := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      longest,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	adm := &http.Server{
		Handler:           guardAdmin(withJobsAPI(newAdmin(reg, rl, store, &draining, o.Version, p, sched), store, sched), adminHosts),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go rl.run(bg, o.RescanInterval)
	go sched.run(bg)
	go pruneClaims(bg, p.dedup)
	w := newWatcher(o.Dir, logger, watchQuiet, watchMaxDelay)
	go w.run(bg, func(reason string) { rl.hint("watch: " + reason) })
	if o.SecretsDir != "" {
		// A Kubernetes Secret update swaps the ..data link: reload for it too.
		// (Plain edits of secret files are picked up by the periodic rescan.)
		sw := newWatcher(o.SecretsDir, logger, watchQuiet, watchMaxDelay)
		go sw.run(bg, func(reason string) { rl.hint("secrets watch: " + reason) })
	}
	if o.Reload != nil {
		go func() {
			for {
				select {
				case <-bg.Done():
					return
				case <-o.Reload:
					rl.trigger("SIGHUP")
				}
			}
		}()
	}

	errc := make(chan error, 2)
	go func() { errc <- pub.Serve(pubLn) }()
	go func() { errc <- adm.Serve(admLn) }()
	logger.Info("towerhook serving", "listen", pubLn.Addr().String(), "admin", admLn.Addr().String(),
		"dir", o.Dir, "data", o.Data, "prefix", o.Prefix, "version", o.Version)
	// Changes made from now on are seen: wait until the watches are set up.
	select {
	case <-w.ready():
		// Close the gap between the start-up load and the first watch.
		rl.hint("watch established")
	case <-time.After(10 * time.Second):
		logger.Warn("directory watch not established yet; relying on the periodic rescan")
	case <-ctx.Done():
	}
	if o.OnReady != nil {
		o.OnReady(pubLn.Addr().String(), admLn.Addr().String())
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	draining.Store(true)
	logger.Info("shutting down: draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	if err := pub.Shutdown(sctx); err != nil {
		logger.Warn("public listener did not drain in time", "err", err)
	}
	sched.stop(sctx)
	if err := adm.Shutdown(sctx); err != nil {
		adm.Close()
	}
	stopBG()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	logger.Info("towerhook stopped")
	return nil
}

func checkOptions(o *Options) error {
	p, err := normalizePrefix(o.Prefix)
	if err != nil {
		return err
	}
	o.Prefix = p
	if o.Timeout <= 0 || o.Timeout > MaxCodeTimeout {
		return fmt.Errorf("--timeout must be positive and at most %s", MaxCodeTimeout)
	}
	if o.MaxBody <= 0 {
		return fmt.Errorf("--max-body must be positive")
	}
	if o.MaxConcurrent <= 0 {
		return fmt.Errorf("--max-concurrent must be positive")
	}
	if o.ReloadSettle < 0 {
		return fmt.Errorf("--reload-settle must be 0 (load at once) or more")
	}
	if o.LogRetentionDays < 0 {
		return fmt.Errorf("--log-retention-days must be 0 (forever) or more")
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	return nil
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// newPipeline builds the public handler.
func newPipeline(o Options, cur *atomic.Pointer[table], m *metrics, logger *slog.Logger, fn appendFunc) *pipeline {
	return &pipeline{
		prefix:   o.Prefix,
		maxBody:  int64(o.MaxBody),
		current:  cur,
		sem:      make(chan struct{}, o.MaxConcurrent),
		busyWait: 100 * time.Millisecond,
		metrics:  m,
		logger:   logger,
		appendFn: fn,
	}
}

// newAdmin builds the admin listener's handler (p runs replays; sched,
// when not nil, retries and cancels jobs from the console).
func newAdmin(reg *prometheus.Registry, rl *reloader, store *logs.Store, draining *atomic.Bool, version string, p *pipeline, sched *scheduler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, r *http.Request) {
		writeMessage(w, http.StatusOK, "Healthy")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, r *http.Request) {
		_, _, ready := rl.status()
		switch {
		case draining.Load():
			writeMessage(w, http.StatusServiceUnavailable, "Shutting down")
		case !ready:
			writeMessage(w, http.StatusServiceUnavailable, "Definitions not loaded")
		default:
			writeMessage(w, http.StatusOK, "Ready")
		}
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		res, ok := rl.reloadWait(r.Context(), "admin API")
		if !ok {
			writeMessage(w, http.StatusServiceUnavailable, "Reload not completed")
			return
		}
		status := http.StatusOK
		if res.Status == "failure" {
			status = http.StatusInternalServerError
		}
		writeJSON(w, status, res)
	})
	mux.HandleFunc("GET /api/v1/definitions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, definitionsView(rl, version))
	})
	if store != nil {
		h := store.Handler()
		mux.Handle("/api/v1/logs", h)
		mux.Handle("/api/v1/logs/", h)
	}
	mountConsole(mux, rl, store, p, sched, version)
	return mux
}

type webhookView struct {
	Reference     string  `json:"reference"`
	Name          string  `json:"name"`
	Active        bool    `json:"active"`
	Endpoint      string  `json:"endpoint"`
	Method        string  `json:"method"`
	ContentType   string  `json:"content_type"`
	Authenticator string  `json:"authenticator"`
	RunAs         string  `json:"run_as,omitempty"`
	Timeout       float64 `json:"timeout_seconds"`
	File          string  `json:"file"`
	Line          int     `json:"line"`
}

type authenticatorView struct {
	Reference      string   `json:"reference"`
	Name           string   `json:"name"`
	AllowedIPs     []string `json:"allowed_ip_addresses"`
	TrustedProxies []string `json:"trusted_proxy_ips"`
	File           string   `json:"file"`
	Line           int      `json:"line"`
}

type definitionsResponse struct {
	Version        string              `json:"version"`
	ConfigHash     string              `json:"config_hash"`
	LoadedAt       *time.Time          `json:"loaded_at"`
	LastReload     ReloadResult        `json:"last_reload"`
	LastSuccess    *time.Time          `json:"last_reload_success_time"`
	ReloadOK       bool                `json:"last_reload_successful"`
	Errors         []string            `json:"errors"`
	Webhooks       []webhookView       `json:"webhooks"`
	Authenticators []authenticatorView `json:"authenticators"`
	Files          []string            `json:"files"`
}

func definitionsView(rl *reloader, version string) definitionsResponse {
	t := rl.current.Load()
	last, good, _ := rl.status()
	resp := definitionsResponse{
		Version: version, ConfigHash: t.hash, LastReload: last,
		ReloadOK: last.Status != "failure", Errors: last.Errors,
		Webhooks: []webhookView{}, Authenticators: []authenticatorView{}, Files: t.set.Files(),
	}
	if resp.Errors == nil {
		resp.Errors = []string{}
	}
	if resp.Files == nil {
		resp.Files = []string{}
	}
	if !t.loaded.IsZero() {
		lt := t.loaded
		resp.LoadedAt = &lt
	}
	if !good.IsZero() {
		resp.LastSuccess = &good
	}
	for _, w := range t.set.Webhooks() {
		resp.Webhooks = append(resp.Webhooks, webhookView{
			Reference: w.Reference, Name: w.Name, Active: w.Active, Endpoint: w.Endpoint,
			Method: strings.ToLower(w.Method), ContentType: w.ContentType,
			Authenticator: w.Authenticator.Reference, RunAs: w.RunAs,
			Timeout: t.routes[definitions.RouteKey{Endpoint: w.Endpoint, Method: w.Method}].timeout.Seconds(),
			File:    w.File, Line: w.Line,
		})
	}
	for _, a := range t.set.Authenticators() {
		resp.Authenticators = append(resp.Authenticators, authenticatorView{
			Reference: a.Reference, Name: a.Name,
			AllowedIPs: prefixes(a.AllowedIPs), TrustedProxies: prefixes(a.TrustedProxies),
			File: a.File, Line: a.Line,
		})
	}
	return resp
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeMessage(w, http.StatusInternalServerError, "encoding response failed")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
