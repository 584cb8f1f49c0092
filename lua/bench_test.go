package lua

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func BenchmarkAuthHMAC(b *testing.B) {
	e := testEngine(b, Options{Secrets: []string{"topsecret"}})
	body := []byte(strings.Repeat("x", 1024))
	m := hmac.New(sha256.New, []byte("topsecret"))
	m.Write(body)
	sig := "sha256=" + hex.EncodeToString(m.Sum(nil))
	s := mustCompile(b, `
local sig = headers["X-Hub-Signature-256"] or ""
local expected = "sha256=" .. hmac.new("topsecret", raw_data, "sha256"):hexdigest()
if hmac.compare_digest(sig, expected) then
  result = {allowed = true}
else
  result = {allowed = false, http_code = 401, message = "Bad signature"}
end`)
	call := &Call{Kind: KindAuthenticator, Script: s, Reference: "gh", RawData: string(body),
		Headers: http.Header{"X-Hub-Signature-256": {sig}, "Content-Type": {"application/json"}}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := e.Run(ctx, call); !r.Allowed {
			b.Fatal(r.Err)
		}
	}
}

func BenchmarkWebhookJSON(b *testing.B) {
	e := testEngine(b, Options{})
	var sb strings.Builder
	sb.WriteString(`{"ref":"refs/heads/main","repository":{"full_name":"org/app","id":123456},`)
	for i := 0; len(sb.String()) < 1000; i++ {
		fmt.Fprintf(&sb, `"field_%02d":"value number %02d padding",`, i, i)
	}
	sb.WriteString(`"n":42}`)
	payload := []byte(sb.String())
	s := mustCompile(b, `
if payload.ref == "refs/heads/main" and payload.repository.full_name == "org/app" and payload.n == 42 then
  result = {exit_code = 0, message = "deploying " .. payload.repository.full_name}
else
  result = {exit_code = 1, message = "skip"}
end`)
	call := &Call{Kind: KindWebhook, Script: s, Reference: "deploy", Payload: string(payload), RawData: string(payload)}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := e.Run(ctx, call); r.ExitCode != 0 || r.Err != nil {
			b.Fatal(r.Err, r.Message)
		}
	}
}

// BenchmarkRequestPair is the daemon's pattern: an HMAC authenticator then
// a webhook on the same body, with metrics enabled. The authenticator never
// reads payload, so the body is decoded once.
func BenchmarkRequestPair(b *testing.B) {
	e := testEngine(b, Options{Metrics: NewMetrics(nil)})
	var sb strings.Builder
	sb.WriteString(`{"ref":"refs/heads/main","repository":{"full_name":"org/app","id":123456},`)
	for i := 0; len(sb.String()) < 1000; i++ {
		fmt.Fprintf(&sb, `"field_%02d":"value number %02d padding",`, i, i)
	}
	sb.WriteString(`"n":42}`)
	body := []byte(sb.String())
	m := hmac.New(sha256.New, []byte("topsecret"))
	m.Write(body)
	hdr := http.Header{"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(m.Sum(nil))}, "Content-Type": {"application/json"}}
	auth := &Call{Kind: KindAuthenticator, Reference: "gh", Payload: string(body), RawData: string(body), Headers: hdr, Script: mustCompile(b, `
local expected = "sha256=" .. hmac.new("topsecret", raw_data, "sha256"):hexdigest()
result = {allowed = hmac.compare_digest(headers["X-Hub-Signature-256"] or "", expected)}`)}
	hook := &Call{Kind: KindWebhook, Reference: "deploy", Payload: string(body), RawData: string(body), Headers: hdr, Script: mustCompile(b, `
if payload.ref == "refs/heads/main" and payload.repository.full_name == "org/app" then
  result = {exit_code = 0, message = "deploying " .. payload.repository.full_name}
else
  result = {exit_code = 1, message = "skip"}
end`)}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := e.Run(ctx, auth); !r.Allowed {
			b.Fatal(r.Err)
		}
		if r := e.Run(ctx, hook); r.ExitCode != 0 || r.Err != nil {
			b.Fatal(r.Err, r.Message)
		}
	}
}
