package logs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

// inBolt reports whether id is committed to bbolt (not only journaled).
func inBolt(t *testing.T, s *Store, id string) bool {
	t.Helper()
	k, err := parseID(id)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(k.day())); b != nil {
			found = b.Get(k[:]) != nil
		}
		return nil
	})
	return found
}

func TestJournalRecordsVisibleBeforeAndAfterCheckpoint(t *testing.T) {
	s := openTest(t, "", Options{Sync: true})
	var ids []string
	for i, wh := range []string{"a", "b", "a", "c", "a"} {
		r := rec(wh, 200+i)
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	check := func(stage string) {
		t.Helper()
		for _, id := range ids {
			if _, err := s.Get(id); err != nil {
				t.Errorf("%s: Get(%s): %v", stage, id, err)
			}
		}
		p, err := s.Query(Filter{Webhook: "a", Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) != 2 || p.Records[0].ID != ids[4] || p.Records[1].ID != ids[2] || p.NextCursor == "" {
			t.Fatalf("%s: page 1 = %v", stage, p.Records)
		}
		p, err = s.Query(Filter{Webhook: "a", Limit: 2, Cursor: p.NextCursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) != 1 || p.Records[0].ID != ids[0] || p.NextCursor != "" {
			t.Fatalf("%s: page 2 = %v %q", stage, p.Records, p.NextCursor)
		}
		if n := count(t, s); n != len(ids) {
			t.Fatalf("%s: %d records, want %d (no duplicates, none missing)", stage, n, len(ids))
		}
	}
	check("journaled")
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !inBolt(t, s, id) {
			t.Fatalf("%s not in bbolt after a checkpoint", id)
		}
	}
	check("checkpointed")
}

func TestJournalReplayAfterCrash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "towerhook.db")
	s := openTest(t, path, Options{Sync: true})
	r := rec("crash", 200)
	if err := s.Append(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	// Simulate a crash: keep the journal as it is now, close, put it back.
	wal, err := os.ReadFile(path + journalSuffix)
	if err != nil {
		t.Fatal(err)
	}
	// A torn frame after the good ones must be ignored.
	wal = append(wal, 0, 0, 0, 9, 1, 2, 3)
	s.j.mu.Lock()
	s.j.pending = nil // the "crashed" writer never checkpointed
	s.j.mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+journalSuffix, wal, 0o600); err != nil {
		t.Fatal(err)
	}
	// A read-only reader (towerhook logs without a daemon) sees it.
	ro := openTest(t, path, Options{ReadOnly: true})
	if _, err := ro.Get(r.ID); err != nil {
		t.Fatalf("read-only Get of a journaled record: %v", err)
	}
	ro.Close()
	// Reopening for writing replays it into bbolt and starts the file over.
	s = openTest(t, path, Options{Sync: true})
	if !inBolt(t, s, r.ID) {
		t.Fatal("journaled record not replayed into bbolt")
	}
	if st, err := os.Stat(path + journalSuffix); err != nil || st.Size() != 0 {
		t.Fatalf("journal not reset after replay: %v %v", st.Size(), err)
	}
}

func TestReadFramesStopsAtOtherGeneration(t *testing.T) {
	j := &journal{}
	var buf bytes.Buffer
	frame := func(gen uint64, k key, v string) {
		j.gen = gen
		buf.Write(j.encode([]*op{{k: k, val: []byte(v)}}))
	}
	frame(7, makeKey(1, 1), "one")
	frame(7, makeKey(2, 1), "two")
	frame(6, makeKey(3, 1), "stale")
	recs, d := scanFrames(buf.Bytes())
	if len(recs) != 2 || string(recs[1].val) != "two" || d.damaged() {
		t.Fatalf("frames = %+v, damage %+v", recs, d)
	}
}

// A checkpoint runs beside the writer: appends made while bbolt is busy
// (here: its write lock is held) are journaled, answered and visible, and a
// crash at that moment loses none of them.
func TestAppendsProceedDuringCheckpoint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "towerhook.db")
	s := openTest(t, path, Options{Sync: true})
	first := rec("a", 200)
	if err := s.Append(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	tx, err := s.db.Begin(true) // the checkpointer will wait for this
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	sealed := func() bool {
		s.j.mu.RLock()
		defer s.j.mu.RUnlock()
		return s.j.sealed != nil
	}
	for deadline := time.Now().Add(10 * time.Second); !sealed(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint started")
		}
	}
	ids := []string{first.ID}
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r := rec("b", 200)
		err := s.Append(ctx, r)
		cancel()
		if err != nil {
			t.Fatalf("Append during a checkpoint: %v", err)
		}
		ids = append(ids, r.ID)
	}
	if n := count(t, s); n != len(ids) {
		t.Fatalf("%d records visible, want %d", n, len(ids))
	}
	// Crash now: copy the files as they are (bbolt's file holds only
	// committed pages) and open the copy.
	c := openCrashCopy(t, dir)
	for _, id := range ids {
		if !inBolt(t, c, id) {
			t.Errorf("%s lost in the crash copy", id)
		}
	}
	// Once bbolt is free the checkpoint completes and a flush commits the rest.
	tx.Rollback()
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !inBolt(t, s, id) {
			t.Errorf("%s not in bbolt after the flush", id)
		}
	}
	if n := count(t, s); n != len(ids) {
		t.Fatalf("%d records after the flush, want %d", n, len(ids))
	}
}

// A checkpoint that fails (bbolt unusable, as on a full disk) keeps the
// records journaled and visible, and a restart replays them: none is lost.
func TestFailedCheckpointLosesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "towerhook.db")
	s := openTest(t, path, Options{Sync: true})
	var ids []string
	for i := 0; i < 3; i++ {
		r := rec("a", 200)
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if err := s.db.Close(); err != nil { // every bbolt commit now fails
		t.Fatal(err)
	}
	if err := s.flush(); err == nil {
		t.Fatal("flush with a closed bbolt succeeded")
	}
	for _, id := range ids {
		if _, err := s.Get(id); err != nil {
			t.Fatalf("Get(%s) after a failed checkpoint: %v", id, err)
		}
	}
	// Crash now and restart from the files.
	c := openCrashCopy(t, dir)
	for _, id := range ids {
		if !inBolt(t, c, id) {
			t.Errorf("%s lost after a failed checkpoint and a restart", id)
		}
	}
}

// openCrashCopy copies the store in dir (towerhook.db and its journal
// segments) as the files are now, as a crash would leave them, and opens
// the copy for writing (which replays the journal).
func openCrashCopy(t *testing.T, dir string) *Store {
	t.Helper()
	crash := t.TempDir()
	path := filepath.Join(dir, "towerhook.db")
	segs := segmentPaths(path)
	for _, src := range []string{path, segs[0], segs[1]} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crash, filepath.Base(src)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return openTest(t, filepath.Join(crash, "towerhook.db"), Options{Sync: true})
}

// TestFailingCommitIsReported: when neither the journal nor bbolt can take
// a group (a full disk), each caller gets the error, the records count as
// dropped and Failing reports it.
func TestFailingCommitIsReported(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := openTest(t, "", Options{Sync: true, Registerer: reg})
	if err := s.Append(context.Background(), rec("a", 200)); err != nil || s.Failing() {
		t.Fatalf("healthy store: err %v, failing %v", err, s.Failing())
	}
	for _, f := range s.j.files {
		f.Close() // journal writes now fail ...
	}
	if err := s.db.Close(); err != nil { // ... and so does the fallback bbolt commit
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), rec("a", 200)); err == nil {
		t.Fatal("Append succeeded with no writable journal or bbolt")
	}
	if !s.Failing() {
		t.Error("Failing() = false after a failed commit")
	}
	if got := metricValue(s.metrics.dropped); got != 1 {
		t.Errorf("dropped = %v, want 1", got)
	}
}
