package daemon

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"towerhook/definitions"
	"towerhook/lua"
)

// ReloadResult reports one reload attempt.
type ReloadResult struct {
	// Status is "success", "failure" or "unchanged".
	Status string    `json:"status"`
	Reason string    `json:"reason"`
	Hash   string    `json:"config_hash"`
	Errors []string  `json:"errors,omitempty"`
	Time   time.Time `json:"time"`
}

// reloader owns the routing table: it serialises every reload (watcher,
// periodic rescan, SIGHUP, admin API) in one goroutine and swaps the table
// with one atomic store once the whole directory loaded and compiled.
type reloader struct {
	dir        string
	defOpts    definitions.Options
	buildOpts  buildOptions
	logger     *slog.Logger
	metrics    *metrics
	luaMetrics *lua.Metrics
	current    atomic.Pointer[table]
	requests   chan reloadRequest
	// subscribers are told of every new table after the swap (the job
	// scheduler: README "Delivery").
	subscribers []func(*table)
	// settle holds back hinted reloads while a file is being written in
	// place (settle.go); nil: never. Used by the reload loop only.
	settle *settler

	mu       sync.Mutex // guards the fields below (read by the admin API)
	last     ReloadResult
	lastGood time.Time
	ready    bool
}

type reloadRequest struct {
	reason string
	done   chan ReloadResult
	// hinted: a file event asked for it; it waits until changed files are
	// settled. Explicit reloads (SIGHUP, admin API) load at once.
	hinted bool
}

func newReloader(dir string, defOpts definitions.Options, bo buildOptions, m *metrics, logger *slog.Logger) *reloader {
	r := &reloader{
		dir: dir, defOpts: defOpts, buildOpts: bo, logger: logger, metrics: m,
		luaMetrics: bo.LuaMetrics,
		requests:   make(chan reloadRequest, 16),
	}
	r.current.Store(emptyTable())
	return r
}

// emptyTable serves 404 for everything until the first good load.
func emptyTable() *table {
	return &table{set: &definitions.Set{}, routes: map[definitions.RouteKey]*route{}, auths: map[string]*authRoute{}}
}

// run serialises reloads until ctx is done.
func (r *reloader) run(ctx context.Context, periodic time.Duration) {
	var tick <-chan time.Time
	if periodic > 0 {
		t := time.NewTicker(periodic)
		defer t.Stop()
		tick = t.C
	}
	held := time.NewTimer(time.Hour)
	held.Stop()
	defer held.Stop()
	postponed := "" // the reason of a hinted reload held back by settle
	hinted := func(reason string) {
		wait, file := r.settle.wait(time.Now(), definitions.StatFiles(r.dir))
		if wait == 0 {
			if file != "" {
				r.logger.Warn("definitions file still changing; loading it anyway", "file", file, "waited", r.settle.maxWait)
			}
			postponed = ""
			r.reload(reason)
			return
		}
		if postponed == "" {
			r.logger.Info("reload held back: a definitions file is being written", "file", file, "reason", reason)
		}
		postponed = reason
		held.Reset(wait)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-r.requests:
			if req.hinted {
				hinted(req.reason)
				continue
			}
			res := r.reload(req.reason)
			if req.done != nil {
				req.done <- res
			}
		case <-tick:
			hinted("periodic")
		case <-held.C:
			hinted(postponed)
		}
	}
}

// trigger asks for an explicit reload without waiting; bursts collapse in
// the queue.
func (r *reloader) trigger(reason string) {
	select {
	case r.requests <- reloadRequest{reason: reason}:
	default:
	}
}

// hint asks for a reload once changed files have settled (file events).
func (r *reloader) hint(reason string) {
	select {
	case r.requests <- reloadRequest{reason: reason, hinted: true}:
	default:
	}
}

// reloadWait asks for a reload and waits for its result.
func (r *reloader) reloadWait(ctx context.Context, reason string) (ReloadResult, bool) {
	done := make(chan ReloadResult, 1)
	select {
	case r.requests <- reloadRequest{reason: reason, done: done}:
	case <-ctx.Done():
		return ReloadResult{}, false
	}
	select {
	case res := <-done:
		return res, true
	case <-ctx.Done():
		return ReloadResult{}, false
	}
}

// reload does all fallible work, then one atomic swap. It is only called
// from run (or before run starts).
func (r *reloader) reload(reason string) ReloadResult {
	now := time.Now()
	res := ReloadResult{Reason: reason, Time: now}
	if r.settle != nil {
		r.settle.loading(definitions.StatFiles(r.dir))
	}
	set, err := loadSet(r.dir, r.defOpts)
	var t *table
	if err == nil {
		cur := r.current.Load()
		if cur.set != nil && cur.engine != nil && set.Hash() == cur.hash {
			res.Status, res.Hash = "unchanged", set.Hash()
			r.metrics.reloads.WithLabelValues("unchanged").Inc()
			// Back to the serving content (e.g. a broken file reverted): healthy
			// again. A successful reload, as the admin API reports it too.
			r.metrics.reloadOK.Set(1)
			r.metrics.reloadOKTime.Set(float64(now.UnixNano()) / 1e9)
			r.logger.Debug("definitions unchanged", "reason", reason, "config_hash", set.Hash())
			r.record(res, true)
			return res
		}
		t, err = buildTable(set, r.buildOpts)
	}
	if err != nil {
		res.Status = "failure"
		res.Errors = describeErrors(err)
		res.Hash = r.current.Load().hash
		r.metrics.reloads.WithLabelValues("failure").Inc()
		r.metrics.reloadOK.Set(0)
		for _, e := range res.Errors {
			r.logger.Error("definitions error", "reason", reason, "error", e)
		}
		if res.Hash == "" {
			r.logger.Error("reload failed; no good definitions yet, webhooks answer 404", "reason", reason, "errors", len(res.Errors))
		} else {
			r.logger.Error("reload failed; keeping the last good definitions", "reason", reason, "errors", len(res.Errors), "config_hash", res.Hash)
		}
		r.record(res, false)
		return res
	}
	old := r.current.Load()
	// Series of removed definitions go once the old table's last request is
	// done (an in-flight request would otherwise re-create them).
	old.onClose = func() { r.forgetRemoved(old, r.current.Load()) }
	r.current.Store(t)
	old.retire()
	for _, f := range r.subscribers {
		f(t)
	}

	res.Status, res.Hash = "success", t.hash
	r.metrics.reloads.WithLabelValues("success").Inc()
	r.metrics.reloadOK.Set(1)
	r.metrics.reloadOKTime.Set(float64(now.UnixNano()) / 1e9)
	r.metrics.configHash.Set(hashValue(t.hash))
	enabled := 0
	for _, w := range t.set.Webhooks() {
		if w.Active {
			enabled++
		}
	}
	r.metrics.definitions.WithLabelValues("webhook").Set(float64(len(t.set.Webhooks())))
	r.metrics.definitions.WithLabelValues("webhook_enabled").Set(float64(enabled))
	r.metrics.definitions.WithLabelValues("authenticator").Set(float64(len(t.set.Authenticators())))
	r.logger.Info("definitions loaded", "reason", reason, "webhooks", len(t.set.Webhooks()),
		"authenticators", len(t.set.Authenticators()), "config_hash", t.hash, "duration", time.Since(now))
	r.record(res, true)
	return res
}

// forgetRemoved deletes metric series of definitions that are gone.
func (r *reloader) forgetRemoved(old, cur *table) {
	if old.set == nil {
		return
	}
	for _, w := range old.set.Webhooks() {
		if !hasWebhook(cur.set, w.Reference) {
			r.metrics.forgetWebhook(w.Reference)
			r.luaMetrics.Forget(lua.KindWebhook, w.Reference)
		}
	}
	for _, a := range old.set.Authenticators() {
		if _, ok := cur.set.Authenticator(a.Reference); !ok {
			r.metrics.forgetAuthenticator(a.Reference)
			r.luaMetrics.Forget(lua.KindAuthenticator, a.Reference)
		}
	}
}

func hasWebhook(s *definitions.Set, ref string) bool {
	ws := s.Webhooks()
	i := sort.Search(len(ws), func(i int) bool { return ws[i].Reference >= ref })
	return i < len(ws) && ws[i].Reference == ref
}

func (r *reloader) record(res ReloadResult, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = res
	if ok {
		r.lastGood = res.Time
		r.ready = true
	}
}

// status returns the last reload result, the last good time and readiness.
func (r *reloader) status() (ReloadResult, time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.lastGood, r.ready
}
