package logs

import (
	"bytes"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The size budget (README "Call log and retention", --log-max-size), like
// Prometheus' --storage.tsdb.retention.size: when the data in use passes
// Options.MaxSizeBytes, the oldest day buckets are dropped, one by one,
// until it fits again; today's bucket never is.
//
// A bbolt file does not shrink when buckets are deleted: its pages go to
// the freelist and are reused by later writes. So the budget is measured
// by the data in use, the high-water mark less the free and pending pages,
// not by the file's size: the file stays at its largest size, and the
// budget keeps it from growing further.

// Reasons of towerhook_log_pruned_days_total.
const (
	pruneAge  = "age"
	pruneSize = "size"
)

// measureUsed sets the used-bytes gauge from the store now and returns the
// value.
func (s *Store) measureUsed() int64 {
	var used int64
	_ = s.db.View(func(tx *bolt.Tx) error {
		used = usedBytes(tx)
		return nil
	})
	s.metrics.used.Set(float64(used))
	return used
}

// usedBytes is the data in use as tx sees it: the high-water mark less the
// pages on the freelist (free, or pending until older readers finish).
func usedBytes(tx *bolt.Tx) int64 {
	db := tx.DB()
	st := db.Stats()
	free := int64(st.FreePageN+st.PendingPageN) * int64(db.Info().PageSize)
	return max(tx.Size()-free, 0)
}

// checkBudget wakes the pruner when used is over the budget, unless only
// today's records were left over it already today.
func (s *Store) checkBudget(used int64) {
	if s.opts.MaxSizeBytes <= 0 || s.opts.ReadOnly || used <= s.opts.MaxSizeBytes {
		return
	}
	if s.sizeStuckDay.Load() == epochDay(s.now()) {
		return
	}
	select {
	case s.overBudget <- struct{}{}:
	default:
	}
}

// epochDay numbers t's UTC day.
func epochDay(t time.Time) int64 { return t.Unix() / 86400 }

// pruneSize drops the oldest day buckets, never today's, while the data in
// use is over MaxSizeBytes, one write transaction per day; it logs what it
// dropped and returns how many days.
func (s *Store) pruneSize() (int, error) {
	limit := s.opts.MaxSizeBytes
	if limit <= 0 || s.opts.ReadOnly || s.measureUsed() <= limit {
		return 0, nil
	}
	if err := s.flushBeforePrune(); err != nil {
		return 0, err
	}
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	now := s.now()
	today := []byte(dayName(now))
	var dropped []string
	used := s.measureUsed()
	for used > limit {
		oldest, err := s.oldestDay()
		if err != nil {
			return len(dropped), err
		}
		if oldest == nil || bytes.Compare(oldest, today) >= 0 {
			if day := epochDay(now); s.sizeStuckDay.Swap(day) == day {
				break // said so already today
			}
			s.log.Warn("call log: over --log-max-size, but only today's records are left to drop",
				"used_bytes", used, "max_size_bytes", limit)
			break
		}
		if err := s.db.Update(func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket(oldest); err != nil {
				return err
			}
			s.updateGauges(tx)
			return nil
		}); err != nil {
			return len(dropped), err
		}
		dropped = append(dropped, string(oldest))
		s.metrics.pruned.WithLabelValues(pruneSize).Inc()
		used = s.measureUsed()
	}
	if len(dropped) > 0 {
		s.log.Warn("call log: dropped the oldest days to stay within --log-max-size",
			"days", dropped, "used_bytes", used, "max_size_bytes", limit)
	}
	return len(dropped), nil
}

// flushBeforePrune commits journaled records to bbolt before a prune: they
// belong to their days and count in the data in use (and must not
// recreate a dropped day).
func (s *Store) flushBeforePrune() error {
	if !s.running.Load() {
		return nil
	}
	return s.flush()
}

// oldestDay returns the name of the oldest day bucket (nil when none).
func (s *Store) oldestDay() ([]byte, error) {
	var first []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Cursor().First()
		first = bytes.Clone(k)
		return nil
	})
	return first, err
}
