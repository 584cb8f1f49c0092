package daemon

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"time"

	"towerhook/definitions"
	"towerhook/lua"
)

// testResult is the outcome of one test.
type testResult struct {
	test     *definitions.Test
	duration time.Duration
	// failures are what did not match (the test failed).
	failures []testFailure
	// broken: the test itself could not be used (unknown webhook, sign
	// raised); its failures say why. Exit code 2.
	broken bool
}

// testFailure is one mismatch, located at a line of the test file.
type testFailure struct {
	line int
	msg  string
}

func (res *testResult) failf(line int, format string, args ...any) {
	res.failures = append(res.failures, testFailure{line: line, msg: fmt.Sprintf(format, args...)})
}

// testCall is what one test's request produced.
type testCall struct {
	status  int
	body    []byte
	rec     *recordSlot
	effects *mockEffects
}

// runOne runs one test through the pipeline and checks its expectations.
func (r *testRunner) runOne(ctx context.Context, t *definitions.Test) *testResult {
	start := time.Now()
	res := &testResult{test: t}
	defer func() { res.duration = time.Since(start) }()
	tg := r.target(t.Secrets)
	if tg.err != nil {
		res.broken = true
		res.failf(t.Line, "the definitions do not load with this test's secrets: %v", tg.err)
		return res
	}
	wh := findWebhook(tg.set, t.Webhook)
	if wh == nil {
		res.broken = true
		res.failf(t.WebhookLine, "unknown webhook %q", t.Webhook)
		return res
	}
	req, err := r.testRequest(ctx, tg, wh, t)
	if err != nil {
		res.broken = true
		res.failf(err.line, "%s", err.msg)
		return res
	}
	call := serveTest(tg.p, req, t)
	checkExpect(res, t, call, tg.set.SecretValues())
	return res
}

// findWebhook returns the webhook with reference ref, or nil.
func findWebhook(set *definitions.Set, ref string) *definitions.Webhook {
	hooks := set.Webhooks()
	i, ok := slices.BinarySearchFunc(hooks, ref, func(w *definitions.Webhook, ref string) int {
		return strings.Compare(w.Reference, ref)
	})
	if !ok {
		return nil
	}
	return hooks[i]
}

// testRequest builds the request a test sends, signed by its sign code.
func (r *testRunner) testRequest(ctx context.Context, tg *testTarget, wh *definitions.Webhook, t *definitions.Test) (*http.Request, *testFailure) {
	tr := &t.Request
	method := tr.Method
	if method == "" {
		method = wh.Method
	}
	header := http.Header{}
	for _, kv := range tr.Headers {
		header.Add(kv.Key, kv.Value)
	}
	body := tr.Body
	if len(body) > 0 && method != http.MethodGet && header.Get("Content-Type") == "" {
		header.Set("Content-Type", testContentType(tr.BodyKind, wh.ContentType))
	}
	if tr.Sign != "" {
		var f *testFailure
		if header, f = r.signRequest(ctx, tg, wh, t, body, header); f != nil {
			return nil, f
		}
	}
	target := DefaultPrefix + wh.Endpoint
	if q := definitions.EncodeQuery(tr.Query); q != "" {
		target += "?" + q
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, &testFailure{line: t.Line, msg: fmt.Sprintf("request: %v", err)}
	}
	remote := tr.RemoteAddr
	if remote == "" {
		remote = "127.0.0.1"
	}
	remote, err = parseRemoteAddr(remote)
	if err != nil {
		return nil, &testFailure{line: t.Line, msg: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(body))
	if err != nil {
		return nil, &testFailure{line: t.Line, msg: fmt.Sprintf("request: %v", err)}
	}
	req.URL, req.RequestURI, req.Header, req.RemoteAddr = u, u.RequestURI(), header, remote
	req.Host = "example.com"
	if h := header.Get("Host"); h != "" {
		req.Host = h
		header.Del("Host")
	}
	return req, nil
}

// signRequest runs t's sign code over the body and headers, with every
// secret the webhook and its authenticator use (as the build resolved them)
// and the test's own.
func (r *testRunner) signRequest(ctx context.Context, tg *testTarget, wh *definitions.Webhook, t *definitions.Test,
	body []byte, header http.Header) (http.Header, *testFailure) {
	secrets := definitions.ResolveSecrets(append(slices.Clone(wh.Secrets), wh.Authenticator.Secrets...), tg.opts)
	for k, v := range t.Secrets {
		secrets[k] = v
	}
	return r.sign.run(ctx, t, body, header, secrets, r.o.Timeout, tg.set.SecretValues())
}

// testContentType is the Content-Type a body is sent with when the test
// does not set one: what its kind says, else what the webhook expects.
func testContentType(kind, webhookType string) string {
	switch {
	case kind == "json":
		return "application/json"
	case kind == "form", webhookType == definitions.ContentForm:
		return "application/x-www-form-urlencoded"
	}
	return "application/json"
}

// serveTest sends req through the pipeline with the test's mocks and clock.
func serveTest(p *pipeline, req *http.Request, t *definitions.Test) *testCall {
	call := &testCall{rec: &recordSlot{}, effects: newMockEffects(t.Mocks)}
	ctx := context.WithValue(req.Context(), recordSlotKey{}, call.rec)
	ctx = lua.WithEffects(ctx, call.effects)
	if !t.Now.IsZero() {
		ctx = lua.WithClock(ctx, t.Now)
	}
	rw := httptest.NewRecorder()
	p.ServeHTTP(rw, req.WithContext(ctx))
	call.status, call.body = rw.Code, rw.Body.Bytes()
	return call
}
