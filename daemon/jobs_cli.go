package daemon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"towerhook/logs"
)

// JobsOptions configure Jobs (towerhook jobs).
type JobsOptions struct {
	Admin   string
	State   string
	Webhook string
	Limit   int
	JSON    bool
	// Action is "" (list), "retry" or "cancel" job ID.
	Action string
	ID     string
}

// Jobs lists the running daemon's background jobs (newest first, full ids)
// or retries or cancels one (README "Delivery"). It needs the daemon: a
// job is changed by the scheduler that runs it.
func Jobs(ctx context.Context, o JobsOptions, stdout, stderr io.Writer) int {
	client := &http.Client{Timeout: 10 * time.Second}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if o.Action != "" {
		j, err := logs.JobAction(cctx, client, o.Admin, o.ID, o.Action)
		if err != nil {
			fmt.Fprintf(stderr, "towerhook jobs %s: %v\n", o.Action, err)
			return 1
		}
		fmt.Fprintf(stdout, "job %s is %s\n", j.ID, j.State)
		return 0
	}
	if o.State != "" && !validJobState(o.State) {
		fmt.Fprintf(stderr, "--state %q: want one of %v\n", o.State, logs.JobStates)
		return 2
	}
	page, err := logs.FetchJobs(cctx, client, o.Admin, logs.JobFilter{State: o.State, Webhook: o.Webhook, Limit: o.Limit})
	if err != nil {
		fmt.Fprintf(stderr, "towerhook jobs: %v\n", err)
		return 1
	}
	if o.JSON {
		err = logs.WriteJobJSONLines(stdout, page.Jobs)
	} else {
		err = logs.WriteJobTable(stdout, page.Jobs)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	return 0
}

func validJobState(s string) bool {
	for _, st := range logs.JobStates {
		if st == s {
			return true
		}
	}
	return false
}
