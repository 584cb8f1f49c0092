package daemon

// `towerhook logs --follow` (docs/cli.md): prints the last
// --limit calls, then new ones as they are logged, like `tail -f`.
//
// The admin API lists records newest first by the time a call started,
// but a record is written when the call ends, up to two code time limits
// later (authenticator and webhook). So every poll asks for the records
// since (newest start time seen - lookback), lookback covering the longest
// call the serving definitions allow, and prints those whose id it has not
// printed yet: late records appear, none twice. Times are the daemon's
// (record times), never this machine's clock, except before any record
// was seen. When the daemon goes away (a restart), polling goes on and
// the same ids keep being skipped once it is back.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"towerhook/logs"
)

// follower is the state of one --follow.
type follower struct {
	src      *logSource
	o        LogsOptions
	f        logs.Filter
	stdout   io.Writer
	lookback time.Duration
	// printed holds the ids printed (or present at start) within the
	// lookback window, with their times for pruning.
	printed map[string]time.Time
	newest  time.Time
	header  bool // the table header was printed
}

func followLogs(src *logSource, o LogsOptions, f logs.Filter, stdout, stderr io.Writer) int {
	if src.store != nil {
		fmt.Fprintln(stderr, "towerhook logs --follow: needs a running daemon (no daemon answered at --admin)")
		return 1
	}
	interval := o.PollInterval
	if interval <= 0 {
		interval = time.Second
	}
	fl := &follower{src: src, o: o, f: f, stdout: stdout, printed: map[string]time.Time{}}
	fl.lookback = fl.callWindow()
	if err := fl.start(); err != nil {
		fmt.Fprintf(stderr, "towerhook logs: %v\n", err)
		return 1
	}
	lost := false
	for {
		select {
		case <-src.ctx.Done():
			return 0
		case <-time.After(interval):
		}
		err := fl.poll()
		switch {
		case err == nil && lost:
			fmt.Fprintf(stderr, "towerhook logs: reconnected to %s\n", redactURL(o.Admin))
			lost = false
			fl.lookback = fl.callWindow()
		case err != nil && src.ctx.Err() != nil:
			return 0
		case err != nil && isTransport(err):
			if !lost {
				fmt.Fprintf(stderr, "towerhook logs: lost the daemon at %s (%v); reconnecting\n", redactURL(o.Admin), err)
				lost = true
			}
		case err != nil:
			fmt.Fprintf(stderr, "towerhook logs: %v\n", err)
			return 1
		}
	}
}

// isTransport reports an error of the connection, not an answer.
func isTransport(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue)
}

// start prints the last --limit matching records, oldest first, and
// remembers every record of the lookback window as printed.
func (fl *follower) start() error {
	page, err := fl.src.query(fl.f)
	if err != nil {
		return err
	}
	recs := page.Records
	if len(recs) > 0 {
		fl.newest = recs[0].Time
	}
	window, err := fl.window()
	if err != nil {
		return err
	}
	for _, r := range window {
		fl.printed[r.ID] = r.Time
	}
	return fl.print(recs)
}

// poll prints the records of the window not printed yet.
func (fl *follower) poll() error {
	recs, err := fl.window()
	if err != nil {
		return err
	}
	var fresh []*logs.Record
	for _, r := range recs {
		if _, ok := fl.printed[r.ID]; !ok {
			fresh = append(fresh, r)
			fl.printed[r.ID] = r.Time
		}
	}
	return fl.print(fresh)
}

// since is the start of the window: lookback before the newest record
// seen (before now when none was), not before --since.
func (fl *follower) since() time.Time {
	ref := fl.newest
	if ref.IsZero() {
		ref = time.Now()
	}
	s := ref.Add(-fl.lookback)
	if s.Before(fl.f.Since) {
		s = fl.f.Since
	}
	return s
}

// window fetches every matching record of the window (all pages) and
// forgets printed ids older than it.
func (fl *follower) window() ([]*logs.Record, error) {
	f := fl.f
	f.Since, f.Limit, f.Cursor = fl.since(), logs.MaxLimit, ""
	var out []*logs.Record
	for {
		page, err := fl.src.query(f)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Records...)
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	for id, t := range fl.printed {
		if t.Before(f.Since) {
			delete(fl.printed, id)
		}
	}
	return out, nil
}

// print writes recs oldest first and advances the newest time seen.
func (fl *follower) print(recs []*logs.Record) error {
	if len(recs) == 0 {
		if !fl.header && !fl.o.JSON {
			fl.header = true
			return logs.WriteTableWith(fl.stdout, nil, logs.TableOptions{Location: tableLocation(fl.o)})
		}
		return nil
	}
	sort.Slice(recs, func(i, j int) bool {
		if !recs[i].Time.Equal(recs[j].Time) {
			return recs[i].Time.Before(recs[j].Time)
		}
		return recs[i].ID < recs[j].ID
	})
	if t := recs[len(recs)-1].Time; t.After(fl.newest) {
		fl.newest = t
	}
	if fl.o.JSON {
		return logs.WriteJSONLines(fl.stdout, recs)
	}
	err := logs.WriteTableWith(fl.stdout, recs, logs.TableOptions{Location: tableLocation(fl.o), NoHeader: fl.header})
	fl.header = true
	return err
}

// callWindow is the longest a call can take before its record is written:
// authenticator and webhook code each within the longest time limit the
// serving definitions have, plus a margin for the commit. It reads the
// limits from the admin API (the default timeout when it cannot).
func (fl *follower) callWindow() time.Duration {
	longest := DefaultTimeout
	var defs struct {
		Webhooks []struct {
			Timeout float64 `json:"timeout_seconds"`
		} `json:"webhooks"`
	}
	ctx, cancel := context.WithTimeout(fl.src.ctx, adminTimeout)
	defer cancel()
	u := fl.o.Admin
	if !hasScheme(u) {
		u = "http://" + u
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(u, "/")+"/api/v1/definitions", nil)
	if err == nil {
		if resp, err := fl.src.client.Do(req); err == nil {
			if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&defs) == nil {
				for _, w := range defs.Webhooks {
					longest = max(longest, time.Duration(w.Timeout*float64(time.Second)))
				}
			}
			resp.Body.Close()
		}
	}
	return 2*longest + 30*time.Second
}
