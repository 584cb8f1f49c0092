package daemon

import (
	"errors"
	"net/http"
	"strconv"

	"towerhook/logs"
)

// The jobs admin API (README "Delivery"):
//
//	GET  /api/v1/jobs?state=&webhook=&limit=&cursor=  {"jobs": [...], "next_cursor": "..."} newest first
//	GET  /api/v1/jobs/{id}                            the job with its attempts' call-log records
//	POST /api/v1/jobs/{id}/retry                      a dead job runs again now
//	POST /api/v1/jobs/{id}/cancel                     a queued or retrying job ends canceled
//
// Other requests go to next (the rest of the admin listener).

// jobView is a job with the records of its attempts.
type jobView struct {
	*logs.Job
	Attempts []*logs.Record `json:"attempts"`
}

// withJobsAPI serves the jobs API in front of next.
func withJobsAPI(next http.Handler, store *logs.Store, s *scheduler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", next)
	mux.HandleFunc("GET /api/v1/jobs", func(w http.ResponseWriter, r *http.Request) { listJobs(w, r, store) })
	mux.HandleFunc("GET /api/v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) { showJob(w, r, store) })
	action := func(do func(string) (*logs.Job, error)) http.Handler {
		return http.NewCrossOriginProtection().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			j, err := do(r.PathValue("id"))
			answerJob(w, j, err)
		}))
	}
	mux.Handle("POST /api/v1/jobs/{id}/retry", action(s.retry))
	mux.Handle("POST /api/v1/jobs/{id}/cancel", action(s.cancel))
	return mux
}

func listJobs(w http.ResponseWriter, r *http.Request, store *logs.Store) {
	q := r.URL.Query()
	f := logs.JobFilter{State: q.Get("state"), Webhook: q.Get("webhook"), Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeMessage(w, http.StatusBadRequest, "limit "+strconv.Quote(l)+": want a positive integer (at most 1000)")
			return
		}
		f.Limit = n
	}
	page, err := store.ListJobs(f)
	switch {
	case errors.Is(err, logs.ErrBadCursor), errors.Is(err, logs.ErrBadFilter):
		writeMessage(w, http.StatusBadRequest, err.Error())
	case err != nil:
		writeMessage(w, http.StatusInternalServerError, "Job query failed")
	default:
		writeJSON(w, http.StatusOK, page)
	}
}

func showJob(w http.ResponseWriter, r *http.Request, store *logs.Store) {
	j, err := store.Job(r.PathValue("id"))
	if err != nil {
		answerJob(w, nil, err)
		return
	}
	v := jobView{Job: j, Attempts: []*logs.Record{}}
	for _, id := range j.Records {
		if rec, err := store.Get(id); err == nil && rec.Attempt > 0 {
			v.Attempts = append(v.Attempts, rec)
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// answerJob answers a job action.
func answerJob(w http.ResponseWriter, j *logs.Job, err error) {
	if err != nil {
		status, msg := jobActionError(j, err)
		writeMessage(w, status, msg)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

// jobActionError is the status and message of a job action's error (the
// API's and the console's).
func jobActionError(j *logs.Job, err error) (int, string) {
	switch {
	case errors.Is(err, logs.ErrNotFound):
		return http.StatusNotFound, "Job not found"
	case errors.Is(err, errJobRunning):
		return http.StatusConflict, "Job is running"
	case errors.Is(err, errJobState) && j != nil:
		return http.StatusConflict, "Job is " + j.State
	case errors.Is(err, errJobWebhook):
		return http.StatusConflict, "The job's webhook is removed or disabled"
	}
	return http.StatusServiceUnavailable, msgLogDown
}
