package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"towerhook/logs"
)

// TestJobsCommand: towerhook jobs lists jobs with full ids (table and
// JSON lines), retries and cancels through the admin API.
func TestJobsCommand(t *testing.T) {
	r := startRig(t, map[string]string{"a.yaml": openFile(
		hook("fails", "fails", "open", "background: true", `error("no luck")`))})
	id := jobOf(t, do(t, "POST", r.url+"fails", "{}", nil))
	r.waitJob(id, logs.JobDead)
	tests := []struct {
		name     string
		o        JobsOptions
		wantCode int
		want     []string
	}{
		{"table", JobsOptions{}, 0, []string{"ID", "WEBHOOK", "STATE", id, "fails", "dead", "1/1", "no luck"}},
		{"filtered out", JobsOptions{State: "queued"}, 0, []string{"ID"}},
		{"bad state", JobsOptions{State: "sleeping"}, 2, nil},
		{"cancel a dead job", JobsOptions{Action: "cancel", ID: id}, 1, nil},
		{"retry", JobsOptions{Action: "retry", ID: id}, 0, []string{"job " + id + " is queued"}},
		{"unknown", JobsOptions{Action: "retry", ID: "nope"}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Admin = strings.TrimPrefix(r.admin, "http://")
			var out, errb bytes.Buffer
			if code := Jobs(context.Background(), tt.o, &out, &errb); code != tt.wantCode {
				t.Fatalf("exit %d (%s), want %d", code, errb.String(), tt.wantCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if tt.name == "filtered out" && strings.Contains(out.String(), id) {
				t.Errorf("a dead job listed as queued:\n%s", out.String())
			}
		})
	}
	r.waitJob(id, logs.JobDead)
	var out, errb bytes.Buffer
	if code := Jobs(context.Background(), JobsOptions{Admin: r.admin, JSON: true, Webhook: "fails"}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	var j logs.Job
	if err := json.Unmarshal([]byte(strings.SplitN(out.String(), "\n", 2)[0]), &j); err != nil || j.ID != id || j.Attempts != 2 {
		t.Errorf("--json: %v %+v", err, j)
	}
}
