package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"towerhook/logs"
)

// followHooks: "count" answers "n=<payload.n>".
var followHooks = map[string]string{"hooks.yaml": openFile(hook("count", "count", "open", "", `result.message = "n=" .. tostring(payload.n)`))}

// TestLogsFollow runs `logs --follow` against a running daemon, restarts
// the daemon (same admin address and store) and checks that every call is
// printed exactly once, before and after the restart.
func TestLogsFollow(t *testing.T) {
	d := startDaemon(t, followHooks, nil)
	post := func(pub string, n int) {
		t.Helper()
		if r := do(t, "POST", pub+DefaultPrefix+"count", fmt.Sprintf(`{"n":%d}`, n), nil); r.Status != 200 {
			t.Fatalf("call %d: %d %s", n, r.Status, r.Body)
		}
	}
	post(d.pub, 1)
	post(d.pub, 2)

	ctx, cancel := context.WithCancel(context.Background())
	var out, errb logBuffer
	done := make(chan int, 1)
	go func() {
		done <- Logs(ctx, LogsOptions{Admin: d.admin, Limit: 50, Follow: true, PollInterval: 20 * time.Millisecond}, &out, &errb)
	}()
	shows := func(ns ...int) func() bool {
		return func() bool {
			for _, n := range ns {
				if !strings.Contains(out.String(), fmt.Sprintf("n=%d\n", n)) {
					return false
				}
			}
			return true
		}
	}
	eventually(t, 20*time.Second, "the calls made before --follow", shows(1, 2))
	post(d.pub, 3)
	post(d.pub, 4)
	eventually(t, 20*time.Second, "new calls", shows(3, 4))

	// Restart: the follower notices, waits, and carries on.
	d.stop()
	eventually(t, 20*time.Second, "the follower to notice", func() bool { return strings.Contains(errb.String(), "lost the daemon") })
	d2 := startDaemon(t, followHooks, func(o *Options) {
		o.AdminListen = strings.TrimPrefix(d.admin, "http://")
		o.Data = d.data
	})
	eventually(t, 20*time.Second, "the reconnection", func() bool { return strings.Contains(errb.String(), "reconnected to") })
	post(d2.pub, 5)
	post(d2.pub, 6)
	eventually(t, 20*time.Second, "calls after the restart", shows(5, 6))
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, errb.String())
	}
	got := out.String()
	for n := 1; n <= 6; n++ {
		if c := strings.Count(got, fmt.Sprintf("n=%d\n", n)); c != 1 {
			t.Errorf("n=%d printed %d times:\n%s", n, c, got)
		}
	}
	if c := strings.Count(got, "TIME (UTC)"); c != 1 {
		t.Errorf("%d headers:\n%s", c, got)
	}
	// Oldest first, as tail -f.
	if strings.Index(got, "n=1\n") > strings.Index(got, "n=2\n") || strings.Index(got, "n=4\n") > strings.Index(got, "n=5\n") {
		t.Errorf("not in order:\n%s", got)
	}
}

func TestLogsFollowNeedsDaemon(t *testing.T) {
	t.Chdir(t.TempDir())
	writeStore(t, "data", &logs.Record{Webhook: "w", HTTPStatus: 200})
	var out, errb bytes.Buffer
	code := Logs(context.Background(), LogsOptions{Admin: "http://127.0.0.1:1", Limit: 5, Follow: true}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "--follow: needs a running daemon") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}

// TestLogsPagingShowAndUsage: one page and a line naming the next cursor,
// --cursor, --all, show ID (daemon and store), --limit checked, the ./data
// fallback announced, the ID and ENDPOINT columns and UTC times.
func TestLogsPagingShowAndUsage(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	var recs []*logs.Record
	for i := range 5 {
		recs = append(recs, &logs.Record{Time: t0.Add(time.Duration(i) * time.Minute), Webhook: "hook", Endpoint: "ep/x",
			Method: "post", HTTPStatus: 200, ResultMessage: fmt.Sprintf("m%d", i),
			RequestHeaders: map[string]string{"X-Test": "yes"}, RequestPayload: json.RawMessage(`{"a":1}`), LogLines: []string{"hello"}})
	}
	cwd := t.TempDir()
	writeStore(t, filepath.Join(cwd, "data"), recs...)
	t.Chdir(cwd)
	dead := "http://127.0.0.1:1"

	var out, errb bytes.Buffer
	run := func(o LogsOptions) int {
		out.Reset()
		errb.Reset()
		if o.Admin == "" {
			o.Admin = dead
		}
		return Logs(context.Background(), o, &out, &errb)
	}
	if code := run(LogsOptions{Limit: 2}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME (UTC)") || !strings.Contains(lines[0], "ID") || !strings.Contains(lines[0], "ENDPOINT") ||
		!strings.Contains(lines[1], "2026-03-10 12:04:00") || !strings.Contains(lines[1], recs[4].ID) || !strings.Contains(lines[1], "ep/x") {
		t.Fatalf("page:\n%s", out.String())
	}
	if !strings.Contains(errb.String(), "no daemon answered at http://127.0.0.1:1: reading the call log in ./data") {
		t.Errorf("fallback not announced: %s", errb.String())
	}
	m := regexp.MustCompile(`the next 2 with --cursor (\S+), all with --all`).FindStringSubmatch(errb.String())
	if m == nil {
		t.Fatalf("no next-page line: %s", errb.String())
	}
	if code := run(LogsOptions{Limit: 2, Cursor: m[1]}); code != 0 || !strings.Contains(out.String(), "m2") || !strings.Contains(out.String(), "m1") || strings.Contains(out.String(), "m4") {
		t.Errorf("next page: %d\n%s%s", code, out.String(), errb.String())
	}
	if code := run(LogsOptions{Limit: 2, All: true}); code != 0 || strings.Count(out.String(), "\n") != 6 || strings.Count(out.String(), "TIME") != 1 ||
		strings.Contains(errb.String(), "--cursor") {
		t.Errorf("--all: %d\n%s%s", code, out.String(), errb.String())
	}
	if code := run(LogsOptions{Limit: 5, Show: recs[2].ID}); code != 0 {
		t.Fatalf("show: %d %s", code, errb.String())
	}
	for _, want := range []string{"ID:              " + recs[2].ID, "Time:            2026-03-10 12:02:00.000 UTC", "Webhook:         hook",
		"Endpoint:        POST ep/x", "Result message:  m2", "Request headers:\n  X-Test: yes", "Request payload:\n  {\n    \"a\": 1\n  }", "Log lines:\n  hello"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show lacks %q:\n%s", want, out.String())
		}
	}
	if code := run(LogsOptions{Limit: 5, Show: "0000000000000000000000000000ffff"}); code != 1 || !strings.Contains(errb.String(), "not found") {
		t.Errorf("show unknown: %d %s", code, errb.String())
	}
	for _, limit := range []int{0, -1, 1001} {
		if code := run(LogsOptions{Limit: limit}); code != 2 || !strings.Contains(errb.String(), "want 1 to 1000") {
			t.Errorf("--limit %d: %d %s", limit, code, errb.String())
		}
	}
	if code := run(LogsOptions{Limit: 5, Follow: true, All: true}); code != 2 {
		t.Errorf("--follow --all: %d", code)
	}
}

// TestLogsShowFromDaemon: show ID through the admin API.
func TestLogsShowFromDaemon(t *testing.T) {
	d := startDaemon(t, followHooks, nil)
	if r := do(t, "POST", d.pub+DefaultPrefix+"count", `{"n":7}`, nil); r.Status != 200 {
		t.Fatal(r.Body)
	}
	var out, errb bytes.Buffer
	var rec logs.Record
	eventually(t, 10*time.Second, "the record", func() bool {
		out.Reset()
		return Logs(context.Background(), LogsOptions{Admin: d.admin, Limit: 1, JSON: true}, &out, &errb) == 0 &&
			json.Unmarshal(out.Bytes(), &rec) == nil
	})
	out.Reset()
	if code := Logs(context.Background(), LogsOptions{Admin: d.admin, Limit: 1, Show: rec.ID}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "Result message:  n=7") || !strings.Contains(out.String(), `"n": 7`) {
		t.Errorf("show: %d\n%s%s", code, out.String(), errb.String())
	}
}
