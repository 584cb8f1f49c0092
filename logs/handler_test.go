package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	c := newClock(t0)
	s := openTest(t, "", Options{Sync: true, Now: c.now})
	old, a, b := rec("old", 200), rec("a", 200), rec("b", 500)
	old.Time = t0.Add(-48 * time.Hour)
	a.Time = t0.Add(-2 * time.Hour)
	b.Time = t0.Add(-time.Hour)
	for _, r := range []*Record{old, a, b} {
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	tests := []struct {
		path     string
		code     int
		wantIDs  []string
		wantMsg  string
		wantNext bool
	}{
		{"/api/v1/logs", 200, []string{b.ID, a.ID, old.ID}, "", false},
		{"/api/v1/logs?since=24h", 200, []string{b.ID, a.ID}, "", false},
		{"/api/v1/logs?since=" + url.QueryEscape(t0.Add(-90*time.Minute).Format(time.RFC3339)), 200, []string{b.ID}, "", false},
		{"/api/v1/logs?until=90m", 200, []string{a.ID, old.ID}, "", false},
		{"/api/v1/logs?status=failed", 200, []string{b.ID}, "", false},
		{"/api/v1/logs?status=200&webhook=a&authenticator=auth_a", 200, []string{a.ID}, "", false},
		{"/api/v1/logs?webhook=nope", 200, []string{}, "", false},
		{"/api/v1/logs?limit=1", 200, []string{b.ID}, "", true},
		{"/api/v1/logs?limit=5000", 200, []string{b.ID, a.ID, old.ID}, "", false},
		{"/api/v1/logs?limit=0", 400, nil, "limit", false},
		{"/api/v1/logs?limit=x", 400, nil, "limit", false},
		{"/api/v1/logs?status=ok", 400, nil, "status", false},
		{"/api/v1/logs?since=yesterday", 400, nil, "since", false},
		{"/api/v1/logs?cursor=zzz", 400, nil, "cursor", false},
		{"/api/v1/logs/" + a.ID, 200, []string{a.ID}, "", false},
		{"/api/v1/logs/" + strings.Repeat("0", 32), 404, nil, "Log record not found", false},
		{"/api/v1/logs/nope", 404, nil, "Log record not found", false},
		{"/api/v1/logs/", 404, nil, "Log record not found", false},
		{"/api/v1/logs/" + a.ID + "/x", 404, nil, "Log record not found", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if tt.wantMsg != "" {
				var m struct{ Message string }
				if err := json.Unmarshal(body, &m); err != nil || !strings.Contains(m.Message, tt.wantMsg) {
					t.Fatalf("message %q, want it to contain %q (%v)", m.Message, tt.wantMsg, err)
				}
				return
			}
			var ids []string
			if strings.Contains(tt.path, "/logs/") {
				var r Record
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatal(err)
				}
				ids = []string{r.ID}
			} else {
				if !bytes.Contains(body, []byte(`"records":[`)) || !bytes.Contains(body, []byte(`"next_cursor":`)) {
					t.Fatalf("shape: %s", body)
				}
				var p Page
				if err := json.Unmarshal(body, &p); err != nil {
					t.Fatal(err)
				}
				if (p.NextCursor != "") != tt.wantNext {
					t.Fatalf("next_cursor %q", p.NextCursor)
				}
				ids = []string{}
				for _, r := range p.Records {
					ids = append(ids, r.ID)
				}
			}
			if strings.Join(ids, ",") != strings.Join(tt.wantIDs, ",") {
				t.Fatalf("ids %v, want %v", ids, tt.wantIDs)
			}
		})
	}
	if resp, err := http.Post(srv.URL+"/api/v1/logs", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %v %v", resp.StatusCode, err)
	}
}

func TestFetchRemoteAndWriters(t *testing.T) {
	c := newClock(t0)
	s := openTest(t, "", Options{Sync: true, Now: c.now})
	a, b := rec("alpha", 200), rec("beta", 502)
	b.ResultMessage, b.ErrorMessage = "", "Webhook code execution error:\nboom"
	b.DurationSeconds = 1.5
	for _, r := range []*Record{a, b} {
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	ctx := context.Background()

	p, err := FetchRemote(ctx, srv.Client(), strings.TrimPrefix(srv.URL, "http://"), Filter{Status: "failed", Since: t0.Add(-time.Hour), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 1 || p.Records[0].ID != b.ID {
		t.Fatalf("records %+v", p.Records)
	}
	p, err = FetchRemote(ctx, nil, srv.URL+"/", Filter{Limit: 1})
	if err != nil || len(p.Records) != 1 || p.NextCursor == "" {
		t.Fatalf("page 1: %+v %v", p, err)
	}
	p, err = FetchRemote(ctx, nil, srv.URL, Filter{Limit: 1, Cursor: p.NextCursor})
	if err != nil || len(p.Records) != 1 || p.Records[0].ID != a.ID || p.NextCursor != "" {
		t.Fatalf("page 2: %+v %v", p, err)
	}
	if _, err := FetchRemote(ctx, nil, srv.URL, Filter{Status: "bogus"}); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("bad filter: %v", err)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	if _, err := FetchRemote(ctx, nil, deadURL, Filter{}); err == nil {
		t.Fatal("no daemon: no error")
	}

	var tb bytes.Buffer
	if err := WriteTable(&tb, []*Record{b, a}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(tb.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("table:\n%s", tb.String())
	}
	for i, want := range [][]string{
		{"TIME", "WEBHOOK", "STATUS", "CODE", "DURATION", "MESSAGE"},
		{"2026-03-10 12:00:00", "beta", "failed", "502", "1.5s", "Webhook code execution error: boom"},
		{"2026-03-10 12:00:00", "alpha", "success", "200", "12.3ms", "OK"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
	if col := strings.Index(lines[0], "STATUS"); strings.Index(lines[1], "failed") != col {
		t.Errorf("columns not aligned:\n%s", tb.String())
	}
	var jb bytes.Buffer
	if err := WriteJSONLines(&jb, []*Record{b, a}); err != nil {
		t.Fatal(err)
	}
	jl := strings.Split(strings.TrimSpace(jb.String()), "\n")
	var r Record
	if len(jl) != 2 || json.Unmarshal([]byte(jl[1]), &r) != nil || r.ID != a.ID {
		t.Fatalf("json lines:\n%s", jb.String())
	}
}
