package logs

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func testJob(s *Store, webhook, state string, t time.Time) *Job {
	return &Job{ID: s.NewID(t), Webhook: webhook, State: state, Created: t, Updated: t, MaxAttempts: 1, Records: []string{}}
}

// TestJobsCommitWithRecord: a job and its record commit in one group;
// both are readable at once (before a checkpoint) and after a crash
// (journal replay), in both modes.
func TestJobsCommitWithRecord(t *testing.T) {
	for _, sync := range []bool{true, false} {
		t.Run(map[bool]string{true: "durable", false: "async"}[sync], func(t *testing.T) {
			dir := t.TempDir()
			s := openTest(t, filepath.Join(dir, "towerhook.db"), Options{Sync: sync})
			now := time.Now()
			j := testJob(s, "deploy", JobQueued, now)
			r := rec("deploy", 202)
			r.Job = j.ID
			req := &JobRequest{Method: "POST", Body: []byte(`{"ref":"main"}`), Headers: map[string][]string{"X-A": {"1"}}}
			claim := &Claim{Webhook: "deploy", ID: "d1", RequestID: "req", Status: 202, Job: j.ID, Time: now, Expires: now.Add(time.Hour)}
			if err := s.AppendBatch(context.Background(), r, Batch{Jobs: []*Job{j}, Requests: map[string]*JobRequest{j.ID: req}, Claims: []*Claim{claim}}); err != nil {
				t.Fatal(err)
			}
			check := func(s *Store) {
				t.Helper()
				got, err := s.Job(j.ID)
				if err != nil || got.State != JobQueued || got.Webhook != "deploy" {
					t.Fatalf("Job: %+v %v", got, err)
				}
				gr, err := s.JobRequest(j.ID)
				if err != nil || string(gr.Body) != `{"ref":"main"}` || gr.Headers["X-A"][0] != "1" {
					t.Fatalf("JobRequest: %+v %v", gr, err)
				}
				if got, err := s.Get(r.ID); err != nil || got.Job != j.ID {
					t.Fatalf("record: %+v %v", got, err)
				}
				var pending []string
				if err := s.PendingJobs(func(p *Job) bool { pending = append(pending, p.ID); return true }); err != nil || len(pending) != 1 {
					t.Fatalf("pending %v %v", pending, err)
				}
				var claims []*Claim
				if err := s.Claims(now, func(c *Claim) { claims = append(claims, c) }); err != nil || len(claims) != 1 || claims[0].Job != j.ID {
					t.Fatalf("claims %+v %v", claims, err)
				}
				if n := count(t, s); n != 1 {
					t.Fatalf("%d records, want 1 (meta frames are not records)", n)
				}
			}
			check(s)
			if sync {
				check(openCrashCopy(t, dir)) // from the journal, before any checkpoint
			}
			// A later state wins over the earlier one, also across a checkpoint.
			j.State = JobSucceeded
			if err := s.AppendBatch(context.Background(), nil, Batch{Jobs: []*Job{j}}); err != nil {
				t.Fatal(err)
			}
			if err := s.flush(); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Job(j.ID); got.State != JobSucceeded {
				t.Errorf("after a checkpoint: %s", got.State)
			}
			n := 0
			_ = s.PendingJobs(func(*Job) bool { n++; return true })
			if n != 0 {
				t.Errorf("%d pending after success", n)
			}
		})
	}
}

// TestListJobsPages: jobs list newest first with filters, across the
// journal overlay and bbolt, page by page without repeats.
func TestListJobsPages(t *testing.T) {
	s := openTest(t, "", Options{Sync: true})
	base := time.Now()
	var ids []string
	for i := range 25 {
		st := JobQueued
		if i%5 == 0 {
			st = JobDead
		}
		j := testJob(s, "w", st, base.Add(time.Duration(i)*time.Millisecond))
		ids = append(ids, j.ID)
		if err := s.AppendBatch(context.Background(), nil, Batch{Jobs: []*Job{j}}); err != nil {
			t.Fatal(err)
		}
		if i == 12 {
			if err := s.flush(); err != nil { // half in bbolt, half in the overlay
				t.Fatal(err)
			}
		}
	}
	var got []string
	f := JobFilter{State: JobQueued, Limit: 7}
	for {
		p, err := s.ListJobs(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range p.Jobs {
			got = append(got, j.ID)
		}
		if p.NextCursor == "" {
			break
		}
		f.Cursor = p.NextCursor
	}
	var want []string
	for i := len(ids) - 1; i >= 0; i-- {
		if i%5 != 0 {
			want = append(want, ids[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d jobs listed, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("position %d: %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := s.ListJobs(JobFilter{State: "asleep"}); err == nil {
		t.Error("a bad state was accepted")
	}
	counts, _ := s.JobCounts()
	if counts[JobQueued] != 20 || counts[JobDead] != 5 {
		t.Errorf("counts %v", counts)
	}
}

// TestPruneDelivery: expired claims and jobs that ended before the
// retention go; pending jobs and live claims stay.
func TestPruneDelivery(t *testing.T) {
	now := time.Now()
	clock := now
	s := openTest(t, "", Options{Sync: true, RetentionDays: 1, Now: func() time.Time { return clock }})
	old := now.Add(-72 * time.Hour)
	ended := testJob(s, "w", JobSucceeded, old)
	waiting := testJob(s, "w", JobQueued, old)
	fresh := testJob(s, "w", JobDead, now)
	claims := []*Claim{
		{Webhook: "w", ID: "gone", Expires: now.Add(-time.Minute)},
		{Webhook: "w", ID: "kept", Expires: now.Add(time.Hour)},
	}
	if err := s.AppendBatch(context.Background(), nil, Batch{Jobs: []*Job{ended, waiting, fresh}, Claims: claims}); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneDelivery()
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2", n, err)
	}
	if _, err := s.Job(ended.ID); err != ErrNotFound {
		t.Errorf("ended job: %v", err)
	}
	for _, id := range []string{waiting.ID, fresh.ID} {
		if _, err := s.Job(id); err != nil {
			t.Errorf("job %s: %v", id, err)
		}
	}
	var left []string
	_ = s.Claims(time.Time{}, func(c *Claim) { left = append(left, c.ID) })
	if len(left) != 1 || left[0] != "kept" {
		t.Errorf("claims left %v", left)
	}
}

// FuzzDecodeMeta: decoding a meta frame value never panics, and what
// decodes encodes back to the same bytes.
func FuzzDecodeMeta(f *testing.F) {
	f.Add(encodeMeta([]metaOp{{bucket: metaJobs, key: []byte("k"), val: []byte(`{"id":"x"}`)}, {bucket: metaPending, key: []byte("w\x00k"), del: true}}))
	f.Add([]byte{metaClaims, 1, 'a', 0, 0})
	f.Add([]byte{9, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		ops, err := decodeMeta(v)
		if err != nil {
			return
		}
		for i := range ops {
			if ops[i].del {
				ops[i].val = nil
			}
		}
		if got := encodeMeta(ops); string(got) != string(v) && len(v) > 0 {
			// A delete may carry a value on the wire that encodeMeta drops.
			again, err := decodeMeta(got)
			if err != nil || len(again) != len(ops) {
				t.Fatalf("re-encoding changed the operations: %v", err)
			}
		}
	})
}
