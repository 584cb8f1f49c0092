package logs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Claim is a remembered delivery id (README "Delivery"): the first call
// with that id for a webhook, kept until Expires.
type Claim struct {
	Webhook string `json:"webhook"`
	// ID is the delivery id as the daemon keeps it (long or odd ids are
	// hashed before they get here).
	ID        string `json:"id"`
	RequestID string `json:"request_id"`
	Status    int    `json:"status"`
	Message   string `json:"message"`
	// MessageJSON: Message is JSON (a table the code answered with).
	MessageJSON bool      `json:"message_json,omitempty"`
	Job         string    `json:"job,omitempty"`
	Time        time.Time `json:"time"`
	Expires     time.Time `json:"expires"`
}

// claimKey orders claims by expiry: a checkpoint appends them to the
// bucket (delivery ids are random, so keys by id would land all over the
// B-tree) and pruning deletes a prefix. A claim is only ever read back by
// the scan at start-up, where the latest of one id wins.
func claimKey(c *Claim) []byte {
	b := make([]byte, 8, 8+len(c.Webhook)+1+len(c.ID))
	binary.BigEndian.PutUint64(b, uint64(max(c.Expires.UnixNano(), 0)))
	b = append(b, c.Webhook...)
	b = append(b, 0)
	return append(b, c.ID...)
}

// Claims calls fn for every stored claim that has not expired at now. The
// daemon reads them once, at start-up; journaled claims are not kept
// readable in memory (meta.go), so a running store first commits its
// journal to bbolt.
func (s *Store) Claims(now time.Time, fn func(*Claim)) error {
	if s.running.Load() {
		if err := s.flush(); err != nil {
			return err
		}
	}
	return s.metaScan(metaClaims, nil, nil, false, func(_, v []byte) bool {
		c := new(Claim)
		if json.Unmarshal(v, c) == nil && c.Expires.After(now) {
			fn(c)
		}
		return true
	})
}

// PruneDelivery deletes expired claims and the jobs that ended (succeeded,
// dead, superseded, canceled) before the retention cutoff, with their
// requests; it returns how many entries it deleted. The daily pruner calls
// it; jobs that still wait to run are never pruned.
func (s *Store) PruneDelivery() (int, error) {
	if s.opts.ReadOnly {
		return 0, nil
	}
	if s.running.Load() {
		if err := s.flush(); err != nil { // journaled state first
			return 0, err
		}
	}
	now := s.now()
	var cut time.Time
	if s.opts.RetentionDays > 0 {
		cut = now.UTC().AddDate(0, 0, -s.opts.RetentionDays)
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(metaBucketNames[metaClaims]); b != nil {
			var dead [][]byte
			c := b.Cursor()
			for k, _ := c.First(); len(k) >= 8 && int64(binary.BigEndian.Uint64(k)) <= now.UnixNano(); k, _ = c.Next() {
				dead = append(dead, bytes.Clone(k))
			}
			for _, k := range dead {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n += len(dead)
		}
		if cut.IsZero() {
			return nil
		}
		jobs, reqs := tx.Bucket(metaBucketNames[metaJobs]), tx.Bucket(metaBucketNames[metaJobReqs])
		if jobs == nil {
			return nil
		}
		var old [][]byte
		c := jobs.Cursor()
		// Job keys start with the time they were queued: only older ones
		// can have ended before the cutoff.
		for k, v := c.First(); k != nil && len(k) == keyLen && key(k).nanos() < cut.UnixNano(); k, v = c.Next() {
			var j Job
			if json.Unmarshal(v, &j) == nil && !Pending(j.State) && j.Updated.Before(cut) {
				old = append(old, bytes.Clone(k))
			}
		}
		for _, k := range old {
			if err := jobs.Delete(k); err != nil {
				return err
			}
			if reqs != nil {
				if err := reqs.Delete(k); err != nil {
					return err
				}
			}
		}
		n += len(old)
		return nil
	})
	return n, err
}
