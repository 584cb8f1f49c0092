package logs

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

// days lists the store's day buckets, oldest first.
func days(t *testing.T, s *Store) []string {
	t.Helper()
	var names []string
	if err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return names
}

// --log-max-size: over the budget, the oldest days go first until the data
// in use fits; the newest days stay, today's always.
func TestPruneBySize(t *testing.T) {
	tests := []struct {
		name     string
		budget   int64
		wantDays []string
	}{
		{"unlimited", 0, []string{"2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"}},
		{"three days fit", 3 << 20, []string{"2026-03-08", "2026-03-09", "2026-03-10"}},
		{"not even today fits", 100 << 10, []string{"2026-03-10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock(t0)
			reg := prometheus.NewRegistry()
			var logBuf bytes.Buffer
			s := openTest(t, "", Options{Sync: true, Now: c.now, MaxSizeBytes: tt.budget, Registerer: reg,
				Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
			// Eight days of ~800 KiB each (two records a 16 KiB page), each
			// written on its day.
			for day := 7; day >= 0; day-- {
				c.set(t0.AddDate(0, 0, -day))
				for i := 0; i < 100; i++ {
					r := rec("w", 200)
					r.LogLines = []string{strings.Repeat("x", 7000)}
					if err := s.Append(context.Background(), r); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.flush(); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Prune(); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(days(t, s), " "); got != strings.Join(tt.wantDays, " ") {
				t.Fatalf("days left: %s\nwant       %s", got, strings.Join(tt.wantDays, " "))
			}
			dropped := 8 - len(tt.wantDays)
			if got := metricValue(s.metrics.pruned.WithLabelValues(pruneSize)); got != float64(dropped) {
				t.Errorf("pruned days (size) = %v, want %d", got, dropped)
			}
			if got := metricValue(s.metrics.pruned.WithLabelValues(pruneAge)); got != 0 {
				t.Errorf("pruned days (age) = %v, want 0", got)
			}
			used := metricValue(s.metrics.used)
			if tt.budget > 0 && len(tt.wantDays) > 1 && used > float64(tt.budget) {
				t.Errorf("used %v bytes, over the budget %d", used, tt.budget)
			}
			if got := metricValue(s.metrics.maxSize); got != float64(tt.budget) {
				t.Errorf("max size gauge = %v, want %d", got, tt.budget)
			}
			// What was dropped is logged (by the explicit Prune, or by the
			// pruner that a commit over the budget woke).
			if l := logBuf.String(); dropped > 0 && (!strings.Contains(l, `msg="call log: dropped the oldest days to stay within --log-max-size" days=`) || !strings.Contains(l, "2026-03-03")) {
				t.Errorf("the drop is not logged:\n%s", logBuf.String())
			}
			if len(tt.wantDays) == 1 && !strings.Contains(logBuf.String(), "only today's records are left") {
				t.Errorf("being over the budget with only today left is not logged:\n%s", logBuf.String())
			}
		})
	}
}
