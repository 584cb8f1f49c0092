package daemon

// The console's Jobs pages (README "Console"): background jobs by state,
// newest first, each with its attempts; dead jobs can be retried and
// waiting ones canceled (the scheduler's retry and cancel, as
// POST /api/v1/jobs/{id}/retry and /cancel).

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"towerhook/logs"
)

type jobRow struct {
	ID, URL, Webhook, WebhookURL string
	State, StateClass            string
	Created, Ago, Updated        string
	Attempt, NextRun, Error      string
	CanRetry, CanCancel          bool
}

// stateTab is one state filter link.
type stateTab struct {
	Name, URL string
	Current   bool
}

type jobsPage struct {
	pageBase
	State, Webhook    string
	States            []stateTab
	Rows              []jobRow
	NextURL, FirstURL string
}

type jobPage struct {
	pageBase
	Job          jobRow
	RequestID    string
	SupersededBy string
	Queued       []callRow // the call that queued the job
	Attempts     []callRow
}

// jobStateClass is the colour of a job state.
func jobStateClass(s string) string {
	switch s {
	case logs.JobSucceeded:
		return "ok"
	case logs.JobDead:
		return "fail"
	case logs.JobRetrying:
		return "warn"
	case logs.JobQueued, logs.JobRunning:
		return "info"
	}
	return "none" // superseded, canceled
}

func newJobRow(j *logs.Job, now time.Time) jobRow {
	row := jobRow{
		ID: j.ID, URL: "/jobs/" + j.ID, Webhook: j.Webhook, WebhookURL: webhookAnchor(j.Webhook),
		State: j.State, StateClass: jobStateClass(j.State),
		Created: formatTime(j.Created), Ago: ago(j.Created, now), Updated: formatTime(j.Updated),
		Attempt:  strconv.Itoa(j.Attempts) + " / " + strconv.Itoa(j.MaxAttempts),
		Error:    clean(oneLineText(cutUTF8(j.Error, 4*maxRowMessage)), maxRowMessage),
		CanRetry: j.State == logs.JobDead, CanCancel: j.State == logs.JobQueued || j.State == logs.JobRetrying,
	}
	if !j.NextRun.IsZero() {
		row.NextRun = formatTime(j.NextRun)
	}
	return row
}

// jobsURL is the Jobs page of a filter.
func jobsURL(state, webhook, cursor string) string {
	v := url.Values{}
	for _, kv := range [][2]string{{"state", state}, {"webhook", webhook}, {"cursor", cursor}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	if q := v.Encode(); q != "" {
		return "/jobs?" + q
	}
	return "/jobs"
}

func (c *console) serveJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := logs.JobFilter{State: q.Get("state"), Webhook: q.Get("webhook"), Cursor: q.Get("cursor")}
	res, err := c.store.ListJobs(f)
	if c.queryFailed(w, err, "jobs") {
		return
	}
	page := jobsPage{pageBase: c.base("Jobs", "jobs"), State: f.State, Webhook: f.Webhook}
	page.States = append(page.States, stateTab{Name: "all", URL: jobsURL("", f.Webhook, ""), Current: f.State == ""})
	for _, s := range logs.JobStates {
		page.States = append(page.States, stateTab{Name: s, URL: jobsURL(s, f.Webhook, ""), Current: f.State == s})
	}
	now := c.now()
	for _, j := range res.Jobs {
		page.Rows = append(page.Rows, newJobRow(j, now))
	}
	if res.NextCursor != "" {
		page.NextURL = jobsURL(f.State, f.Webhook, res.NextCursor)
	}
	if f.Cursor != "" {
		page.FirstURL = jobsURL(f.State, f.Webhook, "")
	}
	c.render(w, http.StatusOK, "jobs.html", page)
}

func (c *console) serveJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validCallID(id) {
		c.errorPage(w, http.StatusBadRequest, fmt.Sprintf("%q is not a job id (ids are 32 hexadecimal digits).", clean(id, 200)))
		return
	}
	j, err := c.store.Job(id)
	switch {
	case errors.Is(err, logs.ErrNotFound):
		c.errorPage(w, http.StatusNotFound, fmt.Sprintf("No job with id %s (finished jobs are removed after --log-retention-days).", id))
		return
	case err != nil:
		c.logger.Error("console: job read failed", "err", err)
		c.errorPage(w, http.StatusInternalServerError, "Job read failed")
		return
	}
	now := c.now()
	page := jobPage{pageBase: c.base("Job "+id, "jobs"), Job: newJobRow(j, now), RequestID: j.RequestID, SupersededBy: j.SupersededBy}
	page.Job.Error = clean(j.Error, maxShownPayload)
	for _, rid := range j.Records {
		rec, err := c.store.Get(rid)
		if err != nil {
			continue // pruned
		}
		if rec.Attempt > 0 {
			page.Attempts = append(page.Attempts, newCallRow(rec, now))
		} else {
			page.Queued = append(page.Queued, newCallRow(rec, now))
		}
	}
	c.render(w, http.StatusOK, "job.html", page)
}

// serveJobAction runs retry or cancel for a console form and shows the job.
func (c *console) serveJobAction(do func(string) (*logs.Job, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		j, err := do(id)
		if err != nil {
			status, msg := jobActionError(j, err)
			c.errorPage(w, status, msg)
			return
		}
		http.Redirect(w, r, "/jobs/"+id, http.StatusSeeOther)
	}
}
