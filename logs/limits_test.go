package logs

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// The issue's case: 1 000 log lines of 64 KiB of `"` each escape to 131 MB,
// which was journaled and then skipped by replay, so the answered call
// vanished after a crash. Now the record is capped when stored and the
// journal a crash leaves behind replays it.
func TestHugeRecordSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	s := openTest(t, path, Options{Sync: true})
	r := rec("huge", 200)
	line := strings.Repeat(`"`, 64<<10)
	r.LogLines = make([]string, 1000)
	for i := range r.LogLines {
		r.LogLines[i] = line
	}
	if err := s.Append(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	// The crash: only the journal is left (bbolt never got the record).
	wal, err := os.ReadFile(segmentPaths(path)[0])
	if err != nil {
		t.Fatal(err)
	}
	crash := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(segmentPaths(crash)[0], wal, 0o600); err != nil {
		t.Fatal(err)
	}
	c := openTest(t, crash, Options{Sync: true})
	got, err := c.Get(r.ID)
	if err != nil {
		t.Fatalf("the answered call vanished after the crash: %v", err)
	}
	if !got.Truncated || len(got.LogLines) < 2 || !strings.HasSuffix(got.LogLines[len(got.LogLines)-1], " more log lines not stored]") {
		t.Fatalf("truncated=%v, %d lines, last %.80q", got.Truncated, len(got.LogLines), got.LogLines[len(got.LogLines)-1])
	}
	if got.LogLines[0] != line {
		t.Error("the first line was not kept whole")
	}
	recs, _ := scanFrames(wal)
	if len(recs) != 1 || len(recs[0].val) > MaxRecordBytes {
		t.Fatalf("journal: %d frames, value %d bytes (limit %d)", len(recs), len(recs[0].val), MaxRecordBytes)
	}
}

// The largest record anything can hand the store, every field over its
// cap and made of characters that escape to six bytes, stays below
// MaxRecordBytes and reads back as valid JSON with its markers.
func TestWorstCaseRecordIsCapped(t *testing.T) {
	huge := strings.Repeat("\x01", 2<<20+1)
	r := &Record{
		ID: "", Webhook: huge, WebhookName: huge, Endpoint: huge, Method: huge, Authenticator: huge,
		AuthenticationStatus: huge, CodeStatus: huge, ResultMessage: huge, ErrorMessage: huge,
		RunAs: huge, IPAddress: huge, RequestID: huge, ConfigHash: huge,
		RequestPayload: json.RawMessage(huge), RequestHeaders: map[string]string{},
	}
	for i := 0; i < 300; i++ {
		r.RequestHeaders[strings.Repeat("h", 100)+string(rune('a'+i%26))+string(rune('a'+i/26))] = huge[:1<<20]
		r.LogLines = append(r.LogLines, huge[:1<<20])
	}
	s := openTest(t, "", Options{Sync: true, MaxPayloadBytes: 64 << 20})
	if err := s.Append(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	k, _ := parseID(r.ID)
	v := s.j.lookup(k)
	if len(v) > MaxRecordBytes {
		t.Fatalf("stored value %d bytes, over %d", len(v), MaxRecordBytes)
	}
	got, err := s.Get(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Truncated || !strings.HasSuffix(got.ResultMessage, "…(truncated, 2097153 bytes)") ||
		len(got.RequestHeaders) >= 300 || len(got.RequestPayload) > maxPayloadJSON {
		t.Fatalf("truncated=%v, message ends %q, headers %d, payload %d bytes", got.Truncated,
			got.ResultMessage[len(got.ResultMessage)-50:], len(got.RequestHeaders), len(got.RequestPayload))
	}
	if r.ResultMessage != huge || len(r.RequestHeaders) != 300 {
		t.Fatal("the caller's record was changed")
	}
}

func TestCapString(t *testing.T) {
	tests := []struct {
		s, want string
		max     int
		cut     bool
	}{
		{"short", "short", 100, false},
		{"exact", "exact", 7, false},
		{strings.Repeat("a", 60), strings.Repeat("a", 14) + "…(truncated, 60 bytes)", 40, true},
		{strings.Repeat("\"", 60), strings.Repeat("\"", 7) + "…(truncated, 60 bytes)", 40, true},
		{strings.Repeat("é", 30), strings.Repeat("é", 7) + "…(truncated, 60 bytes)", 41, true},
		{strings.Repeat("\x01", 60), "\x01\x01…(truncated, 60 bytes)", 42, true},
	}
	for _, tt := range tests {
		got, cut := capString(tt.s, tt.max)
		if got != tt.want || cut != tt.cut {
			t.Errorf("capString(%.10q…, %d) = %q %v, want %q %v", tt.s, tt.max, got, cut, tt.want, tt.cut)
		}
		if jsonLen(got) > tt.max || !utf8.ValidString(got) {
			t.Errorf("capString(%.10q…, %d): %d bytes encoded", tt.s, tt.max, jsonLen(got))
		}
	}
}

func TestCapLogLinesAndHeaders(t *testing.T) {
	lines := []string{strings.Repeat("a", 500), strings.Repeat("b", 500), strings.Repeat("c", 500)}
	got, cut := capLogLines(lines, 1000)
	b, _ := json.Marshal(got)
	if !cut || len(got) != 3 || got[0] != lines[0] || !strings.HasPrefix(got[1], "bbb") || got[2] != "[... 1 more log lines not stored]" || len(b) > 1000 {
		t.Fatalf("capLogLines = %d lines %q…, %d bytes", len(got), got[len(got)-1], len(b))
	}
	if got, cut := capLogLines(lines, 2000); cut || len(got) != 3 {
		t.Fatal("lines that fit were cut")
	}
	h := map[string]string{"A": strings.Repeat("1", 300), "B": strings.Repeat("2", 300), "C": "3"}
	gh, cut := capHeaders(h, 500)
	if !cut || gh["A"] != h["A"] || gh["C"] != "3" || len(gh) != 2 {
		t.Fatalf("capHeaders = %v", gh)
	}
	if gh, cut := capHeaders(h, 2000); cut || len(gh) != 3 {
		t.Fatal("headers that fit were cut")
	}
}
