package daemon

import (
	"io/fs"
	"os"
	"time"
)

// Settling (README "Reload"): a reload that a file event or the periodic
// rescan asked for waits while a definitions file is still being written
// in place, so that a slow writer (one that pauses between its writes
// longer than the event debounce) is never loaded half-written.
//
// A file is still being written when it changed in place since the last
// load (same file, other size or modification time) or is new, and was
// modified less than the quiet period ago. A file that replaced the loaded
// one (another inode: renamed into place by git, rsync, an editor's atomic
// save, or a ConfigMap's ..data swap) is complete and loads at once.
// Waiting is bounded: after maxWait the reload goes ahead anyway.
// Explicit reloads (SIGHUP, POST /-/reload, start-up) never wait.

// DefaultReloadSettle is the default quiet period of --reload-settle.
const DefaultReloadSettle = time.Second

// settleMaxWaits bounds a postponement: at most this many quiet periods.
const settleMaxWaits = 10

// coarseMtimeSlack is added to a modification time without a fraction of
// a second: the file system may keep whole seconds (or two, as FAT), so
// the write may have happened up to that much later.
const coarseMtimeSlack = 2 * time.Second

// settler decides whether a hinted reload may load now. It is used by the
// reload loop only.
type settler struct {
	quiet, maxWait time.Duration
	// loaded is every file as it was just before the last load.
	loaded map[string]fs.FileInfo
	// since is when the current postponement began; zero when none.
	since time.Time
}

// newSettler returns a settler with the given quiet period; nil (never
// wait) when quiet is 0 or less.
func newSettler(quiet time.Duration) *settler {
	if quiet <= 0 {
		return nil
	}
	return &settler{quiet: quiet, maxWait: settleMaxWaits * quiet}
}

// wait returns how long a hinted reload should wait before it looks
// again (0: load now), and the file it waits for.
func (s *settler) wait(now time.Time, files map[string]fs.FileInfo) (time.Duration, string) {
	if s == nil {
		return 0, ""
	}
	var due time.Duration
	var file string
	for name, fi := range files {
		if d := s.unsettled(now, name, fi); d > due {
			due, file = d, name
		}
	}
	if due == 0 {
		s.since = time.Time{}
		return 0, ""
	}
	if s.since.IsZero() {
		s.since = now
	}
	left := s.since.Add(s.maxWait).Sub(now)
	if left <= 0 {
		s.since = time.Time{}
		return 0, file
	}
	return min(due, left), file
}

// unsettled returns how much longer the file must stay unchanged, or 0.
func (s *settler) unsettled(now time.Time, name string, fi fs.FileInfo) time.Duration {
	if prev, ok := s.loaded[name]; ok {
		if !os.SameFile(prev, fi) {
			return 0 // replaced whole: renamed into place
		}
		if prev.Size() == fi.Size() && prev.ModTime().Equal(fi.ModTime()) {
			return 0 // as loaded
		}
	}
	mtime := fi.ModTime()
	if mtime.Nanosecond() == 0 {
		mtime = mtime.Add(coarseMtimeSlack)
	}
	// A modification time in the future waits for the bound.
	return max(0, mtime.Add(s.quiet).Sub(now))
}

// loading remembers the files of the load about to happen.
func (s *settler) loading(files map[string]fs.FileInfo) {
	if s != nil {
		s.loaded = files
	}
}
