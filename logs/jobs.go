package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Job states (README "Delivery").
const (
	JobQueued     = "queued"
	JobRunning    = "running"
	JobRetrying   = "retrying"
	JobSucceeded  = "succeeded"
	JobDead       = "dead"
	JobSuperseded = "superseded"
	JobCanceled   = "canceled"
)

// JobStates lists every state, in the order a job goes through them.
var JobStates = []string{JobQueued, JobRunning, JobRetrying, JobSucceeded, JobDead, JobSuperseded, JobCanceled}

// Pending reports whether a job in state waits to run (it is in the
// pending index and resumes after a restart).
func Pending(state string) bool {
	return state == JobQueued || state == JobRetrying || state == JobRunning
}

// Job is one background run of a webhook. JSON names are the admin API's.
type Job struct {
	ID        string    `json:"id"`
	Webhook   string    `json:"webhook"`
	State     string    `json:"state"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	RequestID string    `json:"request_id"`
	// Attempts counts the attempts made (JSON "attempt": the number of
	// the last one, 0 before the first); MaxAttempts is when it ends dead.
	Attempts    int `json:"attempt"`
	MaxAttempts int `json:"max_attempts"`
	// NextRun is when a retrying job runs again.
	NextRun time.Time `json:"next_run,omitzero"`
	// Error is the last attempt's error, or why the job ended (dead,
	// superseded, canceled).
	Error        string `json:"error,omitempty"`
	SupersededBy string `json:"superseded_by,omitempty"`
	// Records are the call-log record ids: the call that queued the job,
	// then one per attempt.
	Records []string `json:"records"`
}

// JobRequest is what a job's code needs of the call that queued it. It is
// stored once, beside the job.
type JobRequest struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	Endpoint   string              `json:"endpoint"`
	Query      string              `json:"query"`
	RemoteAddr string              `json:"remote_addr"`
	Headers    map[string][]string `json:"headers"`
	Body       []byte              `json:"body"`
	// Form is the payload of a form or GET call (nil: the body's JSON).
	Form map[string]string `json:"form,omitempty"`
}

// JobFilter selects jobs for ListJobs.
type JobFilter struct {
	State   string
	Webhook string
	Limit   int // default 50, max 1000
	Cursor  string
}

// JobPage is one page of ListJobs, newest first.
type JobPage struct {
	Jobs       []*Job `json:"jobs"`
	NextCursor string `json:"next_cursor"`
}

// ErrBadJob is returned for a malformed job id or filter.
var ErrBadJob = errors.New("invalid job query")

// Batch is delivery state committed together with a call-log record.
type Batch struct {
	// Jobs are stored as they are; the pending index follows their state.
	Jobs []*Job
	// Requests, by job id, are stored with their jobs (once, when queued).
	Requests map[string]*JobRequest
	// Claims are stored; each is kept until it expires.
	Claims []*Claim
}

// NewID returns a fresh id for a job or a record (sortable by time; a record
// given it must have Time t).
func (s *Store) NewID(t time.Time) string { return makeKey(t.UnixNano(), s.seq.Add(1)).id() }

// AppendBatch stores rec (nil: none) and b in one group commit. It returns
// once both are committed when the store is synchronous or b holds jobs (a
// 202 is answered only for a stored job, and the scheduler reads jobs
// back); otherwise, as Append, once queued.
func (s *Store) AppendBatch(ctx context.Context, rec *Record, b Batch) error {
	ops, err := batchOps(b)
	if err != nil {
		return err
	}
	wait := s.opts.Sync || len(b.Jobs) > 0
	if len(ops) == 0 {
		if rec == nil {
			return nil
		}
		return s.appendOp(ctx, rec, nil, wait)
	}
	return s.appendOp(ctx, rec, encodeMeta(ops), wait)
}

func batchOps(b Batch) ([]metaOp, error) {
	var ops []metaOp
	for _, j := range b.Jobs {
		k, err := parseID(j.ID)
		if err != nil {
			return nil, fmt.Errorf("job %q: %w", j.ID, err)
		}
		v, err := json.Marshal(j)
		if err != nil {
			return nil, err
		}
		ops = append(ops, metaOp{bucket: metaJobs, key: k[:], val: v})
		pk := pendingKey(j.Webhook, k)
		ops = append(ops, metaOp{bucket: metaPending, key: pk, del: !Pending(j.State)})
		if r := b.Requests[j.ID]; r != nil {
			rv, err := json.Marshal(r)
			if err != nil {
				return nil, err
			}
			ops = append(ops, metaOp{bucket: metaJobReqs, key: k[:], val: rv})
		}
	}
	for _, c := range b.Claims {
		v, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		ops = append(ops, metaOp{bucket: metaClaims, key: claimKey(c), val: v})
	}
	return ops, nil
}

func pendingKey(webhook string, k key) []byte {
	b := make([]byte, 0, len(webhook)+1+keyLen)
	b = append(b, webhook...)
	b = append(b, 0)
	return append(b, k[:]...)
}

// Job returns one job (ErrNotFound when there is none).
func (s *Store) Job(id string) (*Job, error) {
	k, err := parseID(id)
	if err != nil {
		return nil, ErrNotFound
	}
	v, err := s.metaGet(metaJobs, k[:])
	if err != nil {
		return nil, err
	}
	return decodeJob(v)
}

// JobRequest returns the request a job was queued with.
func (s *Store) JobRequest(id string) (*JobRequest, error) {
	k, err := parseID(id)
	if err != nil {
		return nil, ErrNotFound
	}
	v, err := s.metaGet(metaJobReqs, k[:])
	if err != nil {
		return nil, err
	}
	r := new(JobRequest)
	if err := json.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("job %s request: %w", id, err)
	}
	return r, nil
}

func decodeJob(v []byte) (*Job, error) {
	j := new(Job)
	if err := json.Unmarshal(v, j); err != nil {
		return nil, fmt.Errorf("job: %w", err)
	}
	if j.Records == nil {
		j.Records = []string{}
	}
	return j, nil
}

// PendingJobs calls fn for every job waiting to run (queued, retrying, or
// running when the daemon stopped), per webhook in queue order, reading
// the pending index; fn returns false to stop.
func (s *Store) PendingJobs(fn func(*Job) bool) error {
	var ids [][]byte
	if err := s.metaScan(metaPending, nil, nil, false, func(k, _ []byte) bool {
		if len(k) > keyLen {
			ids = append(ids, bytes.Clone(k[len(k)-keyLen:]))
		}
		return true
	}); err != nil {
		return err
	}
	for _, k := range ids {
		v, err := s.metaGet(metaJobs, k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		j, err := decodeJob(v)
		if err != nil {
			s.log.Warn("jobs: skipping unreadable job", "err", err)
			continue
		}
		if !fn(j) {
			return nil
		}
	}
	return nil
}

// JobCounts counts the stored jobs by state.
func (s *Store) JobCounts() (map[string]int, error) {
	counts := map[string]int{}
	err := s.metaScan(metaJobs, nil, nil, false, func(_, v []byte) bool {
		var j struct {
			State string `json:"state"`
		}
		if json.Unmarshal(v, &j) == nil {
			counts[j.State]++
		}
		return true
	})
	return counts, err
}

// ListJobs returns matching jobs newest first; the cursor is the last
// job id of the previous page.
func (s *Store) ListJobs(f JobFilter) (*JobPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var from []byte
	if f.Cursor != "" {
		k, err := parseID(f.Cursor)
		if err != nil {
			return nil, fmt.Errorf("%w: cursor %q", ErrBadCursor, f.Cursor)
		}
		from = k[:]
	}
	if f.State != "" && !validState(f.State) {
		return nil, fmt.Errorf("%w: state %q: want one of %v", ErrBadFilter, f.State, JobStates)
	}
	page := &JobPage{Jobs: []*Job{}}
	var scanErr error
	err := s.metaScan(metaJobs, nil, from, true, func(_, v []byte) bool {
		j, err := decodeJob(v)
		if err != nil {
			scanErr = err
			return true
		}
		if (f.Webhook != "" && j.Webhook != f.Webhook) || (f.State != "" && j.State != f.State) {
			return true
		}
		if len(page.Jobs) == limit {
			page.NextCursor = page.Jobs[limit-1].ID
			return false
		}
		page.Jobs = append(page.Jobs, j)
		return true
	})
	if err == nil && scanErr != nil {
		s.log.Warn("jobs: skipped an unreadable job", "err", scanErr)
	}
	return page, err
}

func validState(st string) bool {
	for _, s := range JobStates {
		if s == st {
			return true
		}
	}
	return false
}

// NoteBatch queues b (no record) without waiting for its commit: for state
// that may be lost in a crash without harm (a job marked running runs
// again anyway).
func (s *Store) NoteBatch(b Batch) error {
	ops, err := batchOps(b)
	if err != nil || len(ops) == 0 {
		return err
	}
	return s.appendOp(context.Background(), nil, encodeMeta(ops), false)
}
