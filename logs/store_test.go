package logs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// clock is an injectable, settable time source.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func openTest(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "towerhook.db")
	}
	if opts.OpenTimeout == 0 {
		opts.OpenTimeout = 5 * time.Second
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func rec(webhook string, status int) *Record {
	return &Record{
		Webhook: webhook, WebhookName: "Hook " + webhook, Endpoint: "ep/" + webhook, Method: "POST",
		Authenticator: "auth_" + webhook, AuthenticationStatus: AuthSuccess, CodeStatus: CodeSuccess,
		HTTPStatus: status, ResultMessage: "OK", IPAddress: "127.0.0.1", DurationSeconds: 0.0123,
		RequestID: "req", RequestHeaders: map[string]string{"Content-Type": "application/json"},
		RequestPayload: json.RawMessage(`{"a":1}`), ConfigHash: "h", LogLines: []string{"line"},
	}
}

func count(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	f := Filter{Limit: MaxLimit}
	for {
		p, err := s.Query(f)
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Records)
		if p.NextCursor == "" {
			return n
		}
		f.Cursor = p.NextCursor
	}
}

func TestAppendGet(t *testing.T) {
	for _, sync := range []bool{true, false} {
		t.Run(fmt.Sprintf("sync=%v", sync), func(t *testing.T) {
			c := newClock(t0)
			path := filepath.Join(t.TempDir(), "d", "towerhook.db")
			s := openTest(t, path, Options{Sync: sync, Now: c.now})
			r := rec("deploy", 200)
			if err := s.Append(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if len(r.ID) != 32 || !r.Time.Equal(t0) {
				t.Fatalf("ID/Time not filled: %q %v", r.ID, r.Time)
			}
			if !sync {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = openTest(t, path, Options{Now: c.now})
			}
			got, err := s.Get(r.ID)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(r)
			gotJ, _ := json.Marshal(got)
			if string(want) != string(gotJ) {
				t.Fatalf("round trip:\n got %s\nwant %s", gotJ, want)
			}
			for _, id := range []string{"", "zz", strings.Repeat("0", 32), r.ID[:31] + map[bool]string{true: "1", false: "0"}[r.ID[31] == '0']} {
				if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
					t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
				}
			}
		})
	}
}

func TestAppendAfterCloseAndIdempotentClose(t *testing.T) {
	for _, sync := range []bool{true, false} {
		s := openTest(t, "", Options{Sync: sync})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := s.Append(context.Background(), rec("x", 200)); !errors.Is(err, ErrClosed) {
			t.Fatalf("Append after Close = %v, want ErrClosed", err)
		}
	}
}

func TestBadID(t *testing.T) {
	s := openTest(t, "", Options{Sync: true})
	r := rec("x", 200)
	r.ID = "not-an-id"
	if err := s.Append(context.Background(), r); !errors.Is(err, ErrBadID) {
		t.Fatalf("got %v", err)
	}
}

func TestCloseDrainsAsync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "towerhook.db")
	s := openTest(t, path, Options{QueueSize: 10000})
	const n = 3000
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/4; i++ {
				if err := s.Append(context.Background(), rec(fmt.Sprint("w", g), 200)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path, Options{ReadOnly: true})
	if got := count(t, s); got != n {
		t.Fatalf("after Close: %d records, want %d", got, n)
	}
	if err := s.Append(context.Background(), rec("x", 200)); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only Append = %v", err)
	}
}

func TestRetention(t *testing.T) {
	tests := []struct {
		days     int
		wantOld  bool
		wantNew  bool
		wantDays int
	}{
		{days: 30, wantOld: false, wantNew: true, wantDays: 1},
		{days: 0, wantOld: true, wantNew: true, wantDays: 0},
		{days: 120, wantOld: true, wantNew: true, wantDays: 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("N=", tt.days), func(t *testing.T) {
			c := newClock(t0)
			path := filepath.Join(t.TempDir(), "towerhook.db")
			s := openTest(t, path, Options{Sync: true, Now: c.now, RetentionDays: tt.days})
			old, fresh := rec("old", 200), rec("fresh", 200)
			old.Time = t0.AddDate(0, 0, -100)
			for _, r := range []*Record{old, fresh} {
				if err := s.Append(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
			n, err := s.Prune()
			if err != nil || n != tt.wantDays {
				t.Fatalf("Prune = %d, %v; want %d", n, err, tt.wantDays)
			}
			for _, c := range []struct {
				r    *Record
				want bool
			}{{old, tt.wantOld}, {fresh, tt.wantNew}} {
				_, err := s.Get(c.r.ID)
				if got := err == nil; got != c.want {
					t.Errorf("%s present = %v (%v), want %v", c.r.Webhook, got, err, c.want)
				}
			}
			// Reopen prunes at start-up too (nothing left to prune).
			_ = s.Close()
			s = openTest(t, path, Options{Now: c.now, RetentionDays: tt.days})
			if got, want := count(t, s), map[bool]int{true: 2, false: 1}[tt.wantOld]; got != want {
				t.Fatalf("after reopen %d records, want %d", got, want)
			}
		})
	}
}

func TestRetentionDayBoundary(t *testing.T) {
	// Records written at 23:59:59 UTC go into that day's bucket; the day is
	// dropped once the clock is more than RetentionDays past it.
	day := time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC)
	c := newClock(day)
	reg := prometheus.NewRegistry()
	s := openTest(t, "", Options{Sync: true, Now: c.now, RetentionDays: 1, Registerer: reg})
	a := rec("a", 200)
	if err := s.Append(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(s.metrics.oldest); got != float64(day.Unix()) {
		t.Fatalf("oldest gauge = %v, want %v", got, day.Unix())
	}
	c.set(day.Add(2 * time.Second)) // 2026-02-01 00:00:01
	b := rec("b", 200)
	if err := s.Append(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if a.ID[:16] >= b.ID[:16] {
		t.Fatalf("ids not time-ordered: %s %s", a.ID, b.ID)
	}
	c.set(time.Date(2026, 2, 1, 23, 0, 0, 0, time.UTC))
	if n, err := s.Prune(); n != 0 || err != nil {
		t.Fatalf("same window: Prune = %d, %v", n, err)
	}
	c.set(time.Date(2026, 2, 2, 0, 0, 1, 0, time.UTC)) // cutoff day 2026-02-01
	if n, err := s.Prune(); n != 1 || err != nil {
		t.Fatalf("next day: Prune = %d, %v", n, err)
	}
	if _, err := s.Get(a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a still present: %v", err)
	}
	if _, err := s.Get(b.ID); err != nil {
		t.Fatalf("b gone: %v", err)
	}
	if got, want := metricValue(s.metrics.oldest), float64(day.Add(2*time.Second).Unix()); got != want {
		t.Fatalf("oldest gauge after prune = %v, want %v", got, want)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "towerhook.db")
	openTest(t, path, Options{})
	for _, ro := range []bool{false, true} {
		start := time.Now()
		_, err := Open(path, Options{OpenTimeout: 100 * time.Millisecond, ReadOnly: ro})
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("ReadOnly=%v: second Open = %v, want ErrLocked", ro, err)
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "already running") {
			t.Fatalf("unhelpful message: %v", err)
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("Open hung")
		}
	}
}

func TestCommitErrorSurfaces(t *testing.T) {
	s := openTest(t, "", Options{Sync: true})
	if err := s.Append(context.Background(), rec("a", 200)); err != nil {
		t.Fatal(err)
	}
	// Pull the files out from under the writer: every journal write and
	// commit now fails.
	if err := s.j.close(); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	err := s.Append(context.Background(), rec("b", 200))
	if err == nil || !strings.Contains(err.Error(), "commit") {
		t.Fatalf("Append with a failing commit = %v, want a commit error", err)
	}
}

func TestAsyncDropsWhenFull(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := openTest(t, "", Options{QueueSize: 1, Registerer: reg})
	// Hold bbolt's writer lock so the writer goroutine blocks in its commit.
	tx, err := s.db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	var dropped error
	for i := 0; i < 10 && dropped == nil; i++ {
		dropped = s.Append(context.Background(), rec("a", 200))
	}
	if !errors.Is(dropped, ErrDropped) {
		t.Fatalf("never dropped: %v", dropped)
	}
	if got := metricValue(s.metrics.dropped); got != 1 {
		t.Fatalf("dropped metric = %v", got)
	}
	_ = tx.Rollback()
	// A sync-mode caller with a cancelled context does not hang either.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s = openTest(t, "", Options{QueueSize: 1, Sync: true})
	tx, _ = s.db.Begin(true)
	for i := 0; i < 10; i++ {
		if err := s.Append(ctx, rec("a", 200)); errors.Is(err, context.Canceled) {
			_ = tx.Rollback()
			return
		}
	}
	_ = tx.Rollback()
	t.Fatal("sync Append ignored its context")
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := openTest(t, "", Options{Sync: true, Registerer: reg})
	for i := 0; i < 5; i++ {
		if err := s.Append(context.Background(), rec("a", 200)); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"towerhook_log_records_written_total", "towerhook_log_records_dropped_total",
		"towerhook_log_commit_duration_seconds", "towerhook_log_checkpoint_duration_seconds",
		"towerhook_log_queue_length", "towerhook_log_store_size_bytes",
		"towerhook_log_oldest_record_timestamp_seconds"} {
		if !names[n] {
			t.Errorf("metric %s not registered", n)
		}
	}
	if got := metricValue(s.metrics.written); got != 5 {
		t.Errorf("written = %v", got)
	}
	// Every durable append waited on a journal commit (one per group):
	// those are the commits; bbolt checkpoints are timed apart.
	if got := histCount(t, reg, "towerhook_log_commit_duration_seconds"); got < 1 || got > 5 {
		t.Errorf("commit observations = %d, want 1..5 (one per group of the 5 appends)", got)
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	if got := histCount(t, reg, "towerhook_log_checkpoint_duration_seconds"); got < 1 {
		t.Errorf("checkpoint observations = %d after a flush", got)
	}
	if got := metricValue(s.metrics.size); got <= 0 {
		t.Errorf("size = %v", got)
	}
	// A second store on the same registry fails cleanly; after Close the
	// collectors are gone and a new store can register.
	if _, err := Open(filepath.Join(t.TempDir(), "b.db"), Options{Registerer: reg}); err == nil {
		t.Fatal("second store on one registry: no error")
	}
	_ = s.Close()
	s2 := openTest(t, filepath.Join(t.TempDir(), "c.db"), Options{Registerer: reg})
	_ = s2
}

func TestPayloadCapAndRedaction(t *testing.T) {
	tests := []struct {
		name      string
		payload   string
		max       int
		want      string
		truncated bool
	}{
		{"small json", `{"a":1}`, 64, `{"a":1}`, false},
		{"exact", `"abcd"`, 6, `"abcd"`, false},
		// Cut so that the stored JSON string fits in max bytes.
		{"long json", `{"a":"0123456789"}`, 13, `"{\"a\":\"01"`, true},
		{"invalid json kept as string", `not json`, 64, `"not json"`, false},
		{"rune boundary", `"ééé"`, 7, `"\"é"`, true},
		{"empty", ``, 64, `null`, false},
		{"invalid UTF-8 kept as a valid string", "{\"a\":\"\xff\xfe\"}", 64, `"{\"a\":\"\ufffd\ufffd\"}"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, "", Options{Sync: true, MaxPayloadBytes: tt.max})
			r := rec("a", 200)
			r.RequestPayload = json.RawMessage(tt.payload)
			r.RequestHeaders = map[string]string{"authorization": "Bearer x", "X-Hub-Signature-256": "sha256=ab"}
			if err := s.Append(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.RequestPayload) != tt.want || got.Truncated != tt.truncated {
				t.Fatalf("payload %s truncated=%v, want %s %v", got.RequestPayload, got.Truncated, tt.want, tt.truncated)
			}
			if got.RequestHeaders["authorization"] != Redacted || got.RequestHeaders["X-Hub-Signature-256"] != "sha256=ab" {
				t.Fatalf("headers %v", got.RequestHeaders)
			}
			if r.RequestHeaders["authorization"] != "Bearer x" {
				t.Fatal("caller's map was changed")
			}
		})
	}
}

// Announced records that never come (Expect without Append) only make a
// loaded writer wait syncLinger per group; appends still complete.
func TestExpectNeverHoldsAppends(t *testing.T) {
	s := openTest(t, "", Options{Sync: true})
	s.Expect(5)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				errs <- s.Append(ctx, rec("a", 200))
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Expect(-5)
	if n := count(t, s); n != 64 {
		t.Fatalf("%d records, want 64", n)
	}
}

// histCount returns the sample count of the histogram name in reg.
func histCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}
