package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"towerhook/logs"
)

// TestBackgroundRetries: a background call is answered 202 once queued;
// its code runs later with request.job and request.attempt, each attempt
// has its own record (job, attempt), and a failing attempt is retried
// until one succeeds.
func TestBackgroundRetries(t *testing.T) {
	r := startRig(t, map[string]string{"a.yaml": openFile(
		hook("deploy", "deploy", "open", "background: true\nretries: 3\nretry_delay: 0.02",
			`if request.attempt < 3 then error("attempt " .. request.attempt .. " of " .. request.job) end
result.message = "deployed " .. payload.ref .. " on attempt " .. request.attempt`))})
	job := jobOf(t, do(t, "POST", r.url+"deploy", `{"ref": "main"}`, map[string]string{"X-Request-Id": "push-1"}))
	j := r.waitJob(job, logs.JobSucceeded)
	if j.Attempts != 3 || len(j.Records) != 4 || j.RequestID != "push-1" {
		t.Errorf("job %+v", j)
	}
	recs := r.records("deploy")
	if len(recs) != 4 {
		t.Fatalf("%d records, want the queueing call and 3 attempts", len(recs))
	}
	if q := recs[0]; q.HTTPStatus != 202 || q.Job != job || q.Attempt != 0 || q.CodeStatus != logs.CodeSkipped {
		t.Errorf("queueing record %+v", q)
	}
	for i, rec := range recs[1:] {
		want := fmt.Sprintf("attempt %d of %s", i+1, job)
		if i == 2 {
			want = "deployed main on attempt 3"
		}
		got := rec.ErrorMessage
		if i == 2 {
			got = rec.ResultMessage
		}
		if rec.Job != job || rec.Attempt != i+1 || !strings.Contains(got, want) || rec.RequestID != "push-1" {
			t.Errorf("attempt %d: job %q attempt %d %q, want %q", i+1, rec.Job, rec.Attempt, got, want)
		}
	}
	// The admin API shows the job with its attempts.
	var v struct {
		State    string         `json:"state"`
		Attempts []*logs.Record `json:"attempts"`
	}
	if code := getJSON(t, r.admin+"/api/v1/jobs/"+job, &v); code != 200 || v.State != "succeeded" || len(v.Attempts) != 3 {
		t.Errorf("GET job: %d %+v", code, v)
	}
	att := r.m.delivery.attempts
	if f, s := testutil.ToFloat64(att.WithLabelValues("deploy", "failure")), testutil.ToFloat64(att.WithLabelValues("deploy", "success")); f != 2 || s != 1 {
		t.Errorf("attempts: %v failures %v successes", f, s)
	}
	if got := testutil.ToFloat64(r.m.delivery.jobs.WithLabelValues(logs.JobSucceeded)); got != 1 {
		t.Errorf("towerhook_jobs{state=succeeded} = %v", got)
	}
	if n := testutil.CollectAndCount(r.m.delivery.wait); n != 1 {
		t.Errorf("towerhook_job_wait_seconds series: %d", n)
	}
}

// TestBackgroundDead: a job whose attempts all fail ends dead; the admin
// API retries it (it runs again now) and cancels queued jobs.
func TestBackgroundDeadRetryCancel(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	r := startRig(t, map[string]string{"a.yaml": openFile(
		hook("fails", "fails", "open", "background: true\nretries: 1\nretry_delay: 0.01", `error("always")`) +
			hook("serial", "serial", "open", "background: true\nconcurrency: 1\ntimeout: 120", gateCode(gate)))})
	dead := jobOf(t, do(t, "POST", r.url+"fails", "{}", nil))
	j := r.waitJob(dead, logs.JobDead)
	if j.Attempts != 2 || !strings.Contains(j.Error, "always") {
		t.Errorf("dead job %+v", j)
	}
	post := func(path string) response { return do(t, "POST", r.admin+path, "", nil) }
	if resp := post("/api/v1/jobs/" + dead + "/retry"); resp.Status != 200 {
		t.Fatalf("retry: %d %s", resp.Status, resp.Body)
	}
	j = r.waitJob(dead, logs.JobDead)
	if j.Attempts != 4 {
		t.Errorf("after a retry: %d attempts, want 4 (the retry and its own retries)", j.Attempts)
	}
	running := jobOf(t, do(t, "POST", r.url+"serial", "{}", nil))
	r.waitJob(running, logs.JobRunning)
	queued := jobOf(t, do(t, "POST", r.url+"serial", "{}", nil))
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/api/v1/jobs/" + running + "/cancel", http.StatusConflict},
		{"/api/v1/jobs/" + queued + "/retry", http.StatusConflict},
		{"/api/v1/jobs/" + queued + "/cancel", http.StatusOK},
		{"/api/v1/jobs/" + queued + "/cancel", http.StatusConflict},
		{"/api/v1/jobs/00000000000000000000000000000000/cancel", http.StatusNotFound},
		{"/api/v1/jobs/nope/retry", http.StatusNotFound},
	} {
		if resp := post(tt.path); resp.Status != tt.want {
			t.Errorf("POST %s: %d %s, want %d", tt.path, resp.Status, resp.Body, tt.want)
		}
	}
	openGate(t, gate)
	r.waitJob(running, logs.JobSucceeded)
	if j := r.waitJob(queued, logs.JobCanceled); j.Attempts != 0 {
		t.Errorf("a canceled job ran: %+v", j)
	}
}

// TestQueueLatest: with queue: latest and concurrency: 1, jobs queued
// while one runs are superseded by the newest, which runs next.
func TestQueueLatest(t *testing.T) {
	dir := t.TempDir()
	gate, runs := filepath.Join(dir, "gate"), filepath.Join(dir, "runs")
	r := startRig(t, map[string]string{"a.yaml": openFile(
		hook("deploy", "deploy", "open", "background: true\nconcurrency: 1\nqueue: latest\ntimeout: 120",
			fmt.Sprintf(`subprocess.run({"sh", "-c", "echo $1 >> '%s'", "sh", payload.n})
`, runs)+gateCode(gate)))})
	var jobs []string
	for i := 1; i <= 4; i++ {
		jobs = append(jobs, jobOf(t, do(t, "POST", r.url+"deploy", fmt.Sprintf(`{"n": "%d"}`, i), nil)))
		if i == 1 {
			r.waitJob(jobs[0], logs.JobRunning)
		}
	}
	for i := 1; i <= 2; i++ { // by a newer one (the next, or the last when both came first)
		if j := r.waitJob(jobs[i], logs.JobSuperseded); j.SupersededBy != jobs[i+1] && j.SupersededBy != jobs[3] {
			t.Errorf("job %d superseded by %q, want a newer job", i+1, j.SupersededBy)
		}
	}
	openGate(t, gate)
	r.waitJob(jobs[0], logs.JobSucceeded)
	r.waitJob(jobs[3], logs.JobSucceeded)
	if got := strings.Join(runLines(t, runs), ","); got != "1,4" {
		t.Errorf("runs %q, want 1,4", got)
	}
	if got := testutil.ToFloat64(r.m.delivery.jobs.WithLabelValues(logs.JobSuperseded)); got != 2 {
		t.Errorf("towerhook_jobs{state=superseded} = %v", got)
	}
}

// TestConcurrencyInline: inline calls beyond concurrency wait in line and
// run one after another; one whose deadline passes while waiting gets 503
// Too busy with Retry-After.
func TestConcurrencyInline(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	r := startRig(t, map[string]string{"a.yaml": openFile(
		hook("serial", "serial", "open", "concurrency: 1\ntimeout: 120", gateCode(gate)+"\nresult.message = request.id") +
			hook("short", "short", "open", "concurrency: 1\ntimeout: 0.5", gateCode(gate)))})
	var wg sync.WaitGroup
	answers := make([]response, 3)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = do(t, "POST", r.url+"serial", "{}", map[string]string{"X-Request-Id": fmt.Sprint("c", i)})
		}()
	}
	waits := r.m.delivery.concurrencyWaits.WithLabelValues("serial")
	eventually(t, 30*time.Second, "two calls waiting", func() bool { return testutil.ToFloat64(waits) == 2 })
	// short: the slot is taken (here by the test itself), so a call waits
	// until its deadline and is turned away.
	l := r.p.limits.get("short")
	if !l.tryAcquire(1) {
		t.Fatal("slot of short taken")
	}
	second := do(t, "POST", r.url+"short", "{}", nil)
	if second.Status != 503 || second.Message != "Too busy" || second.Header.Get("Retry-After") == "" {
		t.Errorf("waiting past the deadline: %d %s %v", second.Status, second.Body, second.Header)
	}
	if got := testutil.ToFloat64(r.m.delivery.concurrencyWaits.WithLabelValues("short")); got != 1 {
		t.Errorf("towerhook_concurrency_waits_total{short} = %v", got)
	}
	l.release()
	openGate(t, gate)
	wg.Wait()
	for i, a := range answers {
		if a.Status != 200 || a.Message != fmt.Sprint("c", i) {
			t.Errorf("call %d: %d %s", i, a.Status, a.Body)
		}
	}
}

// TestEnqueueFullDisk: when the job cannot be stored (a full disk), the
// caller gets 503 Call log unavailable, never a 202, and nothing runs.
func TestEnqueueFullDisk(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": openFile(
		hook("bg", "bg", "open", "background: true\ndedup: header:X-Delivery", `result.message = "ran"`))})
	cur := currentTable(t, dir)
	m := newMetrics(prometheus.NewRegistry())
	store, err := logs.Open(filepath.Join(t.TempDir(), logs.FileName), logs.Options{Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	full := errors.New("write towerhook.db-wal: no space left on device")
	var mu sync.Mutex
	var logged []*logs.Record
	p := newPipeline(DefaultOptions(), cur, m, discardLogger(), func(_ context.Context, rec *logs.Record) error {
		mu.Lock()
		logged = append(logged, rec)
		mu.Unlock()
		return nil
	})
	p.durable = true
	sched, err := startDelivery(p, store, cur, m, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	p.batchFn = func(context.Context, *logs.Record, logs.Batch) error { return full }
	srv := httptest.NewServer(p)
	defer srv.Close()
	for i := range 2 { // the failed call released its claim: the retry gets the same answer, not a duplicate
		resp := do(t, "POST", srv.URL+DefaultPrefix+"bg", "{}", map[string]string{"X-Delivery": "x"})
		if resp.Status != 503 || resp.Message != "Call log unavailable" || resp.Header.Get("Retry-After") == "" ||
			strings.Contains(resp.Body, "job") {
			t.Errorf("call %d: %d %s", i, resp.Status, resp.Body)
		}
	}
	sched.mu.Lock()
	n := len(sched.queues)
	sched.mu.Unlock()
	if n != 0 {
		t.Errorf("a job not stored was queued")
	}
	page, _ := store.ListJobs(logs.JobFilter{})
	if len(page.Jobs) != 0 {
		t.Errorf("%d jobs stored", len(page.Jobs))
	}
}

// TestTenThousandQueued: 10 000 queued jobs stay in the store, not in
// memory (the scheduler keeps their ids), and /api/v1/jobs pages through
// them.
func TestTenThousandQueued(t *testing.T) {
	if testing.Short() {
		t.Skip("queues 10 000 jobs")
	}
	gate := filepath.Join(t.TempDir(), "gate")
	r := startRig(t, map[string]string{"a.yaml": openFile(
		hook("held", "held", "open", "background: true\nconcurrency: 1\ntimeout: 300", gateCode(gate)))})
	const n, size = 10000, 4 << 10
	body := `{"pad": "` + strings.Repeat("x", size) + `"}`
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if resp := do(t, "POST", r.url+"held", body, nil); resp.Status != 202 {
				t.Errorf("%d %s", resp.Status, resp.Body)
			}
		}()
	}
	wg.Wait()
	if _, err := r.store.PruneDelivery(); err != nil { // checkpoint the journal
		t.Fatal(err)
	}
	grown := int64(heap()) - int64(before)
	if limit := int64(n * size / 2); grown > limit {
		t.Errorf("heap grew by %d MiB for %d MiB of queued payloads (limit %d MiB)", grown>>20, n*size>>20, limit>>20)
	}
	t.Logf("heap grew by %.1f MiB for %d queued jobs of %d KiB", float64(grown)/(1<<20), n, size>>10)
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		var page logs.JobPage
		if code := getJSON(t, r.admin+"/api/v1/jobs?state=queued&limit=1000&cursor="+cursor, &page); code != 200 {
			t.Fatalf("page %d: %d", pages, code)
		}
		pages++
		for _, j := range page.Jobs {
			if seen[j.ID] || j.State != logs.JobQueued {
				t.Fatalf("job %s listed twice or %s", j.ID, j.State)
			}
			seen[j.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != n-1 || pages != 10 {
		t.Errorf("%d queued jobs in %d pages, want %d in 10 (one runs)", len(seen), pages, n-1)
	}
	if got := testutil.ToFloat64(r.m.delivery.jobs.WithLabelValues(logs.JobQueued)); got != n-1 {
		t.Errorf("towerhook_jobs{state=queued} = %v", got)
	}
	openGate(t, gate)
}

// TestJobsReload: a changed webhook keeps its queue and its jobs run the
// new code; a disabled or removed webhook's pending jobs end dead with
// that reason.
func TestJobsReload(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	bg := "background: true\nconcurrency: 1\ntimeout: 120"
	d := startDaemon(t, map[string]string{
		"a.yaml": openFile(hook("a", "a", "open", bg, gateCode(gate)+"\nresult.message = 'v1'")),
		"b.yaml": openFile(hook("b", "b", "open", bg, gateCode(gate))),
		"c.yaml": openFile(hook("c", "c", "open", bg, gateCode(gate))),
	}, nil)
	job := func(path string) string { return jobOf(t, do(t, "POST", d.pub+DefaultPrefix+path, "{}", nil)) }
	state := func(id string) logs.Job {
		var j logs.Job
		getJSON(t, d.admin+"/api/v1/jobs/"+id, &j)
		return j
	}
	waitState := func(id, want string) logs.Job {
		var j logs.Job
		eventually(t, 60*time.Second, id+" "+want, func() bool { j = state(id); return j.State == want })
		return j
	}
	a1, a2, b1, b2, c1, c2 := job("a"), job("a"), job("b"), job("b"), job("c"), job("c")
	for _, id := range []string{a1, b1, c1} {
		waitState(id, logs.JobRunning)
	}
	writeFiles(t, d.dir, map[string]string{
		"a.yaml": openFile(hook("a", "a", "open", bg, "result.message = 'v2'")),
		"b.yaml": openFile(hook("b", "b", "open", bg+"\nactive: false", gateCode(gate))),
	})
	if err := os.Remove(filepath.Join(d.dir, "c.yaml")); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "POST", d.admin+"/-/reload", "", nil); r.Status != 200 {
		t.Fatalf("reload: %d %s", r.Status, r.Body)
	}
	if j := waitState(b2, logs.JobDead); j.Error != "webhook disabled" || j.Attempts != 0 {
		t.Errorf("b2: %+v", j)
	}
	if j := waitState(c2, logs.JobDead); j.Error != "webhook removed" {
		t.Errorf("c2: %+v", j)
	}
	if j := state(a2); j.State != logs.JobQueued {
		t.Errorf("a2 is %s, want still queued", j.State)
	}
	openGate(t, gate)
	for _, id := range []string{a1, b1, c1, a2} {
		waitState(id, logs.JobSucceeded)
	}
	j := state(a2)
	var rec logs.Record
	getJSON(t, d.admin+"/api/v1/logs/"+j.Records[len(j.Records)-1], &rec)
	if rec.ResultMessage != "v2" {
		t.Errorf("a2 ran %q, want the new code's v2", rec.ResultMessage)
	}
}

// TestDeliveryAsyncLog: with --log-sync=false a background call is still
// answered 202 only once its job is stored, the job runs, and dedup works.
func TestDeliveryAsyncLog(t *testing.T) {
	d := startDaemon(t, map[string]string{"a.yaml": openFile(
		hook("bg", "bg", "open", "background: true", `result.message = "ran " .. request.job`) +
			hook("once", "once", "open", "dedup: query:id", `result.message = "first " .. request.id`))},
		func(o *Options) { o.LogSync = false })
	id := jobOf(t, do(t, "POST", d.pub+DefaultPrefix+"bg", "{}", nil))
	eventually(t, 30*time.Second, "the job", func() bool {
		var j logs.Job
		getJSON(t, d.admin+"/api/v1/jobs/"+id, &j)
		return j.State == logs.JobSucceeded
	})
	first := do(t, "POST", d.pub+DefaultPrefix+"once?id=1", "{}", map[string]string{"X-Request-Id": "a1"})
	again := do(t, "POST", d.pub+DefaultPrefix+"once?id=1", "{}", nil)
	if first.Message != "first a1" || again.Message != "first a1" || again.Header.Get("X-Towerhook-Duplicate-Of") != "a1" {
		t.Errorf("dedup without log sync: %s / %s %v", first.Body, again.Body, again.Header)
	}
}
