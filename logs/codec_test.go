package logs

import (
	"encoding/json"
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
