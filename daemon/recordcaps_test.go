package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"towerhook/definitions"
	"towerhook/logs"
)

// storedRecord returns the call-log record of the request with id reqID,
// as GET /api/v1/logs/{id} answers it (raw JSON and decoded).
func storedRecord(t *testing.T, d *testDaemon, reqID string) ([]byte, map[string]any) {
	t.Helper()
	var page struct {
		Records []map[string]any `json:"records"`
	}
	getJSON(t, d.admin+"/api/v1/logs?limit=100", &page)
	for _, r := range page.Records {
		if r["request_id"] != reqID {
			continue
		}
		resp, err := http.Get(d.admin + "/api/v1/logs/" + fmt.Sprint(r["id"]))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var rec map[string]any
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatalf("record %s: %v", raw, err)
		}
		return raw, rec
	}
	t.Fatalf("no record with request id %s", reqID)
	return nil, nil
}

// bigJSON is a valid JSON object of about n bytes.
func bigJSON(n int) string {
	return `{"name":"x","pad":"` + strings.Repeat("p", n-22) + `"}`
}

// TestRecordCaps (issue 16, defect 1): every record keeps at most the
// README's "Limits" of the request (endpoint, method, each header value,
// the header set; the payload of calls that were not authenticated), cut
// after masking; an authenticated call keeps what the README promises.
func TestRecordCaps(t *testing.T) {
	d := startDaemon(t, pipelineFiles(), withSecrets(t))
	manyHeaders := map[string]string{}
	for i := range 100 {
		manyHeaders[fmt.Sprintf("X-Filler-%03d", i)] = strings.Repeat("f", 200)
	}
	normalHeaders := map[string]string{"Content-Type": "application/json", "X-Github-Event": "push",
		"X-Hub-Signature-256": "sha256=" + strings.Repeat("ab", 32), "User-Agent": "GitHub-Hookshot/abc"}
	for i := range 16 {
		normalHeaders[fmt.Sprintf("X-Extra-%02d", i)] = strings.Repeat("e", 100)
	}
	tests := []struct {
		name     string
		path     string
		body     string
		headers  map[string]string
		status   int
		maxBytes int                                    // stored record at most this long
		check    func(t *testing.T, rec map[string]any) // more checks
	}{
		{
			name: "unknown endpoint of 30 000 chars with a 30 KB header", path: strings.Repeat("e", 30000),
			headers: map[string]string{"X-Junk": strings.Repeat("j", 30000)}, status: 404, maxBytes: 10000,
			check: func(t *testing.T, rec map[string]any) {
				wantCut(t, "endpoint", rec["endpoint"], strings.Repeat("e", recordEndpointMax), 30000)
				wantCut(t, "X-Junk", header(rec, "X-Junk"), strings.Repeat("j", recordHeaderValueMax), 30000)
				wantTruncated(t, rec, true)
			},
		},
		{
			name: "100 headers of 200 bytes", path: "nowhere", headers: manyHeaders, status: 404, maxBytes: 10000,
			check: func(t *testing.T, rec map[string]any) {
				h, _ := rec["request_headers"].(map[string]any)
				size := 0
				for k, v := range h {
					size += len(k) + len(fmt.Sprint(v))
				}
				if len(h) > recordHeadersMax || size > recordHeaderBytesMax || len(h) < 30 {
					t.Errorf("%d headers of %d bytes kept, want 30 to %d and at most %d bytes", len(h), size, recordHeadersMax, recordHeaderBytesMax)
				}
				if h["X-Filler-000"] == nil {
					t.Errorf("the first header in name order was left out: %v", h)
				}
				wantTruncated(t, rec, true)
			},
		},
		{
			name: "failed authentication with a 60 KB payload", path: "tokened", body: bigJSON(60000),
			headers: map[string]string{"X-Token": "wrong"}, status: 401, maxBytes: 10000,
			check: func(t *testing.T, rec map[string]any) {
				p, ok := rec["request_payload"].(string)
				if !ok || len(p) > recordUnauthPayloadMax || !strings.HasPrefix(p, `{"name":"x","pad":"ppp`) {
					t.Errorf("payload %.80q... (%d bytes), want a string of the first %d bytes", p, len(p), recordUnauthPayloadMax)
				}
				wantTruncated(t, rec, true)
			},
		},
		{
			name: "authenticated call with a 60 KB payload and 20 headers", path: "ok", body: bigJSON(60000),
			headers: normalHeaders, status: 200, maxBytes: 70000,
			check: func(t *testing.T, rec map[string]any) {
				if p, _ := rec["request_payload"].(map[string]any); len(fmt.Sprint(p["pad"])) != 60000-22 {
					t.Errorf("payload not kept whole: %.80v", rec["request_payload"])
				}
				for k, v := range normalHeaders {
					if got := header(rec, k); got != v {
						t.Errorf("header %s = %q, want %q", k, got, v)
					}
				}
				if rec["endpoint"] != "ok" {
					t.Errorf("endpoint %v", rec["endpoint"])
				}
				wantTruncated(t, rec, false)
			},
		},
		{
			name: "secret across the header value cut", path: "ok", body: "{}",
			headers: map[string]string{"X-Long": strings.Repeat("x", recordHeaderValueMax-4) + "s3cr3t-Value" + strings.Repeat("y", 500)},
			status:  200, maxBytes: 10000,
			check: func(t *testing.T, rec map[string]any) {
				if got := header(rec, "X-Long"); got != "*****" {
					t.Errorf("X-Long = %.60q..., want it masked whole", got)
				}
			},
		},
		{
			name: "secret across the payload cut of a failed authentication", path: "tokened",
			body:    `{"pad":"` + strings.Repeat("p", recordUnauthPayloadMax-12) + `s3cr3t-Value` + strings.Repeat("q", 500) + `"}`,
			headers: map[string]string{"X-Token": "wrong"}, status: 401, maxBytes: 10000,
		},
		{
			name: "secret across the endpoint cut", path: strings.Repeat("e", recordEndpointMax-4) + "s3cr3t-Value" + strings.Repeat("e", 100),
			status: 404, maxBytes: 10000,
			check: func(t *testing.T, rec map[string]any) {
				// Masked first ("*****", 5 bytes for 12), then cut: 4 stars stay.
				wantCut(t, "endpoint", rec["endpoint"], strings.Repeat("e", recordEndpointMax-4)+"****", recordEndpointMax-4+5+100)
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqID := fmt.Sprintf("caps-%d", i)
			h := map[string]string{"X-Request-Id": reqID}
			for k, v := range tt.headers {
				h[k] = v
			}
			if r := do(t, "POST", d.pub+DefaultPrefix+tt.path, tt.body, h); r.Status != tt.status {
				t.Fatalf("status %d, want %d", r.Status, tt.status)
			}
			raw, rec := storedRecord(t, d, reqID)
			t.Logf("stored record: %d bytes", len(raw))
			if len(raw) > tt.maxBytes {
				t.Errorf("stored record is %d bytes, want at most %d", len(raw), tt.maxBytes)
			}
			if strings.Contains(string(raw), "s3cr") {
				t.Errorf("a part of the secret is stored: %s", raw)
			}
			if tt.check != nil {
				tt.check(t, rec)
			}
		})
	}
}

func header(rec map[string]any, name string) string {
	h, _ := rec["request_headers"].(map[string]any)
	s, _ := h[name].(string)
	return s
}

// wantCut checks that got is keep followed by the truncation marker for
// an original of n bytes.
func wantCut(t *testing.T, what string, got any, keep string, n int) {
	t.Helper()
	if want := keep + truncationMarker(n); got != want {
		s := fmt.Sprint(got)
		t.Errorf("%s = %.40q...%q (%d bytes), want the first %d bytes and %q", what, s, s[max(0, len(s)-30):], len(s), len(keep), truncationMarker(n))
	}
}

func wantTruncated(t *testing.T, rec map[string]any, want bool) {
	t.Helper()
	if got := rec["truncated"] == true; got != want {
		t.Errorf("truncated = %v, want %v", rec["truncated"], want)
	}
}

// FuzzCapRecord: caps cut after masking, so a capped value is a prefix of
// the masked value (plus the marker) and holds no run of 8 bytes of a
// secret that the masked value does not hold; every limit holds.
func FuzzCapRecord(f *testing.F) {
	f.Add("deploy/app", "sha256=abc", "s3cr3t-Value-long", 3, 1)
	f.Add(strings.Repeat("e", 250)+"s3cr3t-Value", strings.Repeat("x", 1020)+"s3cr3t-Value", "s3cr3t-Value", 100, 40)
	f.Add("é"+strings.Repeat("ü", 200), strings.Repeat("ß", 600), "üüüüüüüü", 70, 0)
	f.Fuzz(func(t *testing.T, endpoint, value, secret string, headers, payloadLen int) {
		headers, payloadLen = min(max(headers, 0), 200), min(max(payloadLen, 0), 10000)
		endpoint, value = endpoint[:min(len(endpoint), 4096)], value[:min(len(value), 4096)]
		secrets := []string{secret}
		h := http.Header{}
		for i := range headers {
			h.Set(fmt.Sprintf("X-H-%03d", i), value)
		}
		payload := json.RawMessage(strings.Repeat("p", payloadLen))
		rec := &logs.Record{Endpoint: endpoint, Method: "POST", RequestHeaders: logs.RedactHeaders(h, secrets),
			RequestPayload: payload, AuthenticationStatus: logs.AuthFailed}
		mask := definitions.SecretMasker(secrets)
		masked := mask.Mask(endpoint)
		capRecord(rec, mask)

		checkCut(t, "endpoint", rec.Endpoint, masked, recordEndpointMax, secret)
		size := 0
		for k, v := range rec.RequestHeaders {
			size += len(k) + len(v)
			want := value
			if strings.Contains(value, secret) && secret != "" {
				want = logs.Redacted
			}
			checkCut(t, k, v, want, recordHeaderValueMax, secret)
		}
		if len(rec.RequestHeaders) > recordHeadersMax || size > recordHeaderBytesMax {
			t.Errorf("%d headers, %d bytes kept", len(rec.RequestHeaders), size)
		}
		if len(rec.RequestPayload) > recordUnauthPayloadMax+2 {
			t.Errorf("payload of %d bytes kept", len(rec.RequestPayload))
		}
		cut := len(masked) > recordEndpointMax || len(rec.RequestHeaders) < headers || payloadLen > recordUnauthPayloadMax
		if cut && !rec.Truncated {
			t.Error("something was cut, truncated not set")
		}
	})
}

// checkCut checks a capped value against the masked value it came from.
func checkCut(t *testing.T, what, got, masked string, limit int, secret string) {
	t.Helper()
	kept := got
	if i := strings.LastIndex(got, "…(truncated, "); i >= 0 && len(masked) > limit {
		kept = got[:i]
	}
	if !strings.HasPrefix(masked, kept) || len(kept) > limit {
		t.Fatalf("%s: kept %q of masked %q (limit %d)", what, kept, masked, limit)
	}
	for i := 0; i+8 <= len(secret); i++ {
		if run := secret[i : i+8]; strings.Contains(kept, run) && !strings.Contains(masked, run) {
			t.Fatalf("%s: %q of the secret survives the cut", what, run)
		}
	}
}
