package logs

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// CheckReport is what Check found in a store file and its journal.
type CheckReport struct {
	Path string
	// File is nil when there is no store file at Path.
	File    *FileReport
	Journal []JournalReport
}

// JournalReport is one journal segment's state.
type JournalReport struct {
	Path string
	// Records is the number of records the next start replays.
	Records int
	// Damage describes the damaged frames the next start skips (and logs)
	// to keep the records after them; "" when there are none.
	Damage string
}

// OK reports whether the store file exists and nothing is damaged.
func (r *CheckReport) OK() bool {
	if r.File == nil || r.File.Problem != "" {
		return false
	}
	for _, j := range r.Journal {
		if j.Damage != "" {
			return false
		}
	}
	return true
}

// Check checks the store file at path and its journal segments without
// opening them for use (towerhook logs --check), under a shared lock: while
// the daemon runs it fails after timeout with an error wrapping ErrLocked.
func Check(path string, timeout time.Duration) (*CheckReport, error) {
	r := &CheckReport{Path: path}
	err := withSharedLock(path, timeout, func(f *os.File, size int64) error {
		if f == nil {
			return nil
		}
		if size == 0 {
			r.File = &FileReport{Problem: "the file is empty"}
		} else {
			rep, err := checkFile(f, size)
			if err != nil {
				return fmt.Errorf("call log %s: %w", path, err)
			}
			r.File = rep
		}
		for _, seg := range segmentPaths(path) {
			j, err := checkSegment(seg)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("call log journal %s: %w", seg, err)
			}
			r.Journal = append(r.Journal, j)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// checkSegment reads one journal segment.
func checkSegment(path string) (JournalReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return JournalReport{}, err
	}
	defer f.Close()
	b, err := readSegment(f)
	if err != nil {
		return JournalReport{}, err
	}
	recs, d := scanFrames(b)
	j := JournalReport{Path: path, Records: len(recs)}
	if d.damaged() {
		j.Damage = d.String()
	}
	return j, nil
}

// String is the report for people: a line for the store file (OK, or
// DAMAGED and the way out) and one per journal segment holding records or
// damage.
func (r *CheckReport) String() string {
	w := new(strings.Builder)
	f := r.File
	switch {
	case f == nil:
		fmt.Fprintf(w, "%s: no call log here\n", r.Path)
	case f.Problem != "":
		fmt.Fprintf(w, "%s: DAMAGED: %s\n", r.Path, f.Problem)
		fmt.Fprintf(w, "way out: run towerhook serve once with --log-recover: it moves the file aside to %s.damaged-<UTC time> (kept for inspection) and starts a new log (README \"Call log and retention\")\n", r.Path)
	default:
		fmt.Fprintf(w, "%s: OK: %d days, %d records, %s in use in a %s file (%d-byte pages)\n",
			r.Path, f.Buckets, f.Records, formatBytes(f.Used), formatBytes(f.Size), f.PageSize)
	}
	if f != nil {
		for _, n := range f.Notes {
			fmt.Fprintf(w, "%s: note: %s\n", r.Path, n)
		}
	}
	for _, j := range r.Journal {
		switch {
		case j.Damage != "":
			fmt.Fprintf(w, "%s: DAMAGED: %s; the next start skips the damage, keeps the %d records and logs it\n", j.Path, j.Damage, j.Records)
		case j.Records > 0:
			fmt.Fprintf(w, "%s: OK: %d records the next start replays\n", j.Path, j.Records)
		}
	}
	return w.String()
}

// formatBytes prints n in B, KiB, MiB or GiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}
