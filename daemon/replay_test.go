package daemon

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"towerhook/logs"
)

// replay posts to the replay API and decodes the answer.
func replay(t *testing.T, d *testDaemon, id string, headers map[string]string) (int, replayAnswer) {
	t.Helper()
	r := do(t, "POST", d.admin+"/api/v1/logs/"+id+"/replay", "", headers)
	var a replayAnswer
	if err := json.Unmarshal([]byte(r.Body), &a); err != nil {
		t.Fatalf("replay answer %q: %v", r.Body, err)
	}
	return r.Status, a
}

func getRecord(t *testing.T, d *testDaemon, id string) *logs.Record {
	t.Helper()
	var rec logs.Record
	if st := getJSON(t, d.admin+"/api/v1/logs/"+id, &rec); st != http.StatusOK {
		t.Fatalf("record %s: status %d", id, st)
	}
	return &rec
}

func TestReplayRunsTheCurrentCode(t *testing.T) {
	d := consoleDaemon(t)
	tests := []struct {
		name, method, endpoint, ctype, body string
		wantStatus                          int
		wantMessage                         string
	}{
		{"json", "POST", "deploy/app", "application/json", `{"ref":"v2"}`, 200, "deployed v2"},
		{"failed json", "POST", "deploy/app", "application/json", `{"ref":"v3","fail":"disk full"}`, 500, ""},
		{"form", "POST", "form", "application/x-www-form-urlencoded", "a=1+2&b=%3C", 200, "form 1 2 raw a=1+2&b=%3C"},
		{"get", "GET", "get?q=x%26y&z=1", "", "", 200, "get x&y query q=x%26y&z=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := getRecord(t, d, callHook(t, d, tt.method, tt.endpoint, tt.ctype, tt.body))
			status, a := replay(t, d, orig.ID, nil)
			if status != http.StatusOK || a.Message != "Replayed" || a.ReplayOf != orig.ID || a.HTTPStatus != tt.wantStatus {
				t.Fatalf("answer %d %+v", status, a)
			}
			rec := getRecord(t, d, a.ID)
			if rec.ReplayOf != orig.ID || rec.Webhook != orig.Webhook || rec.HTTPStatus != tt.wantStatus ||
				rec.AuthenticationStatus != logs.AuthNotRequired || rec.RequestID == orig.RequestID {
				t.Errorf("replay record %+v", rec)
			}
			if tt.wantMessage != "" && rec.ResultMessage != tt.wantMessage {
				t.Errorf("result_message %q, want %q", rec.ResultMessage, tt.wantMessage)
			}
			if string(rec.RequestPayload) != string(orig.RequestPayload) || rec.RequestHeaders["X-Api-Key"] != logs.Redacted {
				t.Errorf("payload %s / headers %v, want the recorded ones", rec.RequestPayload, rec.RequestHeaders)
			}
		})
	}

	// After a fix, the failed call replays with the new code.
	failed := callHook(t, d, "POST", "deploy/app", "application/json", `{"ref":"v4","fail":"x"}`)
	writeFiles(t, d.dir, map[string]string{"hooks.yaml": strings.Replace(consoleYAML, `if payload.fail then`, `if false then`, 1)})
	do(t, "POST", d.admin+"/-/reload", "", nil)
	if _, a := replay(t, d, failed, nil); a.HTTPStatus != 200 || a.CodeStatus != logs.CodeSuccess || a.ResultMessage != "deployed v4" {
		t.Errorf("replay after the fix: %+v", a)
	}
}

func TestReplayRefusals(t *testing.T) {
	d := consoleDaemon(t)
	unmatched := callHook(t, d, "POST", "nowhere", "", "{}")
	notify := callHook(t, d, "POST", "notify", "application/json", "{}")
	big := callHook(t, d, "POST", "deploy/app", "application/json", `{"x":"`+strings.Repeat("y", 100<<10)+`"}`)
	// notify is removed and off stays disabled; a record of off is made by
	// enabling it for one call.
	writeFiles(t, d.dir, map[string]string{"hooks.yaml": strings.Replace(consoleYAML, "active: false", "active: true", 1)})
	do(t, "POST", d.admin+"/-/reload", "", nil)
	off := callHook(t, d, "POST", "off", "application/json", "{}")
	noNotify := strings.Replace(consoleYAML, "reference: notify", "reference: notify_renamed", 1)
	writeFiles(t, d.dir, map[string]string{"hooks.yaml": noNotify})
	do(t, "POST", d.admin+"/-/reload", "", nil)

	tests := []struct {
		name, id string
		status   int
		message  string
	}{
		{"unknown id", "0123456789abcdef0123456789abcdef", 404, "Log record not found"},
		{"not an id", "nope", 404, "Log record not found"},
		{"no webhook", unmatched, 409, "This call matched no webhook (POST nowhere); nothing was run"},
		{"webhook removed", notify, 409, `Webhook "notify" no longer exists in the definitions; nothing was run`},
		{"webhook disabled", off, 409, `Webhook "off" is disabled; nothing was run`},
		{"payload truncated", big, 409, "The record was cut when it was logged (too large), so its request is incomplete; nothing was run"},
	}
	for _, tt := range tests {
		before := newestID(t, d)
		r := do(t, "POST", d.admin+"/api/v1/logs/"+tt.id+"/replay", "", nil)
		if r.Status != tt.status || r.Message != tt.message {
			t.Errorf("%s: %d %v, want %d %q", tt.name, r.Status, r.Message, tt.status, tt.message)
		}
		if after := newestID(t, d); after != before {
			t.Errorf("%s: a call was logged", tt.name)
		}
	}
	// The console's form gets an error page.
	resp, err := http.PostForm(d.admin+"/api/v1/logs/"+notify+"/replay", url.Values{"then": {"console"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 409 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("console form refusal: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// The call page explains why its Replay button is disabled.
	if _, _, body := getPage(t, d, "/calls/"+notify); !strings.Contains(body, `Webhook &#34;notify&#34; no longer exists in the definitions: it cannot be replayed.`) ||
		!strings.Contains(body, "disabled>Replay</button>") {
		t.Error("call page of a removed webhook: no disabled button with its reason")
	}
}

// TestReplayFromTheConsoleForm: the form's POST redirects to the new call.
func TestReplayFromTheConsoleForm(t *testing.T) {
	d := consoleDaemon(t)
	id := callHook(t, d, "POST", "notify", "application/json", "{}")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(d.admin+"/api/v1/logs/"+id+"/replay", url.Values{"then": {"console"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/calls/"+newestID(t, d) {
		t.Fatalf("status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, _, body := getPage(t, d, resp.Header.Get("Location"))
	if !strings.Contains(body, `<th>replay_of</th><td><a href="/calls/`+id+`">`+id+`</a>`) {
		t.Error("the new call's page does not link the replayed call")
	}
}
