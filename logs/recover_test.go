package logs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeJournal writes records as frames of one generation into the
// store's first journal segment, as a writer that crashed leaves them.
func writeJournal(t *testing.T, path string, recs ...*Record) []byte {
	t.Helper()
	j := &journal{gen: 42}
	var ops []*op
	for i, r := range recs {
		k := makeKey(r.Time.UnixNano(), uint64(i+1))
		r.ID = k.id()
		v, err := encodeValue(r)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, &op{k: k, val: v})
	}
	b := bytes.Clone(j.encode(ops))
	if err := os.WriteFile(segmentPaths(path)[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

// serve --log-recover: a damaged store is moved aside (kept byte for byte,
// with copies of its journal), a new one is started, the journaled records
// are replayed into it and it takes new records.
func TestRecoverMovesDamagedStoreAside(t *testing.T) {
	path := copyStore(t, buildStore(t))
	journaled := rec("journaled", 200)
	journaled.Time = t0
	wal := writeJournal(t, path, journaled)
	damages[2].damage(t, path) // a zeroed leaf page
	damaged, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logBuf, nil))
	s, err := Open(path, Options{Sync: true, Recover: true, Logger: logger, Now: newClock(t0).now, OpenTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Open with Recover: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })

	asides, _ := filepath.Glob(path + ".damaged-*")
	want := []string{path + ".damaged-20260310T120000Z", path + ".damaged-20260310T120000Z-wal"}
	if strings.Join(asides, " ") != strings.Join(want, " ") {
		t.Fatalf("files moved aside: %v, want %v", asides, want)
	}
	if b, _ := os.ReadFile(want[0]); !bytes.Equal(b, damaged) {
		t.Error("the damaged store was not kept as it was")
	}
	if b, _ := os.ReadFile(want[1]); !bytes.Equal(b, wal) {
		t.Error("the journal was not kept beside it")
	}
	if !strings.Contains(logBuf.String(), "moved it aside") || !strings.Contains(logBuf.String(), "moved_to="+want[0]) {
		t.Errorf("no log line names the moved file:\n%s", logBuf.String())
	}
	if _, err := s.Get(journaled.ID); err != nil {
		t.Errorf("the journaled record was not replayed into the new store: %v", err)
	}
	if n := count(t, s); n != 1 {
		t.Errorf("new store holds %d records, want the 1 journaled", n)
	}
	if err := s.Append(context.Background(), rec("after", 200)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The new store is sound, and opens without Recover.
	rep, err := Check(path, time.Second)
	if err != nil || !rep.OK() {
		t.Fatalf("Check after recovery: %v\n%s", err, rep)
	}
	s = openTest(t, path, Options{Sync: true})
	if n := count(t, s); n != 2 {
		t.Fatalf("reopened: %d records, want 2", n)
	}
}

// Recover leaves a sound store alone.
func TestRecoverKeepsSoundStore(t *testing.T) {
	path := copyStore(t, buildStore(t))
	s := openTest(t, path, Options{Sync: true, Recover: true})
	if n := count(t, s); n != 1200 {
		t.Fatalf("%d records, want 1200", n)
	}
	if asides, _ := filepath.Glob(path + ".damaged-*"); len(asides) != 0 {
		t.Fatalf("a sound store was moved aside: %v", asides)
	}
}

// towerhook logs --check: the report for a sound store, a damaged file,
// a damaged journal and a missing file.
func TestCheckReport(t *testing.T) {
	sound := buildStore(t)
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		ok     bool
		want   []string
	}{
		{"sound", func(*testing.T, string) {}, true,
			[]string{"towerhook.db: OK: 4 days, 1200 records, ", "in use in a ", "(16384-byte pages)"}},
		{"zeroed leaf page", func(t *testing.T, p string) { damages[2].damage(t, p) }, false,
			[]string{"towerhook.db: DAMAGED: page ", " names itself page 0 (overwritten or zeroed)",
				"way out: run towerhook serve once with --log-recover", ".damaged-<UTC time>"}},
		{"one meta page zeroed", func(t *testing.T, p string) { damages[len(damages)-1].damage(t, p) }, true,
			[]string{"towerhook.db: OK: ", "towerhook.db: note: meta page 1 is invalid (no bbolt magic number); bbolt uses meta page 0"}},
		{"journal records to replay", func(t *testing.T, p string) { writeJournal(t, p, rec("a", 200), rec("b", 200)) }, true,
			[]string{"towerhook.db: OK: ", "towerhook.db-wal: OK: 2 records the next start replays"}},
		{"damaged journal", func(t *testing.T, p string) {
			b := writeJournal(t, p, rec("a", 200), rec("b", 200), rec("c", 200))
			b[len(b)/2] ^= 0x20
			writeAt(t, segmentPaths(p)[0], 0, b)
		}, false, []string{"towerhook.db: OK: ",
			"towerhook.db-wal: DAMAGED: 1 damaged frame(s), ", "bytes skipped, 1 records after the damage recovered; the next start skips the damage, keeps the 2 records and logs it"}},
		{"no store", func(t *testing.T, p string) { os.Remove(p) }, false, []string{"towerhook.db: no call log here"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := copyStore(t, sound)
			tt.damage(t, path)
			rep, err := Check(path, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() != tt.ok {
				t.Errorf("OK() = %v, want %v", rep.OK(), tt.ok)
			}
			for _, w := range tt.want {
				if !strings.Contains(rep.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, rep)
				}
			}
		})
	}
}

// Check waits for the lock of a running writer, and then says so.
func TestCheckLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	openTest(t, path, Options{})
	if _, err := Check(path, 100*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("Check of an open store = %v, want ErrLocked", err)
	}
}
