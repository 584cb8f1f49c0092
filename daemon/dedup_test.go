package daemon

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"towerhook/logs"
)

func dedupFiles() map[string]string {
	return map[string]string{"a.yaml": openFile(
		hook("inline", "inline", "open", "dedup: header:X-Delivery", `result.message = "ran " .. request.id`) +
			hook("other", "other", "open", "dedup: header:X-Delivery", `result.message = "other ran"`) +
			hook("flaky", "flaky", "open", "dedup: header:X-Delivery",
				`if payload.fail then result = {exit_code = 1, message = "failed"} else result.message = "ok " .. request.id end`) +
			hook("by_payload", "by_payload", "open", "dedup: payload:data.id", `result.message = "ran " .. request.id`) +
			hook("by_query", "by_query", "open", "method: get\ndedup: query:id", `result.message = "ran " .. request.id`) +
			hook("bg", "bg", "open", "dedup: header:X-Delivery\nbackground: true", `result.message = "bg"`))}
}

// TestDedupAnswers: a repeat gets the first call's answer with
// X-Towerhook-Duplicate-Of and is logged as skipped with duplicate_of; a
// failed first call releases its claim; ids are per webhook and read from
// a header, the payload or the query.
func TestDedupAnswers(t *testing.T) {
	r := startRig(t, dedupFiles())
	type call struct {
		endpoint, method, body, id, reqID string
		wantStatus                        int
		wantMsg                           string // "" = do not check
		wantDupOf                         string
	}
	steps := []struct {
		name string
		call call
	}{
		{"first", call{"inline", "POST", "{}", "d1", "r1", 200, "ran r1", ""}},
		{"repeat", call{"inline", "POST", "{}", "d1", "r2", 200, "ran r1", "r1"}},
		{"same id, other webhook", call{"other", "POST", "{}", "d1", "r3", 200, "other ran", ""}},
		{"other id", call{"inline", "POST", "{}", "d2", "r4", 200, "ran r4", ""}},
		{"no id: no dedup", call{"inline", "POST", "{}", "", "r5", 200, "ran r5", ""}},
		{"no id again", call{"inline", "POST", "{}", "", "r6", 200, "ran r6", ""}},
		{"first fails", call{"flaky", "POST", `{"fail": true}`, "f1", "r7", 500, "failed", ""}},
		{"retry of a failure runs", call{"flaky", "POST", "{}", "f1", "r8", 200, "ok r8", ""}},
		{"then it is a duplicate", call{"flaky", "POST", "{}", "f1", "r9", 200, "ok r8", "r8"}},
		{"payload id", call{"by_payload", "POST", `{"data": {"id": 42}}`, "", "r10", 200, "ran r10", ""}},
		{"payload id repeat", call{"by_payload", "POST", `{"data": {"id": 42, "x": 1}}`, "", "r11", 200, "ran r10", "r10"}},
		{"payload string id differs", call{"by_payload", "POST", `{"data": {"id": "42x"}}`, "", "r12", 200, "ran r12", ""}},
		{"payload without id", call{"by_payload", "POST", `{"data": {}}`, "", "r13", 200, "ran r13", ""}},
		{"query id", call{"by_query?id=7", "GET", "", "", "r14", 200, "ran r14", ""}},
		{"query id repeat", call{"by_query?id=7&x=1", "GET", "", "", "r15", 200, "ran r14", "r14"}},
	}
	for _, st := range steps {
		c := st.call
		h := map[string]string{"X-Request-Id": c.reqID}
		if c.id != "" {
			h["X-Delivery"] = c.id
		}
		resp := do(t, c.method, r.url+c.endpoint, c.body, h)
		if resp.Status != c.wantStatus || (c.wantMsg != "" && resp.Message != c.wantMsg) {
			t.Errorf("%s: %d %s, want %d %q", st.name, resp.Status, resp.Body, c.wantStatus, c.wantMsg)
		}
		if got := resp.Header.Get("X-Towerhook-Duplicate-Of"); got != c.wantDupOf {
			t.Errorf("%s: X-Towerhook-Duplicate-Of %q, want %q", st.name, got, c.wantDupOf)
		}
	}
	recs := r.records("inline")
	if len(recs) != 5 {
		t.Fatalf("%d records of inline, want 5", len(recs))
	}
	if rec := recs[1]; rec.CodeStatus != logs.CodeSkipped || rec.DuplicateOf != "r1" || rec.HTTPStatus != 200 {
		t.Errorf("repeat logged as %s duplicate_of %q status %d", rec.CodeStatus, rec.DuplicateOf, rec.HTTPStatus)
	}
	if rec := recs[0]; rec.CodeStatus != logs.CodeSuccess || rec.DuplicateOf != "" {
		t.Errorf("first logged as %s duplicate_of %q", rec.CodeStatus, rec.DuplicateOf)
	}
	dedup := r.m.delivery.dedup
	for _, tt := range []struct {
		webhook, result string
		want            float64
	}{
		{"inline", dedupNew, 2}, {"inline", dedupDuplicate, 1}, {"flaky", dedupNew, 2}, {"flaky", dedupDuplicate, 1},
		{"by_payload", dedupNew, 2}, {"by_query", dedupDuplicate, 1},
	} {
		if got := testutil.ToFloat64(dedup.WithLabelValues(tt.webhook, tt.result)); got != tt.want {
			t.Errorf("towerhook_dedup_total{%s,%s} = %v, want %v", tt.webhook, tt.result, got, tt.want)
		}
	}
}

// TestDedupBackground: a repeat of a queued delivery answers 202 with the
// same job and creates none.
func TestDedupBackground(t *testing.T) {
	r := startRig(t, dedupFiles())
	first := do(t, "POST", r.url+"bg", "{}", map[string]string{"X-Delivery": "b1", "X-Request-Id": "q1"})
	job := jobOf(t, first)
	again := do(t, "POST", r.url+"bg", "{}", map[string]string{"X-Delivery": "b1", "X-Request-Id": "q2"})
	if jobOf(t, again) != job || again.Header.Get("X-Towerhook-Duplicate-Of") != "q1" {
		t.Errorf("repeat: %s %v", again.Body, again.Header)
	}
	r.waitJob(job, logs.JobSucceeded)
	page, err := r.store.ListJobs(logs.JobFilter{Webhook: "bg"})
	if err != nil || len(page.Jobs) != 1 {
		t.Fatalf("jobs: %v %v", page, err)
	}
	later := do(t, "POST", r.url+"bg", "{}", map[string]string{"X-Delivery": "b1"})
	if jobOf(t, later) != job {
		t.Errorf("a repeat after the job ran: %s", later.Body)
	}
}

// TestDedupBurst: 50 identical deliveries at once run the code once; the
// others are duplicates or 409 Delivery in progress, never a second run.
func TestDedupBurst(t *testing.T) {
	for _, endpoint := range []string{"inline", "bg"} {
		t.Run(endpoint, func(t *testing.T) {
			r := startRig(t, dedupFiles())
			const n = 50
			answers := make([]response, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					answers[i] = do(t, "POST", r.url+endpoint, "{}", map[string]string{"X-Delivery": "same"})
				}()
			}
			close(start)
			wg.Wait()
			firsts, dups, busy := 0, 0, 0
			for _, a := range answers {
				switch {
				case a.Status == 409 && a.Message == "Delivery in progress":
					busy++
				case a.Header.Get("X-Towerhook-Duplicate-Of") != "":
					dups++
				case a.Status == 200 || a.Status == 202:
					firsts++
				default:
					t.Errorf("unexpected answer %d %s", a.Status, a.Body)
				}
			}
			if firsts != 1 || dups+busy != n-1 {
				t.Errorf("%d first calls, %d duplicates, %d in progress; want 1 and %d", firsts, dups, busy, n-1)
			}
			if endpoint == "bg" {
				page, _ := r.store.ListJobs(logs.JobFilter{Webhook: "bg"})
				if len(page.Jobs) != 1 {
					t.Fatalf("%d jobs, want 1", len(page.Jobs))
				}
				r.waitJob(page.Jobs[0].ID, logs.JobSucceeded)
			}
			ran := 0
			for _, rec := range r.records(endpoint) {
				if rec.CodeStatus == logs.CodeSuccess {
					ran++
				} else if rec.DuplicateOf == "" && rec.Job == "" {
					t.Errorf("a repeat logged without duplicate_of: %+v", rec)
				}
			}
			if ran != 1 {
				t.Errorf("the code ran %d times, want once", ran)
			}
		})
	}
}

// TestDedupOddIDs: an id longer than 1 KiB or with control characters is
// kept as its sha256, never raw (not in any file of the data directory),
// and still deduplicates.
func TestDedupOddIDs(t *testing.T) {
	tests := []struct{ name, id string }{
		{"long", strings.Repeat("L0ngDeliveryId", 100)},
		{"control characters", "id\twith\x01controls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := normalDedupID(tt.id); !strings.HasPrefix(got, "sha256:") || len(got) != 7+64 {
				t.Fatalf("normalDedupID = %q", got)
			}
			r := startRig(t, dedupFiles())
			// Header values cannot carry most control characters; the
			// payload can.
			body := `{"data": {"id": ` + jsonQuote(tt.id) + `}}`
			first := do(t, "POST", r.url+"by_payload", body, map[string]string{"X-Request-Id": "o1"})
			again := do(t, "POST", r.url+"by_payload", body, nil)
			if first.Status != 200 || again.Header.Get("X-Towerhook-Duplicate-Of") != "o1" {
				t.Fatalf("first %d, repeat %d %v", first.Status, again.Status, again.Header)
			}
			if _, err := r.store.PruneDelivery(); err != nil { // a checkpoint: claims reach bbolt
				t.Fatal(err)
			}
			var stored []string
			if err := r.store.Claims(r.p.dedup.now(), func(c *logs.Claim) { stored = append(stored, c.ID) }); err != nil {
				t.Fatal(err)
			}
			if len(stored) != 1 || stored[0] != normalDedupID(tt.id) {
				t.Errorf("stored claims %q", stored)
			}
			dataDir := filepath.Dir(r.store.Path())
			files, _ := os.ReadDir(dataDir)
			for _, f := range files {
				b, _ := os.ReadFile(filepath.Join(dataDir, f.Name()))
				// The payload is logged (escaped JSON); the claim must not
				// hold the raw id: look for it unescaped outside records.
				if bytes.Contains(b, []byte(`"id":`+jsonQuote(tt.id)+`,"request_id"`)) {
					t.Errorf("%s holds the raw id as a claim", f.Name())
				}
			}
		})
	}
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestDedupLongMessage: a first answer's message over 64 KiB is not kept
// in the claim; a repeat gets the status and a short message.
func TestDedupLongMessage(t *testing.T) {
	r := startRig(t, map[string]string{"a.yaml": openFile(
		hook("big", "big", "open", "dedup: header:X-Delivery", `result.message = string.rep("m", 100000)`))})
	first := do(t, "POST", r.url+"big", "{}", map[string]string{"X-Delivery": "1", "X-Request-Id": "big1"})
	again := do(t, "POST", r.url+"big", "{}", map[string]string{"X-Delivery": "1"})
	if first.Status != 200 || len(first.Body) < 100000 || again.Status != 200 || again.Message != "Duplicate of big1" {
		t.Errorf("first %d (%d bytes), repeat %d %s", first.Status, len(first.Body), again.Status, again.Body)
	}
}
