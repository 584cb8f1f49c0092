package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher tuning that is not part of the constructor's signature.
const (
	// watchRetryMin is the first delay before re-establishing a watch that
	// could not be set up (root missing, inotify limits, ...).
	watchRetryMin = 100 * time.Millisecond
	// watchRetryMax caps the exponential retry backoff.
	watchRetryMax = time.Second
)

// watcher turns filesystem events below a definitions directory into
// debounced reload hints. Events are hints only: the caller rescans everything.
//
// It watches the root, every subfolder (dot-folders are skipped except the
// Kubernetes ConfigMap ones whose names start with ".."), and the root's parent,
// so that a root that is renamed away, recreated or swapped through a symlink
// is noticed and re-watched. If the root is a symlink, its target and the
// target's parent are watched too; the link is resolved again on every
// re-establish.
type watcher struct {
	dir      string
	logger   *slog.Logger
	quiet    time.Duration
	maxDelay time.Duration
	retryMin time.Duration
	retryMax time.Duration

	readyOnce sync.Once
	readyc    chan struct{}

	mu  sync.Mutex
	fsw *fsnotify.Watcher // current fsnotify watcher, for tests

	injectErr chan error // tests only: errors handled as if fsnotify reported them
}

// newWatcher prepares a watcher for dir; quiet is the debounce quiet period
// (250ms in production) and maxDelay the longest a stream of events can
// postpone a hint (2s). It does not start watching until run.
// A nil logger discards log output.
func newWatcher(dir string, logger *slog.Logger, quiet, maxDelay time.Duration) *watcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return &watcher{
		dir:      filepath.Clean(dir),
		logger:   logger.With("component", "watcher", "dir", dir),
		quiet:    quiet,
		maxDelay: maxDelay,
		retryMin: watchRetryMin,
		retryMax: watchRetryMax,
		readyc:   make(chan struct{}),
	}
}

// ready is closed once run has made its first attempt to set up the watches
// (whether or not the root existed). Changes made after ready is closed are
// guaranteed to be noticed; a caller that loads once at start-up should do so
// after ready to close the race between its first scan and the watch.
func (w *watcher) ready() <-chan struct{} { return w.readyc }

// run watches until ctx is done, calling hint(reason) (never concurrently, never
// while a previous hint call is still running) at most once per debounce window.
// It never returns early on errors: fsnotify errors, overflow, a missing or
// replaced root all lead to a hint and a re-established watch (retry with backoff,
// e.g. every 1s, when the root does not exist yet). When run returns, every
// fsnotify watcher it opened is closed and no hint call is running.
// run must be called at most once per watcher.
func (w *watcher) run(ctx context.Context, hint func(reason string)) {
	// Hints are delivered by one goroutine so that event draining continues
	// while a (possibly slow) reload runs. One pending hint is kept; later ones
	// coalesce into it, which is safe because it has not started its rescan yet.
	hints := make(chan string, 1)
	hintDone := make(chan struct{})
	go func() {
		defer close(hintDone)
		for {
			select {
			case <-ctx.Done():
				return
			case reason := <-hints:
				if ctx.Err() != nil {
					return
				}
				hint(reason)
			}
		}
	}()

	l := &watchLoop{w: w, hints: hints, backoff: w.retryMin}
	l.debounce = watchDebounce{quiet: w.quiet, maxDelay: w.maxDelay}
	l.timer = time.NewTimer(time.Hour)
	l.timer.Stop()
	l.retry = time.NewTimer(time.Hour)
	l.retry.Stop()
	defer func() {
		l.timer.Stop()
		l.retry.Stop()
		if l.st != nil {
			l.st.close()
		}
		<-hintDone
	}()

	l.rebuild("start")
	w.readyOnce.Do(func() { close(w.readyc) })

	for {
		var events <-chan fsnotify.Event
		var errs <-chan error
		if l.st != nil && l.st.fsw != nil {
			events, errs = l.st.fsw.Events, l.st.fsw.Errors
		}
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				l.fail("fsnotify event channel closed")
				continue
			}
			l.handle(ev)
		case err, ok := <-errs:
			if !ok {
				l.fail("fsnotify error channel closed")
				continue
			}
			l.watchError(err)
		case err := <-w.injectErr:
			l.watchError(err)
		case <-l.timer.C:
			l.fire()
		case <-l.retry.C:
			l.retryArmed = false
			l.rebuild("retry")
		}
	}
}

// watchError handles an error reported by fsnotify.
func (l *watchLoop) watchError(err error) {
	w := l.w
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		w.logger.Warn("watch event queue overflowed; rescanning", "err", err)
		l.fail("event overflow")
	} else {
		w.logger.Warn("watch error; rescanning", "err", err)
		l.fail("watch error: " + err.Error())
	}
}

// watchLoop is the state owned by the run goroutine.
type watchLoop struct {
	w        *watcher
	hints    chan<- string
	st       *watchState
	debounce watchDebounce
	timer    *time.Timer // debounce deadline
	retry    *time.Timer // re-establish after a failure
	backoff  time.Duration
	rootOK   bool // the root was watched successfully at the last rebuild

	retryArmed bool      // retry timer is running
	lastFail   time.Time // last rebuild caused by a watcher error
}

// schedule records a relevant event and (re)arms the debounce timer.
func (l *watchLoop) schedule(reason string) {
	now := time.Now()
	deadline := l.debounce.add(now, reason)
	l.timer.Reset(deadline.Sub(now))
}

// fire delivers the pending hint, if any.
func (l *watchLoop) fire() {
	reason, ok := l.debounce.take()
	if !ok {
		return
	}
	select {
	case l.hints <- reason:
		l.w.logger.Info("reload hint", "reason", reason)
	default:
		// A hint is already queued and has not started: its rescan will
		// include this change too.
		l.w.logger.Debug("reload hint coalesced with a queued one", "reason", reason)
	}
}

// fail handles a watcher error: hint, and re-establish the watches now, or
// once retryMax has passed since the last error-driven rebuild, so that a
// persistent error cannot spin the loop.
func (l *watchLoop) fail(reason string) {
	l.schedule(reason)
	now := time.Now()
	if since := now.Sub(l.lastFail); since < l.w.retryMax {
		if !l.retryArmed {
			l.retry.Reset(l.w.retryMax - since)
			l.retryArmed = true
		}
		return
	}
	l.lastFail = now
	l.rebuild(reason)
}

// armRetry schedules a rebuild after the current backoff and grows it.
func (l *watchLoop) armRetry() {
	l.retry.Reset(l.backoff)
	l.retryArmed = true
	l.backoff = min(l.backoff*2, l.w.retryMax)
}

// rebuild replaces every watch with a fresh fsnotify watcher. The new one is
// fully set up before the old one is closed, so nothing falls in between.
func (l *watchLoop) rebuild(why string) {
	st, err := l.w.establish()
	if st == nil {
		// No fsnotify watcher at all (inotify limits?): keep the old one,
		// stale as it may be, and try again later.
		l.w.logger.Warn("cannot create a watcher; retrying", "err", err, "reason", why)
		if l.rootOK {
			l.schedule("watcher unavailable: " + err.Error())
		}
		l.rootOK = false
		l.armRetry()
		return
	}
	old := l.st
	l.st = st
	l.w.mu.Lock()
	l.w.fsw = st.fsw
	l.w.mu.Unlock()
	if old != nil {
		old.close()
	}

	wasOK := l.rootOK
	l.rootOK = err == nil
	if err != nil {
		if wasOK || why == "start" {
			l.w.logger.Warn("cannot watch definitions directory; retrying", "err", err, "reason", why)
		} else {
			l.w.logger.Debug("cannot watch definitions directory yet", "err", err)
		}
		if wasOK {
			l.schedule("root unavailable: " + err.Error())
		}
		l.armRetry()
		return
	}
	l.retry.Stop()
	l.retryArmed = false
	l.backoff = l.w.retryMin
	l.w.logger.Debug("watches established", "dirs", len(st.dirs), "reason", why)
	if why != "start" {
		l.schedule("watches re-established: " + why)
	}
}

// handle classifies one fsnotify event.
func (l *watchLoop) handle(ev fsnotify.Event) {
	log := l.w.logger
	st := l.st
	if ev.Op&^fsnotify.Chmod == 0 {
		return // chmod-only (also sent on unlink on Linux; the Remove follows)
	}
	dir, base := filepath.Dir(ev.Name), filepath.Base(ev.Name)

	// The root (or its symlink target): reported by its own watch when it is
	// removed or moved, and by the parent's watch when it is created, removed
	// or replaced.
	if st.roots[ev.Name] {
		if ev.Op.Has(fsnotify.Create) || ev.Op.Has(fsnotify.Remove) || ev.Op.Has(fsnotify.Rename) {
			log.Debug("watch event on root", "event", ev.String())
			l.rebuild(ev.Op.String() + " " + ev.Name)
		}
		return
	}
	// Anything else in a watched parent folder is none of our business.
	if st.parents[dir] && !st.dirs[dir] {
		return
	}

	if watchIgnoredName(base) {
		log.Debug("watch event ignored", "event", ev.String())
		return
	}
	relevant := false
	switch {
	case ev.Op.Has(fsnotify.Rename) && st.dirs[ev.Name]:
		// A watched folder moved: fsnotify keeps stale paths for the folders
		// below it, so start afresh (the rebuild schedules the hint).
		log.Debug("watch event", "event", ev.String())
		l.rebuild(ev.Op.String() + " " + ev.Name)
		return
	case ev.Op.Has(fsnotify.Remove) || ev.Op.Has(fsnotify.Rename):
		st.forget(ev.Name)
		relevant = true // it could have been a folder or a symlink
	case ev.Op.Has(fsnotify.Create):
		fi, err := os.Lstat(ev.Name)
		switch {
		case err != nil:
			relevant = true // gone already, or a stale path: cannot tell, rescan
		case fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0:
			// A new folder (or link to one): watch it and what is below,
			// which may have been created before the watch; the hint's
			// rescan, due after this, covers those.
			if target, err := os.Stat(ev.Name); err == nil && target.IsDir() {
				if err := st.addTree(ev.Name); err != nil {
					log.Warn("cannot watch new folder", "path", ev.Name, "err", err)
				}
			}
			relevant = true
		default:
			relevant = watchIsDefinition(base)
		}
	case ev.Op.Has(fsnotify.Write):
		relevant = watchIsDefinition(base)
	}
	if !relevant {
		log.Debug("watch event ignored", "event", ev.String())
		return
	}
	log.Debug("watch event", "event", ev.String())
	l.schedule(ev.Op.String() + " " + ev.Name)
}

// watchState is one generation of watches.
type watchState struct {
	fsw *fsnotify.Watcher
	// roots are the paths whose own events mean "the root changed": the
	// root and, if it is a symlink, its resolved target.
	roots map[string]bool
	// parents are the watched parent folders of the roots; only events
	// naming a root matter there.
	parents map[string]bool
	// dirs are the watched folders of the tree.
	dirs map[string]bool
}

// close closes the fsnotify watcher.
func (s *watchState) close() {
	if s.fsw != nil {
		_ = s.fsw.Close()
	}
}

// forget drops path and everything below it from the watched folders.
func (s *watchState) forget(path string) {
	if !s.dirs[path] {
		return
	}
	prefix := path + string(filepath.Separator)
	for d := range s.dirs {
		if d == path || strings.HasPrefix(d, prefix) {
			delete(s.dirs, d)
		}
	}
}

// addTree watches path and every folder below it that the loader reads:
// dot-folders are skipped except Kubernetes "..*" ones, and symlinks to
// folders are followed (inotify watches the target; events carry the link's
// path), each real folder once. Folders that vanish meanwhile are skipped.
func (s *watchState) addTree(path string) error {
	var firstErr error
	keep := func(err error) {
		if firstErr == nil && !errors.Is(err, fs.ErrNotExist) {
			firstErr = err
		}
	}
	visited := map[string]bool{} // real paths; only symlinks need resolving
	var walk func(p, realPath string)
	walk = func(p, realPath string) {
		if visited[realPath] {
			return // a symlink loop, or a folder reached twice
		}
		visited[realPath] = true
		if err := s.fsw.Add(p); err != nil {
			keep(fmt.Errorf("watch %s: %w", p, err))
			return
		}
		s.dirs[p] = true
		entries, err := os.ReadDir(p)
		if err != nil {
			keep(err)
			return
		}
		for _, e := range entries {
			if watchIgnoredName(e.Name()) {
				continue
			}
			child := filepath.Join(p, e.Name())
			switch t := e.Type(); {
			case t.IsDir():
				walk(child, filepath.Join(realPath, e.Name()))
			case t&fs.ModeSymlink != 0:
				if fi, err := os.Stat(child); err == nil && fi.IsDir() {
					if r, err := filepath.EvalSymlinks(child); err == nil {
						walk(child, r)
					}
				}
			}
		}
	}
	realPath, err := filepath.EvalSymlinks(path)
	if err != nil {
		keep(err)
		return firstErr
	}
	walk(path, realPath)
	return firstErr
}

// establish sets up a fresh generation of watches. It returns a usable state
// even on error: the parent watches then still notice the root appearing.
func (w *watcher) establish() (*watchState, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("fsnotify: %w", err)
	}
	st := &watchState{
		fsw:     fsw,
		roots:   map[string]bool{w.dir: true},
		parents: map[string]bool{},
		dirs:    map[string]bool{},
	}
	st.watchParent(w.dir, w.logger)

	// Follow a symlinked root link by link, so that swapping any link of
	// the chain (or the final folder) shows up in a watched parent.
	p := w.dir
	for range 40 {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			break
		}
		target, err := os.Readlink(p)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = filepath.Clean(target)
		st.roots[p] = true
		st.watchParent(p, w.logger)
	}
	resolved, err := filepath.EvalSymlinks(w.dir)
	if err != nil {
		return st, err
	}
	if !st.roots[resolved] {
		st.roots[resolved] = true
		st.watchParent(resolved, w.logger)
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return st, err
	}
	if !fi.IsDir() {
		return st, fmt.Errorf("%s is not a directory", resolved)
	}
	if err := fsw.Add(resolved); err != nil {
		return st, fmt.Errorf("watch %s: %w", resolved, err)
	}
	if err := st.addTree(resolved); err != nil {
		// The root is watched; a missing subfolder watch is not fatal: the
		// periodic rescan covers it.
		w.logger.Warn("cannot watch every subfolder", "err", err)
	}
	return st, nil
}

// watchParent watches the parent folder of path, where path being created,
// removed or replaced shows up.
func (s *watchState) watchParent(path string, log *slog.Logger) {
	parent := filepath.Dir(path)
	if parent == path || s.parents[parent] {
		return // the file-system root has no parent; or already watched
	}
	if err := s.fsw.Add(parent); err != nil {
		log.Debug("cannot watch parent folder", "path", parent, "err", err)
		return
	}
	s.parents[parent] = true
}

// watchIgnoredName reports whether base is an editor leftover or a hidden
// name that the loader skips. Kubernetes ConfigMap names ("..data",
// "..2026_01_01_00_00_00.123", "..data_tmp") are never ignored.
func watchIgnoredName(base string) bool {
	switch {
	case strings.HasPrefix(base, ".."):
		return base == ".."
	case strings.HasPrefix(base, "."): // dot-files, .a.yaml.swp/.swx, rsync temps
		return true
	case strings.HasSuffix(base, "~"): // backup copies
		return true
	case base == "4913": // vim's write-permission probe
		return true
	}
	return false
}

// watchIsDefinition reports whether base names a definitions file.
func watchIsDefinition(base string) bool {
	ext := strings.ToLower(filepath.Ext(base))
	return ext == ".yaml" || ext == ".yml"
}

// watchDebounce merges a burst of events into one hint: it fires quiet after
// the last event, but no later than maxDelay after the first one.
type watchDebounce struct {
	quiet, maxDelay time.Duration

	pending     bool
	start       time.Time // first event of the burst
	first, last string    // first and last event descriptions
	n           int       // events in the burst
}

// add records an event at now and returns when the hint is due.
func (d *watchDebounce) add(now time.Time, reason string) time.Time {
	if !d.pending {
		d.pending, d.start, d.first, d.n = true, now, reason, 0
	}
	d.last = reason
	d.n++
	due := now.Add(d.quiet)
	if limit := d.start.Add(d.maxDelay); due.After(limit) {
		due = limit
	}
	return due
}

// take ends the burst and describes it: its first event, and for a burst of
// several events also its last one and the count.
func (d *watchDebounce) take() (reason string, ok bool) {
	if !d.pending {
		return "", false
	}
	reason = d.first
	if d.n > 1 {
		reason = fmt.Sprintf("%s ... %s (%d events)", d.first, d.last, d.n)
	}
	*d = watchDebounce{quiet: d.quiet, maxDelay: d.maxDelay}
	return reason, true
}
