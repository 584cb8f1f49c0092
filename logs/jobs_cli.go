package logs

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
)

// FetchJobs asks a running daemon's admin API for one page of jobs. A
// transport error (no daemon answering) is returned as is.
func FetchJobs(ctx context.Context, client *http.Client, adminURL string, f JobFilter) (*JobPage, error) {
	if client == nil {
		client = http.DefaultClient
	}
	q := url.Values{}
	for k, v := range map[string]string{"state": f.State, "webhook": f.Webhook, "cursor": f.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	u := adminBase(adminURL) + "/api/v1/jobs"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var p JobPage
	if err := adminDo(ctx, client, http.MethodGet, u, &p); err != nil {
		return nil, err
	}
	if p.Jobs == nil {
		p.Jobs = []*Job{}
	}
	return &p, nil
}

// JobAction asks a running daemon to "retry" or "cancel" job id and
// returns the job as it is now.
func JobAction(ctx context.Context, client *http.Client, adminURL, id, action string) (*Job, error) {
	if client == nil {
		client = http.DefaultClient
	}
	var j Job
	u := adminBase(adminURL) + "/api/v1/jobs/" + url.PathEscape(id) + "/" + action
	if err := adminDo(ctx, client, http.MethodPost, u, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

func adminBase(adminURL string) string {
	if !strings.Contains(adminURL, "://") {
		adminURL = "http://" + adminURL
	}
	return strings.TrimRight(adminURL, "/")
}

// WriteJobTable writes jobs as an aligned table: ID (in full, for retry
// and cancel), WEBHOOK, STATE, ATTEMPT (made / allowed), CREATED (UTC) and
// ERROR (on one line, shortened).
func WriteJobTable(w io.Writer, jobs []*Job) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tWEBHOOK\tSTATE\tATTEMPT\tCREATED\tERROR")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", j.ID, oneLine(j.Webhook, 40), j.State,
			j.Attempts, j.MaxAttempts, j.Created.UTC().Format("2006-01-02 15:04:05"), oneLine(j.Error, maxMessage))
	}
	return tw.Flush()
}

// WriteJobJSONLines writes one JSON object per job per line.
func WriteJobJSONLines(w io.Writer, jobs []*Job) error { return writeJSONLines(w, jobs) }
