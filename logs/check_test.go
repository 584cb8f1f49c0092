package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// buildStore writes a store with records over several days (enough for a
// tree of branch and leaf pages) and closes it; it returns its path.
func buildStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	c := newClock(t0)
	s := openTest(t, path, Options{Now: c.now})
	for day := 3; day >= 0; day-- {
		c.set(t0.AddDate(0, 0, -day))
		for i := 0; i < 300; i++ {
			r := rec(fmt.Sprint("w", i%3), 200)
			r.LogLines = []string{strings.Repeat("x", 2000)}
			if err := s.Append(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyStore copies the store file at path into a new directory.
func copyStore(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), FileName)
	if err := copyFile(path, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// storeLayout reads a sound store file: its page size, high-water mark and
// the pages its tree uses (ids >= 2, meta pages excluded).
func storeLayout(t *testing.T, path string) (ps int, hw uint64, used []uint64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	ps, _ = findPageSize(f, st.Size())
	m, problem, _ := chooseMeta(f, int64(ps))
	if problem != "" {
		t.Fatal(problem)
	}
	c := &treeChecker{f: f, ps: ps, hw: m.hw, seen: make([]uint64, (m.hw+63)/64)}
	if err := c.tree(m.root, nil, nil, 0); err != nil {
		t.Fatal(err)
	}
	for id := uint64(2); id < m.hw; id++ {
		if c.seen[id/64]&(1<<(id%64)) != 0 {
			used = append(used, id)
		}
	}
	return ps, m.hw, used
}

// writeAt overwrites the file at path at off with b.
func writeAt(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// damages are the ways a store file is damaged on disk in these tests;
// each returns the damage Open must report (a substring), "" for none.
var damages = []struct {
	name   string
	damage func(t *testing.T, path string) string
}{
	{"truncated to half its pages", func(t *testing.T, path string) string {
		ps, hw, _ := storeLayout(t, path)
		if err := os.Truncate(path, int64(hw/2)*int64(ps)); err != nil {
			t.Fatal(err)
		}
		return "the file was cut short"
	}},
	{"cut in mid-page", func(t *testing.T, path string) string {
		st, _ := os.Stat(path)
		if err := os.Truncate(path, st.Size()-100); err != nil {
			t.Fatal(err)
		}
		return "not a whole number of"
	}},
	{"a zeroed leaf page", func(t *testing.T, path string) string {
		ps, _, used := storeLayout(t, path)
		id := used[len(used)/2]
		writeAt(t, path, int64(id)*int64(ps), make([]byte, ps))
		return fmt.Sprintf("page %d names itself page 0", id)
	}},
	{"a zeroed root page", func(t *testing.T, path string) string {
		ps, _, used := storeLayout(t, path)
		f, _ := os.Open(path)
		m, _, _ := chooseMeta(f, int64(ps))
		f.Close()
		writeAt(t, path, int64(m.root)*int64(ps), make([]byte, ps))
		_ = used
		return fmt.Sprintf("page %d names itself page 0", m.root)
	}},
	{"a flipped byte in an element", func(t *testing.T, path string) string {
		ps, _, used := storeLayout(t, path)
		id := used[len(used)/3]
		// The first element's key position (branch) or flags (leaf).
		off := int64(id)*int64(ps) + boltPageHeaderLen + 7
		writeAt(t, path, off, []byte{0x7f})
		return fmt.Sprintf("page %d", id)
	}},
	{"both meta pages zeroed", func(t *testing.T, path string) string {
		ps, _, _ := storeLayout(t, path)
		writeAt(t, path, 0, make([]byte, 2*ps))
		return "neither meta page is valid"
	}},
	{"not a bbolt file", func(t *testing.T, path string) string {
		if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 4000)), 0o600); err != nil {
			t.Fatal(err)
		}
		return "neither meta page is valid"
	}},
	{"one meta page zeroed (bbolt uses the other)", func(t *testing.T, path string) string {
		ps, _, _ := storeLayout(t, path)
		writeAt(t, path, int64(ps), make([]byte, ps))
		return ""
	}},
}

const openEnv = "TOWERHOOK_LOGS_OPEN_HELPER_DBS"

// TestHelperOpen is the child of TestOpenDamagedStore: it opens each store
// named in the environment, for writing and read-only, and prints
// "<path> OPENED read-only=<bool>" or "<path> ERR read-only=<bool> <error>".
// Before the store was checked, bbolt died here of SIGBUS or an assertion.
func TestHelperOpen(t *testing.T) {
	paths := os.Getenv(openEnv)
	if paths == "" {
		t.Skip("helper process for TestOpenDamagedStore")
	}
	for _, path := range filepath.SplitList(paths) {
		for _, ro := range []bool{false, true} {
			s, err := Open(path, Options{Sync: true, ReadOnly: ro, OpenTimeout: 5 * time.Second})
			if err != nil {
				fmt.Printf("%s ERR read-only=%v %v\n", path, ro, err)
				continue
			}
			if _, err := s.Query(Filter{Limit: MaxLimit}); err != nil {
				fmt.Printf("%s QUERY read-only=%v %v\n", path, ro, err)
			}
			fmt.Printf("%s OPENED read-only=%v\n", path, ro)
			_ = s.Close()
		}
	}
	os.Exit(0)
}

// A damaged store file never crashes the process that opens it: Open
// (for writing and read-only, as towerhook logs --data does) returns one
// line naming the file, the damage and the way out. The opens run in a
// child process, so a crash fails the test instead of ending it.
func TestOpenDamagedStore(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	sound := buildStore(t)
	paths := make([]string, len(damages))
	wants := make([]string, len(damages))
	for i, d := range damages {
		paths[i] = copyStore(t, sound)
		wants[i] = d.damage(t, paths[i])
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOpen$")
	cmd.Env = append(os.Environ(), openEnv+"="+strings.Join(paths, string(filepath.ListSeparator)))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the process opening the stores died: %v\n%s", err, lastLines(out, 8))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			for _, ro := range []string{"false", "true"} {
				got := findPrefix(lines, paths[i]+" ERR read-only="+ro+" ")
				if wants[i] == "" {
					if findPrefix(lines, paths[i]+" OPENED read-only="+ro) == "" {
						t.Errorf("read-only=%s: a sound store did not open: %s", ro, got)
					}
					continue
				}
				for _, part := range []string{"call log " + paths[i] + " is damaged", wants[i], "--log-recover", `README "Call log and retention"`} {
					if !strings.Contains(got, part) {
						t.Errorf("read-only=%s: error %q lacks %q", ro, got, part)
					}
				}
			}
		})
	}
}

func findPrefix(lines []string, prefix string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func lastLines(b []byte, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// The same damage in process: Open's error wraps ErrDamaged and is one line.
func TestOpenDamagedStoreError(t *testing.T) {
	path := buildStore(t)
	damages[2].damage(t, path) // a zeroed leaf page
	_, err := Open(path, Options{Sync: true, OpenTimeout: 5 * time.Second})
	var de *DamageError
	if !errors.Is(err, ErrDamaged) || !errors.As(err, &de) || de.Path != path {
		t.Fatalf("Open = %v, want a DamageError for %s", err, path)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error is not one line: %q", err)
	}
}

// Any bytes as a store file: the check never panics and never reads
// outside the file, and a sound file has no problem.
func FuzzCheckFile(f *testing.F) {
	f.Add([]byte("not a database"), uint16(0), byte(0))
	f.Add(make([]byte, 64<<10), uint16(3), byte(1))
	f.Fuzz(func(t *testing.T, b []byte, at uint16, x byte) {
		if len(b) > 0 {
			b[int(at)%len(b)] ^= x
		}
		_, _ = checkFile(bytes.NewReader(b), int64(len(b)))
	})
}

// A real store with one byte changed anywhere: the check never panics,
// and when it finds no problem bbolt can read every record.
func FuzzCheckDamagedStore(f *testing.F) {
	path := filepath.Join(f.TempDir(), FileName)
	s, err := Open(path, Options{Sync: true})
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		r := rec(fmt.Sprint("w", i%5), 200)
		r.LogLines = []string{strings.Repeat("y", 300)}
		if err := s.Append(context.Background(), r); err != nil {
			f.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	store, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	// Only the pages in use (bbolt grows the file ahead of them), so that
	// changes land in them.
	ps := 16 << 10
	m, _, _ := chooseMeta(bytes.NewReader(store), int64(ps))
	store = store[:m.hw*uint64(ps)]
	f.Add(uint32(16<<10*3+20), byte(0xff))
	f.Add(uint32(10), byte(1))
	f.Fuzz(func(t *testing.T, at uint32, x byte) {
		b := bytes.Clone(store)
		b[int(at)%len(b)] ^= x
		rep, err := checkFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Problem != "" {
			return
		}
		// Passed: bbolt opens it for writing (its start-up scan of the tree)
		// and reads every record without crashing.
		p := filepath.Join(t.TempDir(), FileName)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := bolt.Open(p, 0o600, boltOptions(time.Second, false))
		if err != nil {
			return // an error is fine; a crash is not
		}
		defer db.Close()
		_ = db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(_ []byte, bk *bolt.Bucket) error {
				return bk.ForEach(func(k, v []byte) error { return nil })
			})
		})
	})
}
