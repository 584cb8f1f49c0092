package logs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

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
	recs, err := readFrames(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || string(recs[1].val) != "two" {
		t.Fatalf("frames = %+v", recs)
	}
}
