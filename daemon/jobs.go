package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"towerhook/definitions"
	"towerhook/internal/jsonx"
	"towerhook/logs"
	"towerhook/lua"
)

// Background jobs (README "Delivery"). The last step of a call to a
// `background: true` webhook is enqueue: the job (the request its code
// needs) and the record of the call commit together in the call log's
// store, and only then the caller gets 202 {"message": "Accepted", "job":
// id}. The scheduler runs the jobs: per webhook in queue order, at most
// `concurrency` at once, each attempt on the webhook's current definition
// and within the global --max-concurrent bound, with retries after a
// doubling delay. The store is the truth: the scheduler keeps only job ids
// in memory and reads each job when it runs it, so a long queue costs
// little memory, and after a restart whatever had not ended runs (again).

const (
	msgAccepted = "Accepted"
	// requeueDelay is how long a job waits when its outcome could not be
	// stored (a full disk) before it runs again.
	requeueDelay = 30 * time.Second
	// dispatchTick picks up due retries and global slots freed by inline
	// calls.
	dispatchTick = 100 * time.Millisecond
)

// Errors of the job actions (admin API).
var (
	errJobRunning = errors.New("job is running")
	errJobState   = errors.New("job is not in a state that allows this")
	errJobWebhook = errors.New("the job's webhook is removed or disabled")
)

// jobStore is what the scheduler needs of the call log (logs.Store).
type jobStore interface {
	NewID(t time.Time) string
	AppendBatch(ctx context.Context, rec *logs.Record, b logs.Batch) error
	NoteBatch(b logs.Batch) error
	Job(id string) (*logs.Job, error)
	JobRequest(id string) (*logs.JobRequest, error)
	PendingJobs(fn func(*logs.Job) bool) error
	JobCounts() (map[string]int, error)
}

// jobQueue is one webhook's pending jobs.
type jobQueue struct {
	ids     []string             // ready to run, in order
	waiting map[string]time.Time // retrying, by the time they run again
	running int
}

func (q *jobQueue) pending() int { return len(q.ids) + len(q.waiting) }

// scheduler runs background jobs. Its methods are safe for concurrent use.
type scheduler struct {
	store   jobStore
	current *atomic.Pointer[table]
	sem     chan struct{} // the global --max-concurrent slots
	metrics *deliveryMetrics
	logger  *slog.Logger

	mu       sync.Mutex
	queues   map[string]*jobQueue // by webhook reference
	running  map[string]bool      // job ids
	ready    bool                 // a good table is loaded
	stopping bool
	wake     chan struct{}
	wg       sync.WaitGroup // attempts running
	actions  sync.Mutex     // serialises Retry and Cancel
}

func newScheduler(store jobStore, cur *atomic.Pointer[table], sem chan struct{}, m *deliveryMetrics, logger *slog.Logger) *scheduler {
	return &scheduler{
		store: store, current: cur, sem: sem, metrics: m, logger: logger,
		queues: map[string]*jobQueue{}, running: map[string]bool{}, wake: make(chan struct{}, 1),
	}
}

// load reads the stored jobs: counts for the gauge and every job that has
// not ended, to run (a job that was running when the daemon stopped runs
// again).
func (s *scheduler) load() error {
	counts, err := s.store.JobCounts()
	if err != nil {
		return err
	}
	for _, st := range logs.JobStates {
		s.metrics.jobs.WithLabelValues(st).Set(float64(counts[st]))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store.PendingJobs(func(j *logs.Job) bool {
		q := s.queue(j.Webhook)
		switch j.State {
		case logs.JobRetrying:
			q.waiting[j.ID] = j.NextRun
		case logs.JobRunning:
			s.moveGauge(logs.JobRunning, logs.JobQueued)
			q.ids = append(q.ids, j.ID)
		default:
			q.ids = append(q.ids, j.ID)
		}
		return true
	})
}

func (s *scheduler) queue(ref string) *jobQueue {
	q := s.queues[ref]
	if q == nil {
		q = &jobQueue{waiting: map[string]time.Time{}}
		s.queues[ref] = q
	}
	return q
}

func (s *scheduler) moveGauge(from, to string) {
	if from != "" {
		s.metrics.jobs.WithLabelValues(from).Dec()
	}
	s.metrics.jobs.WithLabelValues(to).Inc()
}

// poke wakes the dispatcher.
func (s *scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// tableChanged is a reload subscriber: jobs run once a good table is
// loaded, and a removed or disabled webhook's jobs end (dispatch).
func (s *scheduler) tableChanged(*table) {
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
	s.poke()
}

// add queues a job that was just stored.
func (s *scheduler) add(j *logs.Job) {
	s.mu.Lock()
	s.queue(j.Webhook).ids = append(s.queue(j.Webhook).ids, j.ID)
	s.mu.Unlock()
	s.moveGauge("", logs.JobQueued)
	s.poke()
}

// run dispatches jobs until ctx ends.
func (s *scheduler) run(ctx context.Context) {
	t := time.NewTicker(dispatchTick)
	defer t.Stop()
	for {
		s.dispatch()
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// ending is a job to end without running it.
type ending struct {
	id, state, reason, by string
}

// dispatch starts every job that may start now, and ends the jobs of
// removed or disabled webhooks and those a newer job superseded.
func (s *scheduler) dispatch() {
	var ends []ending
	s.mu.Lock()
	if !s.ready || s.stopping {
		s.mu.Unlock()
		return
	}
	t := s.current.Load()
	now := time.Now()
	full := false
	for ref, q := range s.queues {
		if q.pending() == 0 {
			continue
		}
		rt := routeByRef(t, ref)
		if rt == nil || !rt.wh.Active {
			reason := "webhook removed"
			if rt != nil {
				reason = "webhook disabled"
			}
			for _, id := range q.drain() {
				ends = append(ends, ending{id: id, state: logs.JobDead, reason: reason})
			}
			continue
		}
		q.promoteDue(now)
		if rt.wh.Delivery.Queue == definitions.QueueLatest {
			ends = append(ends, q.supersede()...)
		}
		limit := rt.wh.Delivery.Concurrency
		for !full && len(q.ids) > 0 && (limit <= 0 || q.running < limit) {
			select {
			case s.sem <- struct{}{}:
			default:
				full = true // the dispatch tick tries again
				continue
			}
			id := q.ids[0]
			q.ids = q.ids[1:]
			q.running++
			s.running[id] = true
			s.wg.Add(1)
			go s.attempt(ref, id)
		}
	}
	s.mu.Unlock()
	s.end(ends...)
}

// drain takes every pending job out of the queue.
func (q *jobQueue) drain() []string {
	ids := q.ids
	for id := range q.waiting {
		ids = append(ids, id)
	}
	q.ids, q.waiting = nil, map[string]time.Time{}
	return ids
}

// promoteDue moves retrying jobs whose time came to the front, in order.
func (q *jobQueue) promoteDue(now time.Time) {
	var due []string
	for id, at := range q.waiting {
		if !at.After(now) {
			due = append(due, id)
			delete(q.waiting, id)
		}
	}
	if len(due) > 0 {
		slices.Sort(due)
		q.ids = append(due, q.ids...)
	}
}

// supersede keeps only the newest pending job (queue: latest).
func (q *jobQueue) supersede() []ending {
	if q.pending() <= 1 {
		return nil
	}
	ids := q.drain()
	slices.Sort(ids) // ids sort by the time they were queued
	newest := ids[len(ids)-1]
	q.ids = []string{newest}
	var ends []ending
	for _, id := range ids[:len(ids)-1] {
		ends = append(ends, ending{id: id, state: logs.JobSuperseded, reason: "superseded by a newer job", by: newest})
	}
	return ends
}

// endGroup is how many ended jobs one commit stores.
const endGroup = 256

// end stores that jobs ended without running (again), a group per commit.
func (s *scheduler) end(ends ...ending) {
	for len(ends) > 0 {
		n := min(len(ends), endGroup)
		s.endGroup(ends[:n])
		ends = ends[n:]
	}
}

func (s *scheduler) endGroup(ends []ending) {
	var b logs.Batch
	var prev []string
	now := time.Now().UTC()
	for _, e := range ends {
		j, err := s.store.Job(e.id)
		if err != nil {
			s.logger.Error("jobs: reading a job to end it", "job", e.id, "err", err)
			continue
		}
		if !logs.Pending(j.State) {
			continue
		}
		prev = append(prev, j.State)
		j.State, j.Error, j.SupersededBy, j.Updated, j.NextRun = e.state, e.reason, e.by, now, time.Time{}
		b.Jobs = append(b.Jobs, j)
	}
	if len(b.Jobs) == 0 {
		return
	}
	if err := s.store.AppendBatch(context.Background(), nil, b); err != nil {
		s.logger.Error("jobs: storing the end of jobs", "jobs", len(b.Jobs), "err", err)
		return
	}
	for i, j := range b.Jobs {
		s.moveGauge(prev[i], j.State)
		s.logger.Info("job ended", "job", j.ID, "webhook", j.Webhook, "state", j.State, "reason", j.Error)
	}
}

// routeByRef finds a webhook's route in t.
func routeByRef(t *table, ref string) *route {
	for _, rt := range t.routes {
		if rt.wh.Reference == ref {
			return rt
		}
	}
	return nil
}

// attempt runs one attempt of a job and stores its outcome with its record.
func (s *scheduler) attempt(ref, id string) {
	defer s.wg.Done()
	// done gives the run slots back (once): as soon as the code ended, so
	// that the next jobs run while this outcome waits for its commit.
	released := false
	done := func() {
		if released {
			return
		}
		released = true
		<-s.sem
		s.mu.Lock()
		s.queue(ref).running--
		delete(s.running, id)
		s.mu.Unlock()
		s.poke()
	}
	defer done()
	j, err := s.store.Job(id)
	if err != nil {
		s.logger.Error("jobs: reading a job", "job", id, "err", err)
		return
	}
	if !logs.Pending(j.State) {
		return
	}
	req, err := s.store.JobRequest(id)
	if err != nil {
		s.logger.Error("jobs: reading a job's request", "job", id, "err", err)
		s.end(ending{id: id, state: logs.JobDead, reason: "request unreadable: " + err.Error()})
		return
	}
	t := s.current.Load()
	t.acquire()
	defer t.release()
	rt := routeByRef(t, ref)
	if rt == nil || !rt.wh.Active {
		s.end(ending{id: id, state: logs.JobDead, reason: "webhook removed or disabled"})
		return
	}
	start := time.Now()
	prev := j.State
	j.Attempts++
	if j.Attempts == 1 {
		s.metrics.wait.WithLabelValues(ref).Observe(start.Sub(j.Created).Seconds())
	}
	j.State, j.Updated = logs.JobRunning, start.UTC()
	s.moveGauge(prev, logs.JobRunning)
	if err := s.store.NoteBatch(logs.Batch{Jobs: []*logs.Job{j}}); err != nil {
		s.logger.Warn("jobs: noting a running job", "job", id, "err", err)
	}
	rec := s.runAttempt(t, rt, j, req, start)
	done()
	s.settle(ref, j, rec)
}

// runAttempt runs the webhook's code for job j and returns the attempt's
// record.
func (s *scheduler) runAttempt(t *table, rt *route, j *logs.Job, req *logs.JobRequest, start time.Time) *logs.Record {
	in := jobInput(req, j)
	payload, form := []byte(in.payload), in.form
	rec := &logs.Record{
		ID: s.store.NewID(start), Time: start.UTC(),
		Webhook: rt.wh.Reference, WebhookName: rt.wh.Name, Endpoint: req.Endpoint, Method: req.Method,
		Authenticator: rt.auth.a.Reference, AuthenticationStatus: logs.AuthSuccess, CodeStatus: logs.CodeSkipped,
		RunAs: rt.wh.RunAs, IPAddress: req.RemoteAddr, RequestID: j.RequestID, ConfigHash: t.hash,
		LogLines: []string{}, Job: j.ID, Attempt: j.Attempts,
		RequestHeaders: logs.RedactHeaders(http.Header(req.Headers), t.set.SecretValues()),
		RequestPayload: logs.RedactPayload(payloadForLog(payload, form), t.paySecrets),
	}
	status, _, _, _ := runWebhookCode(context.Background(), t, rt, in, rec)
	rec.HTTPStatus = status
	rec.DurationSeconds = time.Since(start).Seconds()
	capRecord(rec, t.secretMask)
	return rec
}

// jobInput is what a job's code sees: the request it was queued with.
func jobInput(req *logs.JobRequest, j *logs.Job) *codeInput {
	in := &codeInput{body: req.Body, form: req.Form, rawData: string(req.Body), headers: http.Header(req.Headers),
		req: lua.Request{
			Method: req.Method, Path: req.Path, Endpoint: req.Endpoint, Query: req.Query,
			RemoteAddr: req.RemoteAddr, ID: j.RequestID, Attempt: j.Attempts, Job: j.ID,
		}}
	if in.headers == nil {
		in.headers = http.Header{}
	}
	if req.Form == nil {
		in.payload = in.rawData
	}
	return in
}

// settle stores an attempt's outcome: succeeded, retrying after the
// doubling delay, or dead once its attempts are used up.
func (s *scheduler) settle(ref string, j *logs.Job, rec *logs.Record) {
	now := time.Now()
	ok := rec.CodeStatus == logs.CodeSuccess
	j.Records = append(j.Records, rec.ID)
	j.Updated, j.NextRun = now.UTC(), time.Time{}
	switch {
	case ok:
		j.State, j.Error = logs.JobSucceeded, ""
	case j.Attempts < j.MaxAttempts:
		j.State, j.Error = logs.JobRetrying, rec.ErrorMessage
		j.NextRun = now.Add(retryDelay(routeDelay(s.current.Load(), ref), j.Attempts)).UTC()
	default:
		j.State, j.Error = logs.JobDead, rec.ErrorMessage
	}
	if err := s.store.AppendBatch(context.Background(), rec, logs.Batch{Jobs: []*logs.Job{j}}); err != nil {
		// Not stored: the job stays pending in the store and runs again.
		s.logger.Error("jobs: storing an attempt failed; the job runs again", "job", j.ID, "err", err)
		s.moveGauge(logs.JobRunning, logs.JobRetrying)
		s.mu.Lock()
		s.queue(ref).waiting[j.ID] = now.Add(requeueDelay)
		s.mu.Unlock()
		return
	}
	result := "success"
	if !ok {
		result = "failure"
	}
	s.metrics.attempts.WithLabelValues(ref, result).Inc()
	s.moveGauge(logs.JobRunning, j.State)
	if j.State == logs.JobRetrying {
		s.mu.Lock()
		s.queue(ref).waiting[j.ID] = j.NextRun
		s.mu.Unlock()
	}
}

// routeDelay is a webhook's retry_delay in t (the default when it is gone).
func routeDelay(t *table, ref string) time.Duration {
	if rt := routeByRef(t, ref); rt != nil {
		return rt.wh.Delivery.RetryDelay
	}
	return definitions.DefaultRetryDelay
}

// retryDelay is the wait after attempt n failed: base doubled per
// attempt, at most an hour.
func retryDelay(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < definitions.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, definitions.MaxRetryDelay)
}

// stop takes no more jobs and waits until the running attempts end or ctx
// does; what has not run resumes at the next start.
func (s *scheduler) stop(ctx context.Context) {
	s.mu.Lock()
	s.stopping = true
	n := len(s.running)
	s.mu.Unlock()
	if n > 0 {
		s.logger.Info("jobs: waiting for running attempts", "running", n)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.logger.Warn("jobs: attempts still running at shutdown; they run again at the next start")
	}
}

// cancel ends a queued or retrying job as canceled.
func (s *scheduler) cancel(id string) (*logs.Job, error) {
	s.actions.Lock()
	defer s.actions.Unlock()
	s.mu.Lock()
	if s.running[id] {
		s.mu.Unlock()
		return nil, errJobRunning
	}
	j, err := s.store.Job(id)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if j.State != logs.JobQueued && j.State != logs.JobRetrying {
		s.mu.Unlock()
		return j, errJobState
	}
	q := s.queue(j.Webhook)
	q.ids = slices.DeleteFunc(q.ids, func(x string) bool { return x == id })
	delete(q.waiting, id)
	s.mu.Unlock()
	prev := j.State
	j.State, j.Error, j.Updated, j.NextRun = logs.JobCanceled, "canceled by an administrator", time.Now().UTC(), time.Time{}
	if err := s.store.AppendBatch(context.Background(), nil, logs.Batch{Jobs: []*logs.Job{j}}); err != nil {
		s.mu.Lock()
		q.ids = append([]string{id}, q.ids...) // still pending
		s.mu.Unlock()
		return nil, err
	}
	s.moveGauge(prev, logs.JobCanceled)
	return j, nil
}

// retry queues a dead job to run again now, with the webhook's retries.
func (s *scheduler) retry(id string) (*logs.Job, error) {
	s.actions.Lock()
	defer s.actions.Unlock()
	j, err := s.store.Job(id)
	if err != nil {
		return nil, err
	}
	if j.State != logs.JobDead {
		return j, errJobState
	}
	rt := routeByRef(s.current.Load(), j.Webhook)
	if rt == nil || !rt.wh.Active {
		return j, errJobWebhook
	}
	j.State, j.Updated, j.NextRun = logs.JobQueued, time.Now().UTC(), time.Time{}
	j.MaxAttempts = j.Attempts + 1 + rt.wh.Delivery.Retries
	if err := s.store.AppendBatch(context.Background(), nil, logs.Batch{Jobs: []*logs.Job{j}}); err != nil {
		return nil, err
	}
	s.moveGauge(logs.JobDead, logs.JobQueued)
	s.mu.Lock()
	q := s.queue(j.Webhook)
	q.ids = append([]string{id}, q.ids...)
	s.mu.Unlock()
	s.poke()
	return j, nil
}

// enqueue is the last step of a call to a background webhook: the job and
// the call's record are committed together, then the caller gets 202 with
// the job id (finish). It reports false when the webhook runs inline (not
// background, or no scheduler: `towerhook call` and definition tests run
// the code at once).
func (c *callState) enqueue() bool {
	d := c.rt.wh.Delivery
	s := c.p.jobs
	if !d.Background || s == nil {
		return false
	}
	c.leaveSlot()
	now := time.Now().UTC()
	c.rec.ID = s.store.NewID(c.rec.Time)
	j := &logs.Job{
		ID: s.store.NewID(now), Webhook: c.rt.wh.Reference, State: logs.JobQueued,
		Created: now, Updated: now, RequestID: c.reqID, MaxAttempts: 1 + d.Retries,
		Records: []string{c.rec.ID},
	}
	req := &logs.JobRequest{
		Method: c.r.Method, Path: c.r.URL.Path, Endpoint: c.endpoint, Query: c.r.URL.RawQuery,
		RemoteAddr: c.rec.IPAddress, Headers: c.r.Header, Body: c.in.body, Form: c.in.form,
	}
	c.batch.Jobs = []*logs.Job{j}
	c.batch.Requests = map[string]*logs.JobRequest{j.ID: req}
	c.jobID, c.rec.Job, c.rec.ResultMessage = j.ID, j.ID, msgAccepted
	c.finish(http.StatusAccepted, msgAccepted, nil)
	if c.jobID != "" { // stored (else finish answered 503)
		s.add(j)
	}
	return true
}

// writeAccepted answers {"message": msg, "job": id}.
func writeAccepted(w http.ResponseWriter, status int, msg, job string) {
	b := make([]byte, 0, len(msg)+len(job)+32)
	b = append(b, `{"message":`...)
	b = jsonx.AppendString(b, msg)
	b = append(b, `,"job":`...)
	b = jsonx.AppendString(b, job)
	b = append(b, '}', '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// startDelivery gives the pipeline its delivery parts (README "Delivery")
// on store: the stored dedup claims, per-webhook limits and the job
// scheduler, loaded with the jobs that have not ended.
func startDelivery(p *pipeline, store *logs.Store, cur *atomic.Pointer[table], m *metrics, logger *slog.Logger) (*scheduler, error) {
	p.dedup = newDedupTable(nil)
	if err := store.Claims(time.Now(), p.dedup.load); err != nil {
		return nil, fmt.Errorf("call log: reading delivery ids: %w", err)
	}
	p.limits = newLimiters()
	p.batchFn = store.AppendBatch
	sched := newScheduler(store, cur, p.sem, m.delivery, logger)
	if err := sched.load(); err != nil {
		return nil, fmt.Errorf("call log: reading jobs: %w", err)
	}
	p.jobs = sched
	return sched, nil
}
