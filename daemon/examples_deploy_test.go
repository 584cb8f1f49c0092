package daemon

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"towerhook/logs"
)

// testExampleGitHubDeploy: the deploy recipe answers 202 with a job,
// answers GitHub's redelivery with the same job, and runs the job in the
// background (a push to another branch deploys nothing; main runs the
// deploy script, absent here, so that job retries).
func testExampleGitHubDeploy(t *testing.T, d *testDaemon) {
	sign := func(body string) string { return "sha256=" + hmacHex(sha256.New, githubVectorKey, body) }
	send := func(body, delivery string) response {
		return do(t, "POST", d.pub+DefaultPrefix+"github/deploy", body, map[string]string{
			"X-Hub-Signature-256": sign(body), "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
		})
	}
	jobState := func(id string) logs.Job {
		var j logs.Job
		getJSON(t, d.admin+"/api/v1/jobs/"+id, &j)
		return j
	}
	feature := `{"ref":"refs/heads/feature","after":"f00"}`
	fj := jobOf(t, send(feature, "delivery-1"))
	again := send(feature, "delivery-1")
	if jobOf(t, again) != fj || again.Header.Get("X-Towerhook-Duplicate-Of") == "" {
		t.Errorf("redelivery: %s %v", again.Body, again.Header)
	}
	eventually(t, 30*time.Second, "the feature job", func() bool { return jobState(fj).State == logs.JobSucceeded })

	mj := jobOf(t, send(`{"ref":"refs/heads/main","after":"abc123"}`, "delivery-2"))
	var j logs.Job
	eventually(t, 30*time.Second, "the main job's first attempt", func() bool {
		j = jobState(mj)
		return j.Attempts == 1 && j.State == logs.JobRetrying
	})
	if !strings.Contains(j.Error, "deploy.sh") {
		t.Errorf("main job error %q, want the missing deploy script", j.Error)
	}
	if r := do(t, "POST", d.pub+DefaultPrefix+"github/deploy", "{}", map[string]string{"X-GitHub-Delivery": "x"}); r.Status != 401 {
		t.Errorf("unsigned: %d", r.Status)
	}
}
