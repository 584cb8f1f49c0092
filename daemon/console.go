package daemon

// The web console on the admin listener (README "Console"): server-rendered
// pages for people, readable without JavaScript. Templates and assets are
// embedded; every page carries a strict Content-Security-Policy, so nothing
// outside the admin listener is ever loaded and no inline script runs.
// Pages read the call log through its indexes: the calls page is one
// Query (one page of records), a call one Get, and the webhooks page's
// 24-hour counts one bounded header-only scan (logs.Store.CountSince).

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"towerhook/logs"
)

//go:embed console
var consoleFiles embed.FS

// consoleCSP allows the console's own styles, script and data: images,
// nothing else; no framing, forms post only to the admin listener.
const consoleCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// The webhooks page counts the calls of the last countWindow, reading at
// most countBound records (it says so when the bound cut the window short).
const (
	countWindow = 24 * time.Hour
	countBound  = 100_000
)

// callsScanBound bounds the records one calls page reads: a filter that few
// calls match shows what it found so far and an "Older" link that searches
// on, instead of reading the whole log for one page.
const callsScanBound = 100_000

// consolePages are the page templates, each rendered inside layout.html.
var consolePages = []string{"calls.html", "call.html", "webhooks.html", "jobs.html", "job.html", "error.html"}

// console serves the pages.
type console struct {
	rl      *reloader
	store   *logs.Store
	prefix  string // of webhook endpoints (--prefix)
	version string
	logger  *slog.Logger
	now     func() time.Time
	pages   map[string]*template.Template
	// jobs: the Jobs pages exist (background jobs; README "Console"),
	// sched retries and cancels.
	jobs  bool
	sched *scheduler
	// scanBound is the calls page's logs.Filter.MaxScan.
	scanBound int
}

func newConsole(rl *reloader, store *logs.Store, prefix, version string, logger *slog.Logger) *console {
	c := &console{rl: rl, store: store, prefix: prefix, version: version, logger: logger, now: time.Now,
		pages: map[string]*template.Template{}, scanBound: callsScanBound}
	for _, p := range consolePages {
		// The templates are part of the binary: a parse error is a bug
		// that every console test catches.
		c.pages[p] = template.Must(template.ParseFS(consoleFiles, "console/layout.html", "console/parts.html", "console/"+p))
	}
	return c
}

// mountConsole adds the console and the replay API to the admin mux.
func mountConsole(mux *http.ServeMux, rl *reloader, store *logs.Store, p *pipeline, sched *scheduler, version string) {
	c := newConsole(rl, store, p.prefix, version, p.logger)
	c.sched = sched
	c.jobs = sched != nil && store != nil
	c.mount(mux)
	if store != nil {
		mux.Handle("POST /api/v1/logs/{id}/replay", &replayHandler{p: p, store: store, logger: p.logger, page: c.errorPage})
	}
}

// mount adds the console's routes to the admin mux.
func (c *console) mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", c.serveCalls)
	mux.HandleFunc("GET /calls/{id}", c.serveCall)
	mux.HandleFunc("GET /webhooks", c.serveWebhooks)
	mux.HandleFunc("POST /webhooks/reload", c.serveReload)
	if c.jobs {
		mux.HandleFunc("GET /jobs", c.serveJobs)
		mux.HandleFunc("GET /jobs/{id}", c.serveJob)
		mux.HandleFunc("POST /jobs/{id}/retry", c.serveJobAction(c.sched.retry))
		mux.HandleFunc("POST /jobs/{id}/cancel", c.serveJobAction(c.sched.cancel))
	}
	static, _ := fs.Sub(consoleFiles, "console/static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			c.errorPage(w, http.StatusNotFound, "Not found")
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

// base is the frame of every page.
func (c *console) base(title, nav string) pageBase {
	last, _, _ := c.rl.status()
	return pageBase{Title: title, Nav: nav, Version: c.version, Jobs: c.jobs,
		ReloadFailed: last.Status == "failure", ReloadErrors: len(last.Errors)}
}

// render writes a page (rendered in full first: a template error never
// leaves half a page).
func (c *console) render(w http.ResponseWriter, status int, page string, data any) {
	var buf bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		c.logger.Error("console: rendering page", "page", page, "err", err)
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// queryFailed answers the error page of a failed list query of what
// ("calls", "jobs") and reports whether there was one.
func (c *console) queryFailed(w http.ResponseWriter, err error, what string) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, logs.ErrBadCursor):
		c.errorPage(w, http.StatusBadRequest, "The page cursor is not valid (it comes from an \"Older\" link; start again from the newest "+what+").")
	case errors.Is(err, logs.ErrBadFilter):
		c.errorPage(w, http.StatusBadRequest, err.Error())
	default:
		c.logger.Error("console: query failed", "what", what, "err", err)
		c.errorPage(w, http.StatusInternalServerError, "Reading the "+what+" failed")
	}
	return true
}

type errorView struct {
	pageBase
	Status  int
	Message string
}

// errorPage answers a readable error page.
func (c *console) errorPage(w http.ResponseWriter, status int, msg string) {
	c.render(w, status, "error.html", errorView{
		pageBase: c.base(http.StatusText(status), ""), Status: status, Message: msg,
	})
}

func (c *console) serveCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cf := callsFilter{Webhook: q.Get("webhook"), Status: q.Get("status"), Code: q.Get("code"),
		Since: q.Get("since"), Until: q.Get("until"), Limit: q.Get("limit"), Cursor: q.Get("cursor")}
	page := callsPage{pageBase: c.base("Calls", "calls"), Filter: cf, Webhooks: c.webhookChoices(cf.Webhook)}
	page.Filtered = cf.Webhook != "" || cf.Status != "" || cf.Code != "" || cf.Since != "" || cf.Until != ""
	if cf.Cursor != "" {
		first := cf
		first.Cursor = ""
		page.FirstURL = first.url()
	}
	f, note, err := consoleFilter(cf, c.now())
	if err != nil {
		c.errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	page.Note = note
	if note == "" && c.store != nil {
		f.MaxScan = c.scanBound
		res, err := c.store.Query(f)
		if c.queryFailed(w, err, "calls") {
			return
		}
		now := c.now()
		for _, rec := range res.Records {
			page.Rows = append(page.Rows, newCallRow(rec, now))
		}
		if res.Partial {
			page.Note = fmt.Sprintf("Searched %d calls without filling the page; \"Older\" searches further back.", c.scanBound)
		}
		if res.NextCursor != "" {
			next := cf
			next.Cursor = res.NextCursor
			page.NextURL = next.url()
		}
	}
	c.render(w, http.StatusOK, "calls.html", page)
}

// webhookChoices are the references of the loaded webhooks, plus the one
// being filtered on when it is no longer loaded (its calls remain).
func (c *console) webhookChoices(current string) []string {
	var refs []string
	for _, w := range c.rl.current.Load().set.Webhooks() {
		refs = append(refs, w.Reference)
	}
	if current != "" && !slices.Contains(refs, current) {
		refs = append(refs, current)
		slices.Sort(refs)
	}
	return refs
}

// consoleFilter turns the calls page's fields into a call-log filter. A
// status and an HTTP code that no call can have both give a note instead
// of a query.
func consoleFilter(cf callsFilter, now time.Time) (logs.Filter, string, error) {
	status := cf.Status
	switch cf.Status {
	case "", "success", "failed":
	default:
		return logs.Filter{}, "", fmt.Errorf("Status %q: want success or failed", cf.Status)
	}
	if cf.Code != "" {
		n, err := strconv.Atoi(cf.Code)
		if err != nil || n < 100 || n > 599 {
			return logs.Filter{}, "", fmt.Errorf("HTTP code %q: want a number from 100 to 599", cf.Code)
		}
		if (cf.Status == "success" && n >= 400) || (cf.Status == "failed" && n < 400) {
			return logs.Filter{}, fmt.Sprintf("No call can match: HTTP code %d is not a %s.", n, map[string]string{"success": "success", "failed": "failure"}[cf.Status]), nil
		}
		status = strconv.Itoa(n)
	}
	v := url.Values{}
	v.Set("webhook", cf.Webhook)
	v.Set("status", status)
	v.Set("since", consoleTime(cf.Since))
	v.Set("until", consoleTime(cf.Until))
	v.Set("limit", cf.Limit)
	v.Set("cursor", cf.Cursor)
	f, err := logs.ParseFilter(v, now)
	if errors.Is(err, logs.ErrBadCursor) {
		err = errors.New("The page cursor is not valid (it comes from an \"Older\" link; start again from the newest calls).")
	}
	if err != nil {
		return f, "", fmt.Errorf("Filter %v (times: a duration ago such as 24h, or a UTC time such as 2026-01-31 08:00)", err)
	}
	return f, "", nil
}

// consoleTimeLayouts are what a time field or a datetime-local input may
// hold besides the API's forms; they are read as UTC.
var consoleTimeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02"}

// consoleTime rewrites a console time in the API's RFC 3339; anything else
// is left for logs.ParseTime (durations, RFC 3339, errors).
func consoleTime(v string) string {
	v = strings.TrimSpace(v)
	for _, l := range consoleTimeLayouts {
		if t, err := time.ParseInLocation(l, v, time.UTC); err == nil {
			return t.Format(time.RFC3339)
		}
	}
	return v
}

// validCallID reports whether id has the form of a call-log id.
func validCallID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isHex(id[i]) {
			return false
		}
	}
	return true
}

func (c *console) serveCall(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validCallID(id) {
		c.errorPage(w, http.StatusBadRequest, fmt.Sprintf("%q is not a call id (ids are 32 hexadecimal digits).", clean(id, 200)))
		return
	}
	if c.store == nil {
		c.errorPage(w, http.StatusNotFound, "No call log")
		return
	}
	rec, err := c.store.Get(id)
	switch {
	case errors.Is(err, logs.ErrNotFound):
		c.errorPage(w, http.StatusNotFound, fmt.Sprintf("No call with id %s (older calls are removed after --log-retention-days).", id))
		return
	case err != nil:
		c.logger.Error("console: call log read failed", "err", err)
		c.errorPage(w, http.StatusInternalServerError, "Call log read failed")
		return
	}
	page, err := c.callView(rec)
	if err != nil {
		c.logger.Error("console: encoding record", "id", id, "err", err)
		c.errorPage(w, http.StatusInternalServerError, "Reading the record failed")
		return
	}
	c.render(w, http.StatusOK, "call.html", page)
}

// callView is the page of one call.
func (c *console) callView(rec *logs.Record) (callPage, error) {
	fields, err := recordFields(rec, c.jobs)
	if err != nil {
		return callPage{}, err
	}
	page := callPage{
		pageBase: c.base("Call "+rec.ID, "calls"), ID: rec.ID, Rec: newCallRow(rec, c.now()),
		Fields: fields, Headers: headerRows(rec.RequestHeaders),
		Error: clean(rec.ErrorMessage, maxShownPayload), Result: clean(rec.ResultMessage, maxShownPayload),
	}
	page.Payload, page.PayloadNote = payloadText(rec)
	for _, l := range rec.LogLines {
		page.LogLines = append(page.LogLines, clean(l, maxShownLine))
	}
	if _, refusal := replayRoute(c.rl.current.Load(), rec); refusal != nil {
		page.ReplayNote = refusal.msg + ": it cannot be replayed."
	} else {
		page.CanReplay = true
	}
	return page, nil
}

func (c *console) serveWebhooks(w http.ResponseWriter, r *http.Request) {
	dv := definitionsView(c.rl, c.version)
	now := c.now()
	page := webhooksPage{pageBase: c.base("Webhooks", "webhooks"), Files: dv.Files}
	page.Reload = reloadView{
		Status: dv.LastReload.Status, Reason: dv.LastReload.Reason,
		Time: formatTime(dv.LastReload.Time), Ago: ago(dv.LastReload.Time, now),
		Hash: dv.ConfigHash, ShortHash: cutUTF8(dv.ConfigHash, 12), Errors: dv.Errors, Failed: !dv.ReloadOK,
	}
	if dv.LoadedAt != nil {
		page.Reload.LoadedAt = formatTime(*dv.LoadedAt)
	}
	if dv.LastSuccess != nil {
		page.Reload.LastSuccess = formatTime(*dv.LastSuccess)
	}
	counts := &logs.Counts{Webhooks: map[string]logs.WebhookCounts{}, Complete: true}
	if c.store != nil {
		var err error
		if counts, err = c.store.CountSince(now.Add(-countWindow), countBound); err != nil {
			c.logger.Error("console: counting calls failed", "err", err)
			c.errorPage(w, http.StatusInternalServerError, "Call log read failed")
			return
		}
	}
	if !counts.Complete {
		page.CountNote = fmt.Sprintf("Calls in the last 24 h are counted over the newest %d calls (back to %s).",
			counts.Scanned, formatTime(counts.Oldest))
	}
	defs := map[string][]fieldRow{}
	for _, wh := range c.rl.current.Load().set.Webhooks() {
		defs[wh.Reference] = deliverySettings(wh)
	}
	used := map[string][]string{}
	for _, wv := range dv.Webhooks {
		page.Webhooks = append(page.Webhooks, newWebhookRow(wv, counts.Webhooks[wv.Reference], c.prefix, defs[wv.Reference], now))
		used[wv.Authenticator] = append(used[wv.Authenticator], wv.Reference)
	}
	for _, av := range dv.Authenticators {
		page.Authenticators = append(page.Authenticators, authRow{authenticatorView: av, UsedBy: used[av.Reference]})
	}
	c.render(w, http.StatusOK, "webhooks.html", page)
}

// newWebhookRow is one line of the webhooks table.
func newWebhookRow(wv webhookView, wc logs.WebhookCounts, prefix string, delivery []fieldRow, now time.Time) webhookRow {
	all := callsFilter{Webhook: wv.Reference, Since: "24h"}
	failed := all
	failed.Status = "failed"
	row := webhookRow{
		webhookView: wv, Path: prefix + wv.Endpoint, Enabled: wv.Active, Delivery: delivery,
		Calls: strconv.Itoa(wc.Calls), Failures: strconv.Itoa(wc.Failures),
		CallsURL: all.url(), FailedURL: failed.url(), Anchor: "wh-" + wv.Reference,
	}
	if !wc.Last.IsZero() {
		row.LastCall, row.LastAgo = formatTime(wc.Last), ago(wc.Last, now)
	}
	return row
}

func (c *console) serveReload(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.rl.reloadWait(r.Context(), "console"); !ok {
		c.errorPage(w, http.StatusServiceUnavailable, "Reload not completed")
		return
	}
	http.Redirect(w, r, "/webhooks#reload", http.StatusSeeOther)
}
