package logs

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestKeyRoundTrip(t *testing.T) {
	tests := []struct {
		t   time.Time
		seq uint64
	}{
		{t0, 1},
		{time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC), 1<<64 - 1},
		{time.Unix(0, 0), 0},
	}
	for _, tt := range tests {
		k := makeKey(tt.t.UnixNano(), tt.seq)
		got, err := parseID(k.id())
		if err != nil || got != k || got.seq() != tt.seq || got.day() != dayName(tt.t) {
			t.Fatalf("%v: %v %v", tt, got, err)
		}
		c, err := parseCursor(k.cursor())
		if err != nil || c != k {
			t.Fatalf("cursor %v %v", c, err)
		}
	}
}

// FuzzDecodeValue: arbitrary stored bytes never panic the decoder, and
// encoded records decode to the same header.
func FuzzDecodeValue(f *testing.F) {
	r := rec("w", 404)
	v, _ := encodeValue(r)
	f.Add(v, "w", 404)
	f.Add([]byte{1, 0xff}, "", 0)
	f.Add([]byte{}, "x", 200)
	f.Add([]byte{1, 200, 1, 5, 'a'}, "é", 599)
	f.Fuzz(func(t *testing.T, b []byte, webhook string, status int) {
		_, _ = decodeRecord(key{}, b)
		_, _ = parseID(string(b))
		_, _ = parseCursor(string(b))
		if status < 0 || status > 999 {
			return
		}
		x := &Record{Webhook: webhook, Authenticator: webhook + "a", HTTPStatus: status, RequestPayload: json.RawMessage(`{}`)}
		v, err := encodeValue(x)
		if err != nil {
			t.Fatal(err)
		}
		h, err := decodeHeader(v)
		if err != nil || string(h.webhook) != webhook || string(h.authenticator) != webhook+"a" || h.status != status {
			t.Fatalf("header %+v %v", h, err)
		}
	})
}

// stdJSON is encoding/json's output without HTML escaping.
func stdJSON(t testing.TB, r *Record) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func TestAppendRecordJSONMatchesEncodingJSON(t *testing.T) {
	full := rec("w", 200)
	full.ID = "0123"
	full.Time = time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	full.Truncated = true
	full.ReplayOf = "0123456789abcdef0123456789abcdef"
	tests := []*Record{
		{},
		rec("plain", 404),
		full,
		{Webhook: "quote\" back\\ nl\n tab\t cr\r ctl\x01\x1f del\x7f <>& é 日本 \u2028\u2029 bad\xff\xfe end",
			DurationSeconds: 1e-7, RequestHeaders: map[string]string{"b": "2", "a": "1", "": ""},
			LogLines: []string{}, RequestPayload: json.RawMessage(`[1,"x",null]`)},
		{DurationSeconds: 123456789.125, HTTPStatus: -1},
		{DurationSeconds: 1e21},
		{DurationSeconds: 2.5e-10},
		{DurationSeconds: -0.5},
	}
	for i, r := range tests {
		if got, want := string(appendRecordJSON(nil, r)), stdJSON(t, r); got != want {
			t.Errorf("%d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func FuzzAppendRecordJSON(f *testing.F) {
	f.Add("a\"b", "x\xffy", 0.25, 200)
	f.Add("\u2028", "", 1e-9, -5)
	f.Fuzz(func(t *testing.T, s1, s2 string, d float64, st int) {
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return
		}
		r := &Record{Webhook: s1, ErrorMessage: s2, DurationSeconds: d, HTTPStatus: st,
			RequestHeaders: map[string]string{s1: s2}, LogLines: []string{s2, s1}}
		if got, want := string(appendRecordJSON(nil, r)), stdJSON(t, r); got != want {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

func TestValueSizeCoversPlainRecords(t *testing.T) {
	r := rec("push", 200)
	r.ID = makeKey(1, 1).id()
	r.RequestPayload = []byte(`{"a":[1,2,3],"b":"text"}`)
	r.RequestHeaders = map[string]string{"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00ff"}
	r.LogLines = []string{"one", "two"}
	v, err := encodeValue(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) > valueSize(r) {
		t.Fatalf("value %d bytes, estimate %d: encoding reallocates", len(v), valueSize(r))
	}
}
