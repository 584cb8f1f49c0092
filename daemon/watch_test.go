package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchTestDeadline bounds every wait for a condition.
const watchTestDeadline = 5 * time.Second

// watchRecorder collects hints and checks they never overlap.
type watchRecorder struct {
	ch      chan string
	n       atomic.Int64
	running atomic.Int32
	overlap atomic.Bool
	work    time.Duration // simulated reload time
}

func (r *watchRecorder) hint(reason string) {
	if r.running.Add(1) != 1 {
		r.overlap.Store(true)
	}
	if r.work > 0 {
		time.Sleep(r.work) // simulates a reload; not used for synchronisation
	}
	r.n.Add(1)
	r.running.Add(-1)
	select {
	case r.ch <- reason:
	default:
	}
}

// waitFor waits for a hint whose reason contains substr, skipping others.
func (r *watchRecorder) waitFor(t *testing.T, substr string) string {
	t.Helper()
	timeout := time.After(watchTestDeadline)
	var seen []string
	for {
		select {
		case reason := <-r.ch:
			if strings.Contains(reason, substr) {
				return reason
			}
			seen = append(seen, reason)
		case <-timeout:
			t.Fatalf("no hint mentioning %q within %v; got %q", substr, watchTestDeadline, seen)
			return ""
		}
	}
}

// next waits for the next hint.
func (r *watchRecorder) next(t *testing.T) string {
	t.Helper()
	select {
	case reason := <-r.ch:
		return reason
	case <-time.After(watchTestDeadline):
		t.Fatalf("no hint within %v", watchTestDeadline)
		return ""
	}
}

// startWatcher runs a watcher on dir until the test ends and waits until it
// is watching.
func startWatcher(t *testing.T, dir string, quiet, maxDelay time.Duration) (*watcher, *watchRecorder) {
	t.Helper()
	return startWatcherWith(t, dir, quiet, maxDelay, nil)
}

// startWatcherWith is startWatcher with a hook to adjust the watcher before
// it runs.
func startWatcherWith(t *testing.T, dir string, quiet, maxDelay time.Duration, adjust func(*watcher)) (*watcher, *watchRecorder) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	w := newWatcher(dir, logger, quiet, maxDelay)
	if adjust != nil {
		adjust(w)
	}
	rec := &watchRecorder{ch: make(chan string, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(ctx, rec.hint)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(watchTestDeadline):
			t.Errorf("run did not return after cancel")
		}
		if rec.overlap.Load() {
			t.Errorf("hint calls overlapped")
		}
	})
	select {
	case <-w.ready():
	case <-time.After(watchTestDeadline):
		t.Fatal("watcher not ready")
	}
	return w, rec
}

func watchWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func watchMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestWatcherScenarios(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		// act changes dir; each returned substring must show up, in order,
		// in a hint's reason (the reason names a burst's first and last event).
		act func(t *testing.T, dir string) []string
	}{
		{
			name:  "atomic save",
			setup: func(t *testing.T, dir string) { watchWrite(t, filepath.Join(dir, "a.yaml"), "v1") },
			act: func(t *testing.T, dir string) []string {
				watchWrite(t, filepath.Join(dir, "a.yaml.tmp"), "v2")
				watchMust(t, os.Rename(filepath.Join(dir, "a.yaml.tmp"), filepath.Join(dir, "a.yaml")))
				return []string{"a.yaml"}
			},
		},
		{
			name:  "atomic save via dot temp",
			setup: func(t *testing.T, dir string) { watchWrite(t, filepath.Join(dir, "a.yaml"), "v1") },
			act: func(t *testing.T, dir string) []string {
				watchWrite(t, filepath.Join(dir, ".a.yaml.XXXX"), "v2")
				watchMust(t, os.Rename(filepath.Join(dir, ".a.yaml.XXXX"), filepath.Join(dir, "a.yaml")))
				return []string{"CREATE " + filepath.Join(dir, "a.yaml")}
			},
		},
		{
			name:  "vim-style save",
			setup: func(t *testing.T, dir string) { watchWrite(t, filepath.Join(dir, "a.yaml"), "v1") },
			act: func(t *testing.T, dir string) []string {
				watchWrite(t, filepath.Join(dir, "4913"), "")
				watchMust(t, os.Remove(filepath.Join(dir, "4913")))
				watchMust(t, os.Rename(filepath.Join(dir, "a.yaml"), filepath.Join(dir, "a.yaml~")))
				watchWrite(t, filepath.Join(dir, "a.yaml"), "v2")
				watchMust(t, os.Remove(filepath.Join(dir, "a.yaml~")))
				return []string{"a.yaml"}
			},
		},
		{
			name:  "in-place writes",
			setup: func(t *testing.T, dir string) { watchWrite(t, filepath.Join(dir, "sub", "a.yml"), "v1") },
			act: func(t *testing.T, dir string) []string {
				f, err := os.OpenFile(filepath.Join(dir, "sub", "a.yml"), os.O_WRONLY|os.O_TRUNC, 0)
				watchMust(t, err)
				_, err = f.WriteString("half")
				watchMust(t, err)
				_, err = f.WriteString(" and the rest")
				watchMust(t, err)
				watchMust(t, f.Close())
				return []string{"WRITE " + filepath.Join(dir, "sub", "a.yml")}
			},
		},
		{
			name: "new subfolder in one go, then a file inside it",
			act: func(t *testing.T, dir string) []string {
				watchWrite(t, filepath.Join(dir, "team", "deep", "er", "a.yaml"), "v1")
				watchWrite(t, filepath.Join(dir, "team", "b.yaml"), "v1")
				return []string{filepath.Join(dir, "team")}
			},
		},
		{
			name:  "file deleted",
			setup: func(t *testing.T, dir string) { watchWrite(t, filepath.Join(dir, "x", "a.yaml"), "v1") },
			act: func(t *testing.T, dir string) []string {
				watchMust(t, os.Remove(filepath.Join(dir, "x", "a.yaml")))
				return []string{"REMOVE " + filepath.Join(dir, "x", "a.yaml")}
			},
		},
		{
			name:  "folder deleted",
			setup: func(t *testing.T, dir string) { watchWrite(t, filepath.Join(dir, "x", "y", "a.yaml"), "v1") },
			act: func(t *testing.T, dir string) []string {
				watchMust(t, os.RemoveAll(filepath.Join(dir, "x")))
				return []string{"REMOVE"}
			},
		},
		{
			name:  "folder renamed within the tree",
			setup: func(t *testing.T, dir string) { watchWrite(t, filepath.Join(dir, "x", "y", "a.yaml"), "v1") },
			act: func(t *testing.T, dir string) []string {
				watchMust(t, os.Rename(filepath.Join(dir, "x"), filepath.Join(dir, "z")))
				return []string{filepath.Join(dir, "x")}
			},
		},
		{
			name: "git checkout of another branch",
			setup: func(t *testing.T, dir string) {
				watchWrite(t, filepath.Join(dir, "a", "x.yaml"), "v1")
				watchWrite(t, filepath.Join(dir, "b", "y.yaml"), "v1")
				watchWrite(t, filepath.Join(dir, ".git", "HEAD"), "main")
			},
			act: func(t *testing.T, dir string) []string {
				watchWrite(t, filepath.Join(dir, ".git", "index.lock"), "x")
				watchMust(t, os.RemoveAll(filepath.Join(dir, "a")))
				watchWrite(t, filepath.Join(dir, "b", "y.yaml"), "v2")
				watchWrite(t, filepath.Join(dir, "c", "d", "z.yaml"), "v2")
				watchMust(t, os.Rename(filepath.Join(dir, ".git", "index.lock"), filepath.Join(dir, ".git", "index")))
				return []string{filepath.Join(dir, "c")}
			},
		},
		{
			name: "kubernetes configmap symlink swap",
			setup: func(t *testing.T, dir string) {
				watchWrite(t, filepath.Join(dir, "..2026_01_01", "a.yaml"), "v1")
				watchMust(t, os.Symlink("..2026_01_01", filepath.Join(dir, "..data")))
				watchMust(t, os.Symlink(filepath.Join("..data", "a.yaml"), filepath.Join(dir, "a.yaml")))
			},
			act: func(t *testing.T, dir string) []string {
				watchWrite(t, filepath.Join(dir, "..2026_01_02", "a.yaml"), "v2")
				watchMust(t, os.Symlink("..2026_01_02", filepath.Join(dir, "..data_tmp")))
				watchMust(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
				watchMust(t, os.RemoveAll(filepath.Join(dir, "..2026_01_01")))
				return []string{"..2026_01_02"}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "defs")
			watchMust(t, os.Mkdir(dir, 0o755))
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			_, rec := startWatcher(t, dir, 20*time.Millisecond, 200*time.Millisecond)
			for _, want := range tt.act(t, dir) {
				rec.waitFor(t, want)
			}
		})
	}
}

func TestWatcherNewSubfolderIsWatched(t *testing.T) {
	dir := t.TempDir()
	_, rec := startWatcher(t, dir, 20*time.Millisecond, 200*time.Millisecond)

	watchWrite(t, filepath.Join(dir, "team", "deep", "a.yaml"), "v1")
	rec.waitFor(t, filepath.Join(dir, "team"))

	// Created after the folder appeared: only seen if the folder (and the
	// one below it, created before its parent was watched) is watched.
	for _, p := range []string{filepath.Join(dir, "team", "b.yaml"), filepath.Join(dir, "team", "deep", "c.yaml")} {
		watchWrite(t, p, "v1")
		rec.waitFor(t, p)
	}
}

func TestWatcherConfigMapNewVersionFolderIsWatched(t *testing.T) {
	dir := t.TempDir()
	watchWrite(t, filepath.Join(dir, "..2026_01_01", "a.yaml"), "v1")
	watchMust(t, os.Symlink("..2026_01_01", filepath.Join(dir, "..data")))
	_, rec := startWatcher(t, dir, 20*time.Millisecond, 200*time.Millisecond)

	p := filepath.Join(dir, "..2026_01_01", "b.yaml")
	watchWrite(t, p, "v1")
	rec.waitFor(t, p)
}

func TestWatcherRootRenamedAwayAndRecreated(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "defs")
	watchWrite(t, filepath.Join(dir, "sub", "a.yaml"), "v1")
	_, rec := startWatcher(t, dir, 20*time.Millisecond, 200*time.Millisecond)

	watchMust(t, os.Rename(dir, filepath.Join(base, "defs.old")))
	rec.waitFor(t, "root unavailable")

	// Changes in the moved-away tree are no longer ours; the recreated root is.
	watchMust(t, os.Mkdir(dir, 0o755))
	rec.waitFor(t, "re-established: CREATE "+dir)
	p := filepath.Join(dir, "b.yaml")
	watchWrite(t, p, "v2")
	rec.waitFor(t, "CREATE "+p)

	// And so is a new subfolder of the recreated root.
	p = filepath.Join(dir, "new", "c.yaml")
	watchWrite(t, p, "v3")
	rec.waitFor(t, filepath.Join(dir, "new"))
	p = filepath.Join(dir, "new", "d.yaml")
	watchWrite(t, p, "v3")
	rec.waitFor(t, p)
}

func TestWatcherRootRemovedAndRecreated(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "defs")
	watchWrite(t, filepath.Join(dir, "a.yaml"), "v1")
	_, rec := startWatcher(t, dir, 20*time.Millisecond, 200*time.Millisecond)

	watchMust(t, os.RemoveAll(dir))
	rec.waitFor(t, "root unavailable")
	// Recreated with a file in one go: the file may predate the new watch,
	// the re-establish hint covers it.
	watchWrite(t, filepath.Join(dir, "a.yaml"), "v2")
	rec.waitFor(t, "re-established: CREATE "+dir)
	p := filepath.Join(dir, "b.yaml")
	watchWrite(t, p, "v2")
	rec.waitFor(t, p)
}

func TestWatcherRootSymlinkSwap(t *testing.T) {
	base := t.TempDir()
	watchWrite(t, filepath.Join(base, "v1", "a.yaml"), "v1")
	watchWrite(t, filepath.Join(base, "v2", "a.yaml"), "v2")
	dir := filepath.Join(base, "current")
	watchMust(t, os.Symlink("v1", dir))
	_, rec := startWatcher(t, dir, 20*time.Millisecond, 200*time.Millisecond)

	// Watching through the link.
	p := filepath.Join(base, "v1", "b.yaml")
	watchWrite(t, p, "v1")
	rec.waitFor(t, p)

	// git-sync style swap: new link renamed over the old one.
	watchMust(t, os.Symlink("v2", filepath.Join(base, "current.tmp")))
	watchMust(t, os.Rename(filepath.Join(base, "current.tmp"), dir))
	rec.waitFor(t, "re-established: CREATE "+dir)

	p = filepath.Join(base, "v2", "b.yaml")
	watchWrite(t, p, "v2")
	rec.waitFor(t, p)
}

func TestWatcherRootSymlinkChainSwap(t *testing.T) {
	// defs -> current -> v1; a deploy swaps "current" only.
	base := t.TempDir()
	watchWrite(t, filepath.Join(base, "v1", "a.yaml"), "v1")
	watchWrite(t, filepath.Join(base, "v2", "a.yaml"), "v2")
	watchMust(t, os.Symlink("v1", filepath.Join(base, "current")))
	dir := filepath.Join(base, "defs")
	watchMust(t, os.Symlink("current", dir))
	_, rec := startWatcher(t, dir, 20*time.Millisecond, 200*time.Millisecond)

	watchMust(t, os.Symlink("v2", filepath.Join(base, "current.tmp")))
	watchMust(t, os.Rename(filepath.Join(base, "current.tmp"), filepath.Join(base, "current")))
	rec.waitFor(t, "re-established: CREATE "+filepath.Join(base, "current"))

	p := filepath.Join(base, "v2", "b.yaml")
	watchWrite(t, p, "v2")
	rec.waitFor(t, p)
}

func TestWatcherFollowsSymlinkedSubfolder(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "defs")
	watchWrite(t, filepath.Join(base, "common", "a.yaml"), "v1")
	watchWrite(t, filepath.Join(dir, "b.yaml"), "v1")
	watchMust(t, os.Symlink(filepath.Join("..", "common"), filepath.Join(dir, "common")))
	watchMust(t, os.Symlink(".", filepath.Join(dir, "loop"))) // must not recurse forever
	_, rec := startWatcher(t, dir, 20*time.Millisecond, 200*time.Millisecond)

	watchWrite(t, filepath.Join(base, "common", "c.yaml"), "v1")
	rec.waitFor(t, filepath.Join(dir, "common", "c.yaml"))

	// A link created later is followed too.
	watchWrite(t, filepath.Join(base, "other", "a.yaml"), "v1")
	watchMust(t, os.Symlink(filepath.Join("..", "other"), filepath.Join(dir, "other")))
	rec.waitFor(t, filepath.Join(dir, "other"))
	watchWrite(t, filepath.Join(base, "other", "d.yaml"), "v1")
	rec.waitFor(t, filepath.Join(dir, "other", "d.yaml"))
}

func TestWatcherRootMissingAtStart(t *testing.T) {
	tests := []struct {
		name string
		dir  func(base string) string
	}{
		{"parent exists", func(base string) string { return filepath.Join(base, "defs") }},
		{"parent missing too", func(base string) string { return filepath.Join(base, "a", "b", "defs") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t.TempDir())
			_, rec := startWatcher(t, dir, 20*time.Millisecond, 200*time.Millisecond)
			watchWrite(t, filepath.Join(dir, "a.yaml"), "v1")
			rec.waitFor(t, "re-established")
			p := filepath.Join(dir, "b.yaml")
			watchWrite(t, p, "v1")
			rec.waitFor(t, p)
		})
	}
}

// TestWatcherIgnores performs changes that must not hint, then one that must:
// the first hint has to be about the latter (a hint reason starts with the
// first event of its burst, and events arrive in order).
func TestWatcherIgnores(t *testing.T) {
	tests := []struct {
		name string
		act  func(t *testing.T, dir string)
	}{
		{"chmod only", func(t *testing.T, dir string) {
			watchMust(t, os.Chmod(filepath.Join(dir, "a.yaml"), 0o600))
			watchMust(t, os.Chmod(filepath.Join(dir, "sub"), 0o700))
			now := time.Now()
			watchMust(t, os.Chtimes(filepath.Join(dir, "a.yaml"), now, now))
		}},
		{"editor leftovers", func(t *testing.T, dir string) {
			for _, name := range []string{".a.yaml.swp", ".a.yaml.swx", "4913", "a.yaml~", filepath.Join("sub", ".b.yml.swp")} {
				p := filepath.Join(dir, name)
				watchWrite(t, p, "x")
				watchWrite(t, p, "xy")
				watchMust(t, os.Remove(p))
			}
		}},
		{"non-yaml files and dot-folders", func(t *testing.T, dir string) {
			watchWrite(t, filepath.Join(dir, "README.md"), "x")
			watchWrite(t, filepath.Join(dir, "sub", "notes.txt"), "x")
			watchWrite(t, filepath.Join(dir, ".git", "objects", "ab", "cdef"), "x")
			watchWrite(t, filepath.Join(dir, ".git", "config.yaml"), "x")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			watchWrite(t, filepath.Join(dir, "a.yaml"), "v1")
			watchWrite(t, filepath.Join(dir, "sub", "b.yml"), "v1")
			watchMust(t, os.Mkdir(filepath.Join(dir, ".git"), 0o755))
			_, rec := startWatcher(t, dir, 20*time.Millisecond, 200*time.Millisecond)

			tt.act(t, dir)
			sentinel := filepath.Join(dir, "sentinel.yaml")
			watchWrite(t, sentinel, "v1")
			if got, want := rec.next(t), "CREATE "+sentinel; !strings.HasPrefix(got, want) {
				t.Fatalf("first hint %q, want it to start with %q", got, want)
			}
		})
	}
}

// TestWatcherStreamCannotPostponeForever writes every 10ms with a quiet
// period far longer than maxDelay: a hint while the stream is still running
// shows that maxDelay bounds the wait.
func TestWatcherStreamCannotPostponeForever(t *testing.T) {
	dir := t.TempDir()
	_, rec := startWatcher(t, dir, time.Minute, 200*time.Millisecond)
	p := filepath.Join(dir, "a.yaml")
	deadline := time.Now().Add(watchTestDeadline)
	for rec.n.Load() == 0 && time.Now().Before(deadline) {
		watchWrite(t, p, time.Now().String())
		time.Sleep(10 * time.Millisecond) // the stream's pace
	}
	if rec.n.Load() == 0 {
		t.Fatalf("no hint within %v of continuous writes", watchTestDeadline)
	}
}

func TestWatcherHintsNeverOverlap(t *testing.T) {
	dir := t.TempDir()
	_, rec := startWatcher(t, dir, time.Millisecond, 2*time.Millisecond)
	rec.work = 20 * time.Millisecond
	deadline := time.Now().Add(watchTestDeadline)
	for i := 0; rec.n.Load() < 5 && time.Now().Before(deadline); i++ {
		watchWrite(t, filepath.Join(dir, "a.yaml"), time.Now().String())
		time.Sleep(time.Millisecond) // the stream's pace
	}
	if rec.n.Load() < 5 {
		t.Fatalf("only %d hints", rec.n.Load())
	}
	// overlap is checked at cleanup
}

func (w *watcher) currentFSW() *fsnotify.Watcher {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fsw
}

// TestWatcherErrorsHintAndReestablish injects errors the way fsnotify
// reports them: each leads to a hint and a fresh, working watch.
func TestWatcherErrorsHintAndReestablish(t *testing.T) {
	tests := []struct {
		name   string
		errs   []error
		reason string
	}{
		{"overflow", []error{fsnotify.ErrEventOverflow}, "event overflow"},
		{"other error", []error{errors.New("boom")}, "watch error: boom"},
		{"error storm", []error{errors.New("e1"), errors.New("e2"), errors.New("e3"), fsnotify.ErrEventOverflow}, "watch error: e1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w, rec := startWatcherWith(t, dir, 20*time.Millisecond, 200*time.Millisecond, func(w *watcher) {
				w.injectErr = make(chan error)
			})
			first := w.currentFSW()
			for _, err := range tt.errs {
				select {
				case w.injectErr <- err:
				case <-time.After(watchTestDeadline):
					t.Fatal("error not consumed")
				}
			}
			rec.waitFor(t, tt.reason)
			deadline := time.Now().Add(watchTestDeadline)
			for w.currentFSW() == first && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond) // polling a condition
			}
			if w.currentFSW() == first {
				t.Fatal("watch not re-established")
			}
			p := filepath.Join(dir, "after.yaml")
			watchWrite(t, p, "v1")
			rec.waitFor(t, p)
		})
	}
}

func TestWatcherCancelStopsRunAndClosesFsnotify(t *testing.T) {
	tests := []struct {
		name string
		// blockHint makes hint wait for ctx, like a reload loop that has shut down.
		blockHint bool
	}{
		{"idle", false},
		{"hint waiting on ctx", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w := newWatcher(dir, nil, 10*time.Millisecond, 50*time.Millisecond)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var once sync.Once
			entered := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				w.run(ctx, func(string) {
					once.Do(func() { close(entered) })
					if tt.blockHint {
						<-ctx.Done()
					}
				})
			}()
			select {
			case <-w.ready():
			case <-time.After(watchTestDeadline):
				t.Fatal("not ready")
			}
			if tt.blockHint {
				watchWrite(t, filepath.Join(dir, "a.yaml"), "v1")
				select {
				case <-entered:
				case <-time.After(watchTestDeadline):
					t.Fatal("no hint")
				}
			}
			cancel()
			select {
			case <-done:
			case <-time.After(watchTestDeadline):
				t.Fatal("run did not return after cancel")
			}
			fsw := w.currentFSW()
			if fsw == nil {
				t.Fatal("no fsnotify watcher recorded")
			}
			if err := fsw.Add(dir); !errors.Is(err, fsnotify.ErrClosed) {
				t.Fatalf("fsnotify watcher still open after run returned: Add = %v", err)
			}
		})
	}
}

func TestWatchIgnoredName(t *testing.T) {
	tests := []struct {
		name          string
		ignored, yaml bool
	}{
		{"a.yaml", false, true},
		{"a.yml", false, true},
		{"A.YAML", false, true},
		{"a.json", false, false},
		{"sub", false, false},
		{"..data", false, false},
		{"..data_tmp", false, false},
		{"..2026_01_01_00_00_00.123456789", false, false},
		{"..", true, false},
		{".", true, false},
		{".git", true, false},
		{".a.yaml", true, true},
		{".a.yaml.swp", true, false},
		{".a.yaml.swx", true, false},
		{"4913", true, false},
		{"a.yaml~", true, false},
	}
	for _, tt := range tests {
		if got := watchIgnoredName(tt.name); got != tt.ignored {
			t.Errorf("watchIgnoredName(%q) = %v, want %v", tt.name, got, tt.ignored)
		}
		if got := watchIsDefinition(tt.name); got != tt.yaml {
			t.Errorf("watchIsDefinition(%q) = %v, want %v", tt.name, got, tt.yaml)
		}
	}
}

func TestWatchDebounce(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name   string
		events []int // offsets in ms
		due    int   // expected due time of the last event, ms
		reason string
	}{
		{"single", []int{0}, 250, "e0"},
		{"quiet extends", []int{0, 100}, 350, "e0 ... e100 (2 events)"},
		{"capped by maxDelay", []int{0, 500, 1000, 1500, 1900}, 2000, "e0 ... e1900 (5 events)"},
		{"late event past cap", []int{0, 1999}, 2000, "e0 ... e1999 (2 events)"},
	}
	base := time.Unix(1_700_000_000, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := watchDebounce{quiet: ms(250), maxDelay: ms(2000)}
			if _, ok := d.take(); ok {
				t.Fatal("take on empty debounce")
			}
			var due time.Time
			for _, off := range tt.events {
				due = d.add(base.Add(ms(off)), "e"+strconv.Itoa(off))
			}
			if got := due.Sub(base); got != ms(tt.due) {
				t.Errorf("due = %v, want %v", got, ms(tt.due))
			}
			reason, ok := d.take()
			if !ok || reason != tt.reason {
				t.Errorf("take = %q, %v; want %q", reason, ok, tt.reason)
			}
			// A new burst starts afresh.
			if due := d.add(base.Add(ms(5000)), "next"); due.Sub(base) != ms(5250) {
				t.Errorf("new burst due = %v", due.Sub(base))
			}
		})
	}
}

// BenchmarkWatchEstablish measures setting up all watches (start-up and
// every re-establish) for a tree of 100 folders holding 1 000 files.
func BenchmarkWatchEstablish(b *testing.B) {
	dir := b.TempDir()
	for d := range 100 {
		for f := range 10 {
			p := filepath.Join(dir, "team"+strconv.Itoa(d/10), "svc"+strconv.Itoa(d), "hook"+strconv.Itoa(f)+".yaml")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	w := newWatcher(dir, nil, time.Millisecond, time.Millisecond)
	b.ResetTimer()
	for b.Loop() {
		st, err := w.establish()
		if err != nil {
			b.Fatal(err)
		}
		if len(st.dirs) != 111 {
			b.Fatalf("watched %d folders, want 111", len(st.dirs))
		}
		st.close()
	}
}

// BenchmarkWatcherEventToHint measures the watcher's own latency from a file
// being created to the hint call, with no debounce delay.
func BenchmarkWatcherEventToHint(b *testing.B) {
	dir := b.TempDir()
	w := newWatcher(dir, nil, 0, 0)
	hints := make(chan string, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(ctx, func(reason string) { hints <- reason })
	}()
	defer func() { cancel(); <-done }()
	<-w.ready()
	i := 0
	for b.Loop() {
		i++
		p := filepath.Join(dir, strconv.Itoa(i)+".yaml")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		timeout := time.After(watchTestDeadline)
	wait:
		for {
			select {
			case r := <-hints:
				if strings.Contains(r, p) {
					break wait
				}
			case <-timeout:
				b.Fatal("no hint")
			}
		}
	}
}
