package logs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Opening a store that may be damaged, checking it and recovering from
// damage (README "Call log and retention", A damaged store).

// lockedError is Open's error when another process holds the file.
func lockedError(path string) error {
	return fmt.Errorf("call log %s is locked by another process (is towerhook already running?); stop it or use a different --data directory: %w", path, ErrLocked)
}

// withSharedLock runs fn on the file at path, open read-only under a
// shared lock (so that no writer changes it meanwhile); a missing file is
// fn(nil, 0).
func withSharedLock(path string, timeout time.Duration, fn func(f *os.File, size int64) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fn(nil, 0)
	}
	if err != nil {
		return fmt.Errorf("call log %s: %w", path, err)
	}
	defer f.Close()
	locked, err := lockShared(f, timeout)
	if err != nil {
		return fmt.Errorf("call log %s: locking: %w", path, err)
	}
	if !locked {
		return lockedError(path)
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("call log %s: %w", path, err)
	}
	return fn(f, st.Size())
}

// checkBeforeOpen checks the store file before bbolt maps it. A damaged
// file is a *DamageError, or, with Options.Recover (and not read-only), is
// moved aside so that Open starts a new store.
func (s *Store) checkBeforeOpen() error {
	var rep *FileReport
	err := withSharedLock(s.path, s.opts.OpenTimeout, func(f *os.File, size int64) error {
		if size == 0 {
			return nil // none yet: bbolt creates it
		}
		var err error
		rep, err = checkFile(f, size)
		return err
	})
	if err != nil || rep == nil {
		return err
	}
	for _, n := range rep.Notes {
		s.log.Warn("call log: "+n, "file", s.path)
	}
	if rep.Problem == "" {
		return nil
	}
	damage := &DamageError{Path: s.path, Problem: rep.Problem}
	if !s.opts.Recover || s.opts.ReadOnly {
		return damage
	}
	aside, err := moveAside(s.path, s.now())
	if err != nil {
		return fmt.Errorf("call log %s is damaged (%s) and could not be moved aside: %w", s.path, rep.Problem, err)
	}
	s.log.Error("call log: the store file is damaged; moved it aside and starting a new one (its journaled records are kept)",
		"file", s.path, "damage", rep.Problem, "moved_to", aside)
	return nil
}

// openBolt opens the bbolt file, turning a panic in bbolt's open (an
// assertion on a damaged page the check did not catch) into a DamageError.
func openBolt(path string, bo *bolt.Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, &DamageError{Path: path, Problem: fmt.Sprint("bbolt: ", r)}
		}
	}()
	return bolt.Open(path, 0o600, bo)
}

// moveAside renames the store file to <path>.damaged-<UTC time> and copies
// its journal segments beside it (<that>-wal, -wal2); the originals stay,
// so the new store replays the journaled records. It returns the new name.
func moveAside(path string, now time.Time) (string, error) {
	base := path + ".damaged-" + now.UTC().Format("20060102T150405Z")
	aside := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, os.ErrNotExist) {
			break
		}
		aside = base + "-" + strconv.Itoa(i)
	}
	to := segmentPaths(aside)
	for i, seg := range segmentPaths(path) {
		if err := copyFile(seg, to[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	if err := os.Rename(path, aside); err != nil {
		return "", err
	}
	return aside, syncDir(filepath.Dir(path))
}

// copyFile copies src to dst (created or truncated) and syncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// syncDir makes renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
