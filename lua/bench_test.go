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

// BenchmarkLargePayload: a webhook reading three fields of a ~20 KB
// GitHub-style push event, with payload projection (only the members the
// code names become Lua tables) and without (the same code also mentions
// payload as a value).
func BenchmarkLargePayload(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"76ae82c7b1a177c8d03f9e96e0adf2466113728f",`)
	sb.WriteString(`"repository":{"id":1296269,"full_name":"octocat/Hello-World","private":false`)
	for i := 0; i < 80; i++ {
		fmt.Fprintf(&sb, `,"url_%02d":"https://api.github.com/repos/octocat/Hello-World/things/%02d"`, i, i)
	}
	sb.WriteString(`},"pusher":{"name":"octocat","email":"octocat@github.com"},"commits":[`)
	for i := 0; i < 20; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"id":"%040d","message":"Commit number %d\n\nWith a body.","timestamp":"2026-11-27T12:00:00Z","author":{"name":"Monalisa","email":"mona@github.com"},"added":[],"removed":[],"modified":["README.md","src/file_%d.go"]}`, i, i, i)
	}
	sb.WriteString(`]}`)
	body := sb.String()
	e := testEngine(b, Options{})
	code := `result = {exit_code = 0, message = payload.ref .. " " .. payload.repository.full_name .. " by " .. payload.pusher.name}`
	for _, tc := range []struct{ name, code string }{{"projected", code}, {"whole", code + "\nlocal _ = payload"}} {
		b.Run(tc.name, func(b *testing.B) {
			call := &Call{Kind: KindWebhook, Script: mustCompile(b, tc.code), Payload: body, RawData: body}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if r := e.Run(context.Background(), call); r.Err != nil || r.ExitCode != 0 {
					b.Fatal(r.Err)
				}
			}
		})
	}
}
