package daemon

// Where `towerhook logs` reads from (docs/cli.md): the running
// daemon's admin API, or, when nothing listens at --admin (or --data is
// given), the store read-only. Listing pages through the cursor (--all),
// `logs show ID` prints one record.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"towerhook/logs"
)

// logSource answers call-log queries from the daemon or the store.
type logSource struct {
	ctx    context.Context
	client *http.Client
	admin  string
	store  *logs.Store // nil: ask the daemon
}

// adminTimeout bounds one request to the admin API.
const adminTimeout = 5 * time.Second

func (s *logSource) query(f logs.Filter) (*logs.Page, error) {
	if s.store != nil {
		return s.store.Query(f)
	}
	ctx, cancel := context.WithTimeout(s.ctx, adminTimeout)
	defer cancel()
	return logs.FetchRemote(ctx, s.client, s.admin, f)
}

func (s *logSource) get(id string) (*logs.Record, error) {
	if s.store != nil {
		return s.store.Get(id)
	}
	ctx, cancel := context.WithTimeout(s.ctx, adminTimeout)
	defer cancel()
	return logs.FetchRecord(ctx, s.client, s.admin, id)
}

func (s *logSource) close() {
	if s.store != nil {
		s.store.Close()
	}
}

// redactURL hides the password of an admin URL for messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

// openLogSource connects to the daemon at o.Admin; when nothing listens
// there it opens ./data (saying so on stderr), or o.Data when given. A
// non-zero code is the exit status after an error already printed.
func openLogSource(ctx context.Context, o LogsOptions, stderr io.Writer) (*logSource, int) {
	src := &logSource{ctx: ctx, client: &http.Client{Timeout: adminTimeout}, admin: o.Admin}
	dir := o.Data
	if o.Admin != "" && o.Data == "" {
		err := src.ping()
		if err == nil {
			return src, 0
		}
		if !isNoDaemon(err) {
			fmt.Fprintf(stderr, "towerhook logs: %v\n", err)
			return nil, 1
		}
		dir = "data"
		fmt.Fprintf(stderr, "no daemon answered at %s: reading the call log in ./%s\n", redactURL(o.Admin), dir)
	}
	store, err := logs.Open(filepath.Join(dir, logs.FileName), logs.Options{
		Logger: slog.New(slog.DiscardHandler), ReadOnly: true, OpenTimeout: 2 * time.Second,
	})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return nil, 1
	}
	src.store = store
	return src, 0
}

// ping reports a transport error when no daemon answers at the admin URL;
// any HTTP answer (even 401 or 404) means one is there.
func (s *logSource) ping() error {
	ctx, cancel := context.WithTimeout(s.ctx, adminTimeout)
	defer cancel()
	u := s.admin
	if !hasScheme(u) {
		u = "http://" + u
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/-/healthy", nil)
	if err != nil {
		return fmt.Errorf("--admin %q: %v", redactURL(s.admin), err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func hasScheme(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Scheme != "" && p.Host != ""
}

// listLogs prints one page (and a line saying how to get the next one),
// or every page with --all.
func listLogs(src *logSource, o LogsOptions, f logs.Filter, stdout, stderr io.Writer) int {
	loc := tableLocation(o)
	for first := true; ; first = false {
		page, err := src.query(f)
		if err != nil {
			fmt.Fprintf(stderr, "towerhook logs: %v\n", err)
			return 1
		}
		if o.JSON {
			err = logs.WriteJSONLines(stdout, page.Records)
		} else {
			err = logs.WriteTableWith(stdout, page.Records, logs.TableOptions{Location: loc, NoHeader: !first})
		}
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 1
		}
		if page.NextCursor == "" {
			return 0
		}
		if !o.All {
			fmt.Fprintf(stderr, "more records match: the next %d with --cursor %s, all with --all\n", f.Limit, page.NextCursor)
			return 0
		}
		f.Cursor = page.NextCursor
	}
}

// showLog prints one record (`towerhook logs show ID`).
func showLog(src *logSource, o LogsOptions, stdout, stderr io.Writer) int {
	rec, err := src.get(o.Show)
	if err != nil {
		fmt.Fprintf(stderr, "towerhook logs show %s: %v\n", o.Show, err)
		return 1
	}
	if o.JSON {
		err = logs.WriteJSONLines(stdout, []*logs.Record{rec})
	} else {
		err = logs.WriteRecord(stdout, rec, tableLocation(o))
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	return 0
}

// tableLocation is UTC, or the local zone with --local.
func tableLocation(o LogsOptions) *time.Location {
	if o.Local {
		return time.Local
	}
	return time.UTC
}
