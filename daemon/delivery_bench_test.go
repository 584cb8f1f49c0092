package daemon

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"towerhook/logs"
)

// Benchmarks of README "Delivery": the enqueue path and dedup against the
// references of BenchmarkLoopback in the same run (ratios are only fair
// within one run), and the drain rate of trivial background jobs.

// deliveryBenchDefs adds to benchDefs the same webhook with dedup, and a
// background one with dedup (trivial code).
const deliveryBenchDefs = benchDefs + `- cetmix_tower_model: webhook
  reference: push_dedup
  name: Push with dedup
  endpoint: push_dedup
  authenticator_id: github_like
  dedup: header:X-GitHub-Delivery
  code: |
    local repo = payload.repository and payload.repository.full_name or "?"
    result = {exit_code = 0, message = "push to " .. repo .. " by " .. tostring(payload.pusher.name) .. " ref " .. tostring(payload.ref)}
- cetmix_tower_model: webhook
  reference: push_bg
  name: Push in the background
  endpoint: push_bg
  authenticator_id: github_like
  dedup: header:X-GitHub-Delivery
  background: true
  code: |
    result = {exit_code = 0, message = "ok"}
`

// loadDelivery is loadRun with a fresh X-GitHub-Delivery per request and
// the status every answer must have.
func loadDelivery(b *testing.B, url string, want int) float64 {
	body := benchPayload()
	sig := sign(body)
	b.SetBytes(int64(len(body)))
	run := strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	return loadEach(b, func(client *http.Client, i int64) error {
		return postStatus(client, url, body, map[string]string{
			"Content-Type": "application/json", "X-Hub-Signature-256": sig,
			"X-GitHub-Delivery": run + strconv.FormatInt(i, 10),
		}, want)
	})
}

// BenchmarkDelivery: bare_fsync is the minimal durable receiver (a bare
// handler answering after a grouped fdatasync of the body); enqueue is a
// background webhook (Lua authenticator, dedup claim, durable job and
// record, 202; its jobs drain meanwhile); inline and inline_dedup are the
// same inline webhook without and with dedup (inline_after repeats inline
// and reports dedup% against the mean of both). %fsync, %inline and dedup%
// are ratios within the run.
func BenchmarkDelivery(b *testing.B) {
	var fsyncRate, inlineRate float64
	b.Run("bare_fsync", func(b *testing.B) {
		g, err := newGroupSync(filepath.Join(b.TempDir(), "wal"))
		if err != nil {
			b.Fatal(err)
		}
		defer g.f.Close()
		fsyncRate = loadServe(b, bareAfter(b, func(_ *http.Request, body []byte) error { return g.append(body) }))
	})
	run := func(name, endpoint string, want int, after func(b *testing.B, rate float64)) {
		b.Run(name, func(b *testing.B) {
			defer TuneRuntime(os.Getenv)()
			secrets := b.TempDir()
			if err := os.WriteFile(filepath.Join(secrets, "bench"), []byte(benchSecret), 0o600); err != nil {
				b.Fatal(err)
			}
			d := startDaemon(b, map[string]string{"bench.yaml": deliveryBenchDefs}, func(o *Options) { o.SecretsDir = secrets })
			after(b, loadDelivery(b, d.pub+DefaultPrefix+endpoint, want))
		})
	}
	ratio := func(ref *float64, unit string) func(*testing.B, float64) {
		return func(b *testing.B, rate float64) {
			if *ref > 0 {
				b.ReportMetric(100*rate / *ref, unit)
			}
		}
	}
	run("enqueue", "push_bg", http.StatusAccepted, ratio(&fsyncRate, "%fsync"))
	run("inline", "push", http.StatusOK, func(b *testing.B, rate float64) {
		inlineRate = rate
		ratio(&fsyncRate, "%fsync")(b, rate)
	})
	var dedupRate float64
	run("inline_dedup", "push_dedup", http.StatusOK, func(b *testing.B, rate float64) {
		dedupRate = rate
		ratio(&inlineRate, "%inline")(b, rate)
	})
	// The machine's speed drifts within a run: inline again after the
	// dedup row, and dedup% against the mean of both inline rows.
	run("inline_after", "push", http.StatusOK, func(b *testing.B, rate float64) {
		if inlineRate > 0 && dedupRate > 0 {
			b.ReportMetric(100*dedupRate/((inlineRate+rate)/2), "dedup%")
		}
	})
}

// BenchmarkDrain: b.N trivial background jobs are queued first (straight
// into the store), then the scheduler runs them with concurrency
// unlimited; jobs/s is the drain rate.
func BenchmarkDrain(b *testing.B) {
	dir := b.TempDir()
	writeFiles(b, dir, map[string]string{"a.yaml": openFile(hook("bg", "bg", "open", "background: true", `result.message = "ok"`))})
	cur := currentTable(b, dir)
	m := newMetrics(prometheus.NewRegistry())
	store, err := logs.Open(filepath.Join(b.TempDir(), logs.FileName), logs.Options{Sync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	const group = 256
	for i := 0; i < b.N; i += group {
		var batch logs.Batch
		batch.Requests = map[string]*logs.JobRequest{}
		for k := i; k < min(i+group, b.N); k++ {
			j := &logs.Job{ID: store.NewID(now), Webhook: "bg", State: logs.JobQueued, Created: now, Updated: now, MaxAttempts: 1}
			batch.Jobs = append(batch.Jobs, j)
			batch.Requests[j.ID] = &logs.JobRequest{Method: "POST", Endpoint: "bg", Body: []byte(`{"n": 1}`)}
		}
		if err := store.AppendBatch(context.Background(), nil, batch); err != nil {
			b.Fatal(err)
		}
	}
	defer TuneRuntime(os.Getenv)()
	p := newPipeline(DefaultOptions(), cur, m, discardLogger(), store.Append)
	sched, err := startDelivery(p, store, cur, m, discardLogger())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	succeeded := m.delivery.jobs.WithLabelValues(logs.JobSucceeded)
	b.ResetTimer()
	start := time.Now()
	sched.tableChanged(cur.Load())
	go sched.run(ctx)
	for testutil.ToFloat64(succeeded) < float64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
	b.StopTimer()
	sched.stop(ctx)
	if dead := testutil.ToFloat64(m.delivery.jobs.WithLabelValues(logs.JobDead)); dead > 0 {
		b.Fatalf("%v jobs dead", dead)
	}
}
