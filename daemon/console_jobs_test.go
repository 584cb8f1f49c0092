package daemon

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"towerhook/logs"
)

// jobsYAML: background webhooks whose code fails; one retries an hour
// later (it waits, retrying), one has no retry (it ends dead).
const jobsYAML = `cetmix_tower_yaml_version: 1
records:
- cetmix_tower_model: webhook_authenticator
  reference: open
  name: Open
  code: 'result = {allowed = true}'
- cetmix_tower_model: webhook
  reference: later
  name: Retries later
  authenticator_id: open
  endpoint: later
  background: true
  retries: 2
  retry_delay: 1h
  code: 'error("upstream down")'
- cetmix_tower_model: webhook
  reference: once
  name: No retry
  authenticator_id: open
  endpoint: once
  background: true
  code: 'error("bad input")'
`

// queueJob calls a background webhook and waits until its job is in state.
func queueJob(t *testing.T, d *testDaemon, endpoint, state string) string {
	t.Helper()
	r := do(t, "POST", d.pub+"/cetmix_tower_webhooks/"+endpoint, "{}", nil)
	var a struct{ Job string }
	if r.Status != http.StatusAccepted || json.Unmarshal([]byte(r.Body), &a) != nil || a.Job == "" {
		t.Fatalf("queueing: %d %s", r.Status, r.Body)
	}
	waitJobState(t, d, a.Job, state)
	return a.Job
}

func waitJobState(t *testing.T, d *testDaemon, id, state string) {
	t.Helper()
	eventually(t, 30*time.Second, "job "+id+" "+state, func() bool {
		var j logs.Job
		getJSON(t, d.admin+"/api/v1/jobs/"+id, &j)
		return j.State == state
	})
}

func TestConsoleJobs(t *testing.T) {
	d := startDaemon(t, map[string]string{"jobs.yaml": jobsYAML}, nil)
	waiting := queueJob(t, d, "later", logs.JobRetrying)
	dead := queueJob(t, d, "once", logs.JobDead)

	_, _, body := getPage(t, d, "/jobs")
	for _, w := range []string{
		`action="/jobs/` + waiting + `/cancel"`, `action="/jobs/` + dead + `/retry"`,
		`<span class="pill warn">retrying</span>`, `<span class="pill fail">dead</span>`, "upstream down", "bad input",
	} {
		if !strings.Contains(body, w) {
			t.Errorf("jobs page lacks %q", w)
		}
	}
	if _, _, body := getPage(t, d, "/jobs?state=dead"); strings.Contains(body, waiting) || !strings.Contains(body, dead) {
		t.Error("state=dead does not show only the dead job")
	}
	_, _, body = getPage(t, d, "/jobs/"+dead)
	for _, w := range []string{"Queued by", "Attempts", "Webhook code execution error: line 1: bad input", `href="/calls/`} {
		if !strings.Contains(body, w) {
			t.Errorf("job page lacks %q", w)
		}
	}

	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		name, path string
		status     int
		location   string
	}{
		{"cancel the waiting job", "/jobs/" + waiting + "/cancel", 303, "/jobs/" + waiting},
		{"retry the dead job", "/jobs/" + dead + "/retry", 303, "/jobs/" + dead},
		{"cancel a canceled job", "/jobs/" + waiting + "/cancel", 409, ""},
		{"unknown job", "/jobs/0123456789abcdef0123456789abcdef/retry", 404, ""},
	} {
		resp, err := c.PostForm(d.admin+tt.path, url.Values{})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
			t.Errorf("%s: %d %q, want %d %q", tt.name, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
		}
	}
	waitJobState(t, d, waiting, logs.JobCanceled)
	eventually(t, 30*time.Second, "second attempt", func() bool {
		var j logs.Job
		getJSON(t, d.admin+"/api/v1/jobs/"+dead, &j)
		return j.State == logs.JobDead && j.Attempts == 2
	})

	for _, tt := range []struct {
		path   string
		status int
		want   string
	}{
		{"/jobs/nope", 400, "is not a job id"},
		{"/jobs/0123456789abcdef0123456789abcdef", 404, "No job with id"},
		{"/jobs?state=bogus", 400, "state"},
		{"/jobs?cursor=zz", 400, "cursor is not valid"},
	} {
		if status, _, body := getPage(t, d, tt.path); status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d, want %d with %q", tt.path, status, tt.status, tt.want)
		}
	}
	// A call of a job links to it.
	_, _, body = getPage(t, d, "/jobs/"+dead)
	i := strings.Index(body, `<td class="time"><a href="/calls/`)
	if i < 0 {
		t.Fatal("no attempt row")
	}
	id := body[i+len(`<td class="time"><a href="/calls/`):][:32]
	if _, _, call := getPage(t, d, "/calls/"+id); !strings.Contains(call, `<a href="/jobs/`+dead+`">`) {
		t.Error("the attempt's call page does not link its job")
	}
}
