package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"towerhook/logs"
)

// rig is the delivery pipeline over real HTTP on a real store, with its
// parts within reach of the test (metrics, store, scheduler).
type rig struct {
	t     testing.TB
	url   string // public base URL, prefix included
	admin string
	dir   string
	store *logs.Store
	p     *pipeline
	sched *scheduler
	m     *metrics
}

// startRig serves files (definitions) on a durable store.
func startRig(t testing.TB, files map[string]string) *rig {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	cur := currentTable(t, dir)
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	store, err := logs.Open(filepath.Join(t.TempDir(), logs.FileName), logs.Options{Sync: true, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	p := newPipeline(DefaultOptions(), cur, m, discardLogger(), store.Append)
	p.expect, p.durable, p.logFailing = store.Expect, true, store.Failing
	sched, err := startDelivery(p, store, cur, m, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	sched.tableChanged(cur.Load())
	ctx, cancel := context.WithCancel(context.Background())
	go sched.run(ctx)
	pub := httptest.NewServer(p)
	adm := httptest.NewServer(withJobsAPI(store.Handler(), store, sched))
	t.Cleanup(func() {
		pub.Close()
		adm.Close()
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		sched.stop(sctx)
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	})
	return &rig{t: t, url: pub.URL + DefaultPrefix, admin: adm.URL, dir: dir, store: store, p: p, sched: sched, m: m}
}

// waitJob waits until job id is in state and returns it.
func (r *rig) waitJob(id, state string) *logs.Job {
	r.t.Helper()
	var j *logs.Job
	eventually(r.t, 60*time.Second, "job "+id+" "+state, func() bool {
		var err error
		j, err = r.store.Job(id)
		return err == nil && j.State == state
	})
	return j
}

// records returns the call-log records of webhook, oldest first.
func (r *rig) records(webhook string) []*logs.Record {
	r.t.Helper()
	var out []*logs.Record
	f := logs.Filter{Webhook: webhook, Limit: logs.MaxLimit}
	for {
		page, err := r.store.Query(f)
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, page.Records...)
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// jobOf decodes the job id of a 202 answer.
func jobOf(t testing.TB, r response) string {
	t.Helper()
	var a struct {
		Message string `json:"message"`
		Job     string `json:"job"`
	}
	if err := json.Unmarshal([]byte(r.Body), &a); err != nil || r.Status != 202 || a.Message != "Accepted" || len(a.Job) != 32 {
		t.Fatalf("want 202 Accepted with a job, got %d %s", r.Status, r.Body)
	}
	return a.Job
}

// gateCode is Lua that waits (in a subprocess) until the file gate exists.
func gateCode(gate string) string {
	return fmt.Sprintf(`subprocess.run({"sh", "-c", "while [ ! -e '%s' ]; do sleep 0.02; done"}, {timeout = 120})`, gate)
}

// openGate creates the file gate.
func openGate(t testing.TB, gate string) {
	t.Helper()
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runLines returns the lines of a file code appends to (missing: none).
func runLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}
