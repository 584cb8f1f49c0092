package daemon

// End-to-end tests of the recipes in examples/: every provider's signature
// scheme over real HTTP, against a daemon serving examples/webhooks exactly
// as `make run` does. Signatures are computed here, independently, with
// crypto/hmac (and GitHub's published test vector where one exists).

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"towerhook/definitions"
)

const (
	examplesDir     = "../examples/webhooks"
	examplesRunAs   = "../examples/run-as"
	examplesSecrets = "../examples/secrets"
	// githubVectorKey and friends are GitHub's published test vector
	// (docs.github.com, "Validating webhook deliveries").
	githubVectorKey  = "It's a Secret to Everybody"
	githubVectorBody = "Hello, World!"
	githubVectorSig  = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

// exampleWebhooks lists every webhook reference in examples/webhooks; each
// has cases below. TestExamplesLoad fails when a new example has no test.
var exampleWebhooks = []string{
	"bitbucket_events", "gitea_events", "github_deploy", "github_events", "github_notify_chat",
	"gitlab_events", "hello", "job_report", "monitoring_heartbeat",
	"release_notify", "shopify_events", "slack_command", "slack_events",
	"standard_webhooks_events", "stripe_events",
}

// exampleSecret reads one secret of examples/secrets as the daemon does.
func exampleSecret(t testing.TB, ref string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesSecrets, ref))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// exampleSecretsDir copies examples/secrets into a temporary directory and
// applies overrides (ref -> value).
func exampleSecretsDir(t testing.TB, overrides map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(examplesSecrets)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(examplesSecrets, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for ref, v := range overrides {
		if err := os.WriteFile(filepath.Join(dir, ref), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func hmacSum(h func() hash.Hash, key, msg string) []byte {
	m := hmac.New(h, []byte(key))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func hmacHex(h func() hash.Hash, key, msg string) string {
	return hex.EncodeToString(hmacSum(h, key, msg))
}

func hmacB64(h func() hash.Hash, key, msg string) string {
	return base64.StdEncoding.EncodeToString(hmacSum(h, key, msg))
}

// exampleCase is one request against a served example and what must come back.
type exampleCase struct {
	name    string
	method  string // default POST
	path    string // below the prefix, with query
	body    string
	headers map[string]string
	status  int
	message string // exact {"message"} when not empty
	rawBody string // exact response body when not empty
}

func runExampleCases(t *testing.T, d *testDaemon, cases []exampleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			r := do(t, method, d.pub+DefaultPrefix+tc.path, tc.body, tc.headers)
			if r.Status != tc.status {
				t.Errorf("status = %d, want %d (body %s)", r.Status, tc.status, r.Body)
			}
			if tc.message != "" && fmt.Sprint(r.Message) != tc.message {
				t.Errorf("message = %q, want %q", fmt.Sprint(r.Message), tc.message)
			}
			if tc.rawBody != "" && r.Body != tc.rawBody {
				t.Errorf("body = %q, want %q", r.Body, tc.rawBody)
			}
		})
	}
}

// chatSink is an httptest server standing in for a chat webhook.
type chatSink struct {
	srv  *httptest.Server
	got  chan map[string]any
	hdrs chan http.Header
}

func newChatSink(t *testing.T) *chatSink {
	s := &chatSink{got: make(chan map[string]any, 16), hdrs: make(chan http.Header, 16)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &m)
		s.got <- m
		s.hdrs <- r.Header.Clone()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// TestExamples serves examples/webhooks (with examples/secrets, GitHub's
// secret replaced by its test-vector key and the chat URL pointed at a
// local sink) and runs every recipe's cases.
func TestExamples(t *testing.T) {
	sink := newChatSink(t)
	secrets := exampleSecretsDir(t, map[string]string{
		"github_webhook_secret": githubVectorKey,
		"chat_webhook_url":      sink.srv.URL + "/hooks/chat",
	})
	d := startDaemon(t, nil, func(o *Options) { o.Dir, o.SecretsDir = examplesDir, secrets })

	t.Run("github", func(t *testing.T) { testExampleGitHub(t, d, sink) })
	t.Run("github deploy", func(t *testing.T) { testExampleGitHubDeploy(t, d) })
	t.Run("gitlab", func(t *testing.T) { testExampleGitLab(t, d) })
	t.Run("stripe", func(t *testing.T) { testExampleStripe(t, d) })
	t.Run("slack", func(t *testing.T) { testExampleSlack(t, d) })
	t.Run("shopify", func(t *testing.T) { testExampleShopify(t, d) })
	t.Run("standard_webhooks", func(t *testing.T) { testExampleStandardWebhooks(t, d) })
	t.Run("gitea", func(t *testing.T) { testExampleGitea(t, d) })
	t.Run("bitbucket", func(t *testing.T) { testExampleBitbucket(t, d) })
	t.Run("tokens", func(t *testing.T) { testExampleTokens(t, d) })
	t.Run("ip_allowlist", func(t *testing.T) { testExampleIPAllowlist(t, d) })
	t.Run("call_log", func(t *testing.T) {
		// The README's quick start: the hello call shows up in the call log.
		do(t, "POST", d.pub+DefaultPrefix+"hello", `{"name":"log"}`, map[string]string{
			"X-API-Key": exampleSecret(t, "example_api_key"), "X-Request-Id": "examples-quickstart",
		})
		var page struct {
			Records []map[string]any `json:"records"`
		}
		getJSON(t, d.admin+"/api/v1/logs?webhook=hello&limit=1", &page)
		if len(page.Records) != 1 {
			t.Fatalf("records: %v", page.Records)
		}
		rec := page.Records[0]
		if rec["request_id"] != "examples-quickstart" || rec["authentication_status"] != "success" ||
			rec["result_message"] != "Hello, log!" || rec["authenticator"] != "api_key" {
			t.Errorf("record %v", rec)
		}
		if h, _ := rec["request_headers"].(map[string]any); h == nil || fmt.Sprint(h["X-Api-Key"]) == exampleSecret(t, "example_api_key") {
			t.Errorf("API key not redacted in %v", rec["request_headers"])
		}
	})
}

func testExampleGitHub(t *testing.T, d *testDaemon, sink *chatSink) {
	push := `{"ref":"refs/heads/main","repository":{"full_name":"octo/hello"},"pusher":{"name":"octocat"},"commits":[{"id":"a"},{"id":"b"}]}`
	sig256 := func(key, body string) string { return "sha256=" + hmacHex(sha256.New, key, body) }
	sig1 := func(key, body string) string { return "sha1=" + hmacHex(sha1.New, key, body) }
	if got := sig256(githubVectorKey, githubVectorBody); got != githubVectorSig {
		t.Fatalf("Go HMAC disagrees with GitHub's vector: %s", got)
	}
	runExampleCases(t, d, []exampleCase{
		{name: "published vector", path: "github/events", body: githubVectorBody,
			headers: map[string]string{"X-Hub-Signature-256": githubVectorSig, "X-GitHub-Event": "issues"},
			status:  200, message: "issues event for unknown repository"},
		{name: "vector tampered body", path: "github/events", body: "Hello, World?",
			headers: map[string]string{"X-Hub-Signature-256": githubVectorSig},
			status:  401, message: "Invalid GitHub signature"},
		{name: "push", path: "github/events", body: push,
			headers: map[string]string{"X-Hub-Signature-256": sig256(githubVectorKey, push), "X-GitHub-Event": "push"},
			status:  200, message: "push to octo/hello refs/heads/main by octocat: 2 commit(s)"},
		{name: "ping", path: "github/events", body: `{"zen":"Keep it logically awesome.","repository":{"full_name":"octo/hello"}}`,
			headers: map[string]string{"X-Hub-Signature-256": sig256(githubVectorKey, `{"zen":"Keep it logically awesome.","repository":{"full_name":"octo/hello"}}`), "X-GitHub-Event": "ping"},
			status:  200, message: "pong from octo/hello: Keep it logically awesome."},
		{name: "lower-case header name", path: "github/events", body: push,
			headers: map[string]string{"x-hub-signature-256": sig256(githubVectorKey, push), "x-github-event": "push"},
			status:  200, message: "push to octo/hello refs/heads/main by octocat: 2 commit(s)"},
		{name: "legacy sha1", path: "github/events", body: push,
			headers: map[string]string{"X-Hub-Signature": sig1(githubVectorKey, push), "X-GitHub-Event": "push"},
			status:  200},
		{name: "legacy sha1 tampered", path: "github/events", body: push + " ",
			headers: map[string]string{"X-Hub-Signature": sig1(githubVectorKey, push)},
			status:  401},
		{name: "bad sha256 is not rescued by sha1", path: "github/events", body: push,
			headers: map[string]string{"X-Hub-Signature-256": sig256("wrong", push), "X-Hub-Signature": sig1(githubVectorKey, push)},
			status:  401},
		{name: "wrong secret", path: "github/events", body: push,
			headers: map[string]string{"X-Hub-Signature-256": sig256("not the secret", push)},
			status:  401, message: "Invalid GitHub signature"},
		{name: "no signature", path: "github/events", body: push, status: 401},
		{name: "notify wrong secret", path: "github/notify", body: push,
			headers: map[string]string{"X-Hub-Signature-256": sig256("nope", push)}, status: 401},
	})
	t.Run("notify forwards a summary", func(t *testing.T) {
		r := do(t, "POST", d.pub+DefaultPrefix+"github/notify", push, map[string]string{
			"X-Hub-Signature-256": sig256(githubVectorKey, push), "X-Request-Id": "notify-1",
		})
		want := "octo/hello: 2 new commit(s) on refs/heads/main"
		if r.Status != 200 || r.Message != "forwarded: "+want {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		select {
		case m := <-sink.got:
			if m["text"] != want {
				t.Errorf("sink got %v", m)
			}
			if h := <-sink.hdrs; h.Get("X-Request-Id") != "notify-1" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Errorf("sink headers %v", h)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("nothing forwarded")
		}
	})
	t.Run("notify with the example URL fails harmlessly", func(t *testing.T) {
		// examples/secrets points at the discard port: 502, nothing sent.
		var out, errb bytes.Buffer
		code := Call(context.Background(), CallOptions{
			Dir: examplesDir, Endpoint: "github/notify", SecretsDir: examplesSecrets, Method: "POST", Data: push,
			Headers: []string{"X-Hub-Signature-256: " + sig256(exampleSecret(t, "github_webhook_secret"), push)},
		}, &out, &errb)
		if code != 1 || !strings.Contains(out.String(), "HTTP 502") || !strings.Contains(out.String(), "forwarding failed") {
			t.Errorf("exit %d, output %s", code, out.String())
		}
	})
}

func testExampleGitLab(t *testing.T, d *testDaemon) {
	token := exampleSecret(t, "gitlab_webhook_token")
	push := `{"object_kind":"push","ref":"refs/heads/main","user_username":"jsmith","project":{"path_with_namespace":"group/app"}}`
	pipeline := `{"object_kind":"pipeline","object_attributes":{"status":"failed"},"project":{"path_with_namespace":"group/app"}}`
	// GitLab sends a token, not a signature: the body is not covered, so
	// there is no tampered-body case.
	runExampleCases(t, d, []exampleCase{
		{name: "push", path: "gitlab/events", body: push,
			headers: map[string]string{"X-Gitlab-Token": token, "X-Gitlab-Event": "Push Hook"},
			status:  200, message: "Push Hook to group/app refs/heads/main by jsmith"},
		{name: "pipeline", path: "gitlab/events", body: pipeline,
			headers: map[string]string{"X-Gitlab-Token": token, "X-Gitlab-Event": "Pipeline Hook"},
			status:  200, message: "pipeline failed on group/app"},
		{name: "wrong token", path: "gitlab/events", body: push,
			headers: map[string]string{"X-Gitlab-Token": token + "x"}, status: 401, message: "Invalid GitLab token"},
		{name: "token prefix only", path: "gitlab/events", body: push,
			headers: map[string]string{"X-Gitlab-Token": token[:5]}, status: 401},
		{name: "no token", path: "gitlab/events", body: push, status: 401},
	})
}

func stripeHeader(key string, ts int64, body string, extra ...string) string {
	parts := []string{"t=" + strconv.FormatInt(ts, 10)}
	parts = append(parts, extra...)
	parts = append(parts, "v1="+hmacHex(sha256.New, key, strconv.FormatInt(ts, 10)+"."+body))
	return strings.Join(parts, ",")
}

func testExampleStripe(t *testing.T, d *testDaemon) {
	key := exampleSecret(t, "stripe_signing_secret")
	now := time.Now().Unix()
	body := `{"id":"evt_1","type":"payment_intent.succeeded","livemode":false,"data":{"object":{"id":"pi_1","amount":2000,"currency":"eur"}}}`
	ok := "payment_intent.succeeded evt_1 (livemode false)"
	runExampleCases(t, d, []exampleCase{
		{name: "valid", path: "stripe/events", body: body,
			headers: map[string]string{"Stripe-Signature": stripeHeader(key, now, body)}, status: 200, message: ok},
		{name: "several v1 during a secret roll", path: "stripe/events", body: body,
			headers: map[string]string{"Stripe-Signature": stripeHeader(key, now, body, "v1="+strings.Repeat("0", 64), "v0=abc")},
			status:  200, message: ok},
		{name: "tampered body", path: "stripe/events", body: strings.Replace(body, "2000", "1", 1),
			headers: map[string]string{"Stripe-Signature": stripeHeader(key, now, body)}, status: 401, message: "Invalid Stripe signature"},
		{name: "wrong secret", path: "stripe/events", body: body,
			headers: map[string]string{"Stripe-Signature": stripeHeader("whsec_wrong", now, body)}, status: 401},
		{name: "stale timestamp", path: "stripe/events", body: body,
			headers: map[string]string{"Stripe-Signature": stripeHeader(key, now-400, body)},
			status:  401, message: "Stripe timestamp outside the tolerance"},
		{name: "future timestamp", path: "stripe/events", body: body,
			headers: map[string]string{"Stripe-Signature": stripeHeader(key, now+400, body)}, status: 401},
		{name: "timestamp swapped", path: "stripe/events", body: body,
			headers: map[string]string{"Stripe-Signature": strings.Replace(stripeHeader(key, now, body), "t="+strconv.FormatInt(now, 10), "t="+strconv.FormatInt(now-1, 10), 1)},
			status:  401},
		{name: "only v0", path: "stripe/events", body: body,
			headers: map[string]string{"Stripe-Signature": "t=" + strconv.FormatInt(now, 10) + ",v0=" + hmacHex(sha256.New, key, strconv.FormatInt(now, 10)+"."+body)},
			status:  401},
		{name: "no header", path: "stripe/events", body: body, status: 400},
	})
}

func slackHeaders(key string, ts int64, body string, form bool) map[string]string {
	s := strconv.FormatInt(ts, 10)
	h := map[string]string{
		"X-Slack-Request-Timestamp": s,
		"X-Slack-Signature":         "v0=" + hmacHex(sha256.New, key, "v0:"+s+":"+body),
	}
	if form {
		h["Content-Type"] = "application/x-www-form-urlencoded"
	}
	return h
}

func testExampleSlack(t *testing.T, d *testDaemon) {
	key := exampleSecret(t, "slack_signing_secret")
	now := time.Now().Unix()
	challenge := `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
	event := `{"type":"event_callback","team_id":"T123","event":{"type":"app_mention","text":"hi"}}`
	command := "token=x&team_id=T123&command=%2Fdeploy&text=app+v1.2&user_name=alice&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1"
	t.Run("url_verification answers the challenge", func(t *testing.T) {
		r := do(t, "POST", d.pub+DefaultPrefix+"slack/events", challenge, slackHeaders(key, now, challenge, false))
		if r.Status != 200 || r.Body != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("%d %q %v", r.Status, r.Body, r.Header)
		}
	})
	t.Run("slash command form body", func(t *testing.T) {
		r := do(t, "POST", d.pub+DefaultPrefix+"slack/command", command, slackHeaders(key, now, command, true))
		var m map[string]any
		if r.Status != 200 || json.Unmarshal([]byte(r.Body), &m) != nil ||
			m["text"] != "/deploy app v1.2 requested by alice" || m["response_type"] != "ephemeral" {
			t.Errorf("%d %q", r.Status, r.Body)
		}
	})
	runExampleCases(t, d, []exampleCase{
		{name: "event", path: "slack/events", body: event, headers: slackHeaders(key, now, event, false),
			status: 200, message: "app_mention event in team T123"},
		{name: "tampered body", path: "slack/events", body: strings.Replace(event, "T123", "T999", 1),
			headers: slackHeaders(key, now, event, false), status: 401, message: "Invalid Slack signature"},
		{name: "tampered form", path: "slack/command", body: strings.Replace(command, "alice", "mallory", 1),
			headers: slackHeaders(key, now, command, true), status: 401},
		{name: "wrong secret", path: "slack/events", body: event, headers: slackHeaders("wrong", now, event, false), status: 401},
		{name: "stale timestamp", path: "slack/events", body: event, headers: slackHeaders(key, now-301-60, event, false),
			status: 401, message: "Slack timestamp missing or too old"},
		{name: "no timestamp", path: "slack/command", body: command,
			headers: map[string]string{"X-Slack-Signature": slackHeaders(key, now, command, true)["X-Slack-Signature"]}, status: 401},
	})
}

func testExampleShopify(t *testing.T, d *testDaemon) {
	key := exampleSecret(t, "shopify_api_secret")
	body := `{"id":820982911946154500,"name":"#1001","total_price":"10.00","currency":"EUR"}`
	hdr := func(sig string) map[string]string {
		return map[string]string{"X-Shopify-Hmac-Sha256": sig, "X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": "example.myshopify.com"}
	}
	runExampleCases(t, d, []exampleCase{
		{name: "order created", path: "shopify/events", body: body, headers: hdr(hmacB64(sha256.New, key, body)),
			status: 200, message: "order #1001 on example.myshopify.com: 10.00 EUR"},
		{name: "other topic", path: "shopify/events", body: `{}`,
			headers: map[string]string{"X-Shopify-Hmac-Sha256": hmacB64(sha256.New, key, `{}`), "X-Shopify-Topic": "app/uninstalled", "X-Shopify-Shop-Domain": "example.myshopify.com"},
			status:  200, message: "app/uninstalled from example.myshopify.com"},
		{name: "hex instead of base64", path: "shopify/events", body: body, headers: hdr(hmacHex(sha256.New, key, body)), status: 401},
		{name: "tampered body", path: "shopify/events", body: strings.Replace(body, "10.00", "0.01", 1),
			headers: hdr(hmacB64(sha256.New, key, body)), status: 401, message: "Invalid Shopify HMAC"},
		{name: "wrong secret", path: "shopify/events", body: body, headers: hdr(hmacB64(sha256.New, "wrong", body)), status: 401},
		{name: "no header", path: "shopify/events", body: body, status: 401},
	})
}

// standardSign signs as the Standard Webhooks reference libraries do.
func standardSign(secret, id string, ts int64, body string) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	return "v1," + hmacB64(sha256.New, string(key), id+"."+strconv.FormatInt(ts, 10)+"."+body)
}

func testExampleStandardWebhooks(t *testing.T, d *testDaemon) {
	// The reference implementation's test vector checks the Go signer.
	if got := standardSign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, `{"test": 2432232314}`); got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("Go signer disagrees with the Standard Webhooks vector: %s", got)
	}
	secret := exampleSecret(t, "standard_webhooks_secret")
	now := time.Now().Unix()
	body := `{"type":"user.created","data":{"id":"user_1"}}`
	hdr := func(id string, ts int64, sig string) map[string]string {
		return map[string]string{"webhook-id": id, "webhook-timestamp": strconv.FormatInt(ts, 10), "webhook-signature": sig}
	}
	good := standardSign(secret, "msg_1", now, body)
	runExampleCases(t, d, []exampleCase{
		{name: "valid", path: "standard-webhooks/events", body: body, headers: hdr("msg_1", now, good),
			status: 200, message: "user.created (msg_1)"},
		{name: "several signatures", path: "standard-webhooks/events", body: body,
			headers: hdr("msg_1", now, standardSign("whsec_"+base64.StdEncoding.EncodeToString([]byte("old key")), "msg_1", now, body)+" "+good+" v1a,xyz"),
			status:  200},
		{name: "svix header names", path: "standard-webhooks/events", body: body,
			headers: map[string]string{"svix-id": "msg_1", "svix-timestamp": strconv.FormatInt(now, 10), "svix-signature": good},
			status:  200, message: "user.created (msg_1)"},
		{name: "tampered body", path: "standard-webhooks/events", body: strings.Replace(body, "user_1", "user_2", 1),
			headers: hdr("msg_1", now, good), status: 401, message: "Invalid webhook signature"},
		{name: "id swapped", path: "standard-webhooks/events", body: body, headers: hdr("msg_2", now, good), status: 401},
		{name: "wrong secret", path: "standard-webhooks/events", body: body,
			headers: hdr("msg_1", now, standardSign("whsec_"+base64.StdEncoding.EncodeToString([]byte("wrong")), "msg_1", now, body)), status: 401},
		{name: "stale timestamp", path: "standard-webhooks/events", body: body,
			headers: hdr("msg_1", now-600, standardSign(secret, "msg_1", now-600, body)), status: 401},
		{name: "no id", path: "standard-webhooks/events", body: body,
			headers: map[string]string{"webhook-timestamp": strconv.FormatInt(now, 10), "webhook-signature": good}, status: 401},
	})
}

func testExampleGitea(t *testing.T, d *testDaemon) {
	key := exampleSecret(t, "gitea_webhook_secret")
	body := `{"ref":"refs/heads/main","repository":{"full_name":"org/repo"}}`
	sig := hmacHex(sha256.New, key, body)
	runExampleCases(t, d, []exampleCase{
		{name: "gitea", path: "gitea/events", body: body,
			headers: map[string]string{"X-Gitea-Signature": sig, "X-Gitea-Event": "push"},
			status:  200, message: "push on org/repo (ref refs/heads/main)"},
		{name: "forgejo", path: "gitea/events", body: body,
			headers: map[string]string{"X-Forgejo-Signature": sig, "X-Forgejo-Event": "push"},
			status:  200, message: "push on org/repo (ref refs/heads/main)"},
		{name: "upper-case hex", path: "gitea/events", body: body,
			headers: map[string]string{"X-Gitea-Signature": strings.ToUpper(sig)}, status: 200},
		{name: "sha256= prefix is not Gitea's format", path: "gitea/events", body: body,
			headers: map[string]string{"X-Gitea-Signature": "sha256=" + sig}, status: 401},
		{name: "tampered body", path: "gitea/events", body: body + "\n",
			headers: map[string]string{"X-Gitea-Signature": sig}, status: 401, message: "Invalid Gitea signature"},
		{name: "wrong secret", path: "gitea/events", body: body,
			headers: map[string]string{"X-Gitea-Signature": hmacHex(sha256.New, "wrong", body)}, status: 401},
	})
}

func testExampleBitbucket(t *testing.T, d *testDaemon) {
	key := exampleSecret(t, "bitbucket_webhook_secret")
	body := `{"repository":{"full_name":"team/repo"},"push":{"changes":[]}}`
	sig := "sha256=" + hmacHex(sha256.New, key, body)
	runExampleCases(t, d, []exampleCase{
		{name: "push", path: "bitbucket/events", body: body,
			headers: map[string]string{"X-Hub-Signature": sig, "X-Event-Key": "repo:push"},
			status:  200, message: "repo:push on team/repo"},
		{name: "bare hex", path: "bitbucket/events", body: body,
			headers: map[string]string{"X-Hub-Signature": strings.TrimPrefix(sig, "sha256=")}, status: 401},
		{name: "tampered body", path: "bitbucket/events", body: strings.Replace(body, "team", "evil", 1),
			headers: map[string]string{"X-Hub-Signature": sig}, status: 401, message: "Invalid Bitbucket signature"},
		{name: "wrong secret", path: "bitbucket/events", body: body,
			headers: map[string]string{"X-Hub-Signature": "sha256=" + hmacHex(sha256.New, "wrong", body)}, status: 401},
	})
}

func testExampleTokens(t *testing.T, d *testDaemon) {
	apiKey := exampleSecret(t, "example_api_key")
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	user, pass := exampleSecret(t, "basic_auth_user"), exampleSecret(t, "basic_auth_password")
	bearer := "Bearer " + exampleSecret(t, "example_bearer_token")
	// Shared secrets do not sign the body: no tampered-body cases.
	runExampleCases(t, d, []exampleCase{
		{name: "api key", path: "hello", body: `{"name":"towerhook"}`,
			headers: map[string]string{"X-API-Key": apiKey}, status: 200, message: "Hello, towerhook!"},
		{name: "api key no body", path: "hello", headers: map[string]string{"x-api-key": apiKey}, status: 200, message: "Hello, world!"},
		{name: "api key wrong", path: "hello", body: `{}`, headers: map[string]string{"X-API-Key": apiKey + "1"}, status: 401, message: "Invalid API key"},
		{name: "api key missing", path: "hello", body: `{}`, status: 401},
		{name: "basic ok", path: "jobs/report", body: `{"job":"backup","status":"ok"}`,
			headers: map[string]string{"Authorization": basic(user, pass)}, status: 200, message: "job backup recorded"},
		{name: "basic job failed", path: "jobs/report", body: `{"job":"backup","status":"failed"}`,
			headers: map[string]string{"Authorization": basic(user, pass)}, status: 202, message: "job backup failure recorded"},
		{name: "basic wrong password", path: "jobs/report", body: `{}`,
			headers: map[string]string{"Authorization": basic(user, "nope")}, status: 401, message: "Invalid credentials"},
		{name: "basic wrong user", path: "jobs/report", body: `{}`,
			headers: map[string]string{"Authorization": basic("root", pass)}, status: 401},
		{name: "basic garbage", path: "jobs/report", body: `{}`,
			headers: map[string]string{"Authorization": "Basic %%%"}, status: 401},
		{name: "basic bad base64", path: "jobs/report", body: `{}`,
			headers: map[string]string{"Authorization": "Basic abc"}, status: 401},
		{name: "bearer ok", path: "releases/notify", body: `{"version":"v1.2.3"}`,
			headers: map[string]string{"Authorization": bearer}, status: 200},
		{name: "bearer bad version", path: "releases/notify", body: `{"version":"latest"}`,
			headers: map[string]string{"Authorization": bearer}, status: 400, message: "payload.version must be a semantic version"},
		{name: "bearer wrong", path: "releases/notify", body: `{"version":"v1.2.3"}`,
			headers: map[string]string{"Authorization": bearer + "x"}, status: 401, message: "Invalid bearer token"},
		{name: "bearer as basic", path: "releases/notify", body: `{}`,
			headers: map[string]string{"Authorization": basic(user, pass)}, status: 401},
	})
}

func testExampleIPAllowlist(t *testing.T, d *testDaemon) {
	// The test connects from 127.0.0.1, the trusted reverse proxy.
	runExampleCases(t, d, []exampleCase{
		{name: "allowed v4 via proxy", method: "GET", path: "monitoring/heartbeat?check=disk",
			headers: map[string]string{"X-Forwarded-For": "192.0.2.10"}, status: 200, message: "heartbeat disk from 192.0.2.10"},
		{name: "allowed v6 via proxy", method: "GET", path: "monitoring/heartbeat?check=ntp",
			headers: map[string]string{"X-Forwarded-For": "2001:db8::7"}, status: 200, message: "heartbeat ntp from 2001:db8::7"},
		{name: "chain of trusted proxies", method: "GET", path: "monitoring/heartbeat?check=disk",
			headers: map[string]string{"X-Forwarded-For": "192.0.2.10, 127.0.0.1"}, status: 200, message: "heartbeat disk from 192.0.2.10"},
		{name: "outside the allowlist", method: "GET", path: "monitoring/heartbeat",
			headers: map[string]string{"X-Forwarded-For": "203.0.113.9"}, status: 403, message: "Address not allowed"},
		{name: "forged left-most entry", method: "GET", path: "monitoring/heartbeat",
			headers: map[string]string{"X-Forwarded-For": "192.0.2.10, 203.0.113.9"}, status: 403, message: "Address not allowed"},
		{name: "proxy itself", method: "GET", path: "monitoring/heartbeat", status: 403, message: "Address not allowed"},
		{name: "POST is another route", path: "monitoring/heartbeat",
			headers: map[string]string{"X-Forwarded-For": "192.0.2.10"}, status: 404, message: "Webhook not found"},
	})
}

// exampleYAMLFiles lists the definition files (*.yaml / *.yml, not tests)
// below dir, relative.
func exampleYAMLFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) && !definitions.IsTestFile(p) {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// TestExamplesLoad checks what `make test` and `make run` rely on: the
// examples validate with examples/secrets, every file is loaded, and every
// webhook has end-to-end cases in this file.
func TestExamplesLoad(t *testing.T) {
	for _, dir := range []string{examplesDir, examplesRunAs} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Validate(ValidateOptions{Dir: dir, SecretsDir: examplesSecrets}, &out, &errb); code != 0 {
				t.Fatalf("validate %s: exit %d\n%s%s", dir, code, out.String(), errb.String())
			}
			if !strings.HasPrefix(out.String(), "OK: ") {
				t.Errorf("validate output %q", out.String())
			}
			// Without secrets (as in CI), it still validates and lists them.
			out.Reset()
			errb.Reset()
			if code := Validate(ValidateOptions{Dir: dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), "secrets needed") {
				t.Errorf("validate without secrets: exit %d\n%s%s", code, out.String(), errb.String())
			}
			set, err := definitions.LoadDir(dir, definitions.Options{SecretsDir: examplesSecrets})
			if err != nil {
				t.Fatal(err)
			}
			if want := exampleYAMLFiles(t, dir); !slices.Equal(set.Files(), want) {
				t.Errorf("loaded files %v, want %v", set.Files(), want)
			}
			if dir != examplesDir {
				return
			}
			var refs []string
			for _, w := range set.Webhooks() {
				if !w.Active || w.RunAs != "" {
					t.Errorf("%s: served examples must be enabled and load as any user", w.Reference)
				}
				refs = append(refs, w.Reference)
			}
			if !slices.Equal(refs, exampleWebhooks) {
				t.Errorf("webhooks %v; tested: %v", refs, exampleWebhooks)
			}
			// Every secret the examples use has a file in examples/secrets.
			for _, a := range set.Authenticators() {
				for _, s := range a.Secrets {
					if _, err := os.Stat(filepath.Join(examplesSecrets, s)); err != nil {
						t.Errorf("authenticator %s: secret %s: %v", a.Reference, s, err)
					}
				}
			}
		})
	}
	t.Run("secrets are obviously fake", func(t *testing.T) {
		entries, err := os.ReadDir(examplesSecrets)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			v := exampleSecret(t, e.Name())
			if dec, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, "whsec_")); err == nil && strings.HasPrefix(v, "whsec_") {
				v = string(dec)
			}
			if !strings.Contains(v, "example") && !strings.HasPrefix(v, "http://127.0.0.1:") {
				t.Errorf("%s: value does not say it is an example", e.Name())
			}
		}
	})
}

// TestExampleRunAsDeploy serves examples/run-as (run_as: nobody). Only root
// may switch users, so it is skipped otherwise (CI runs as root).
func TestExampleRunAsDeploy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("run_as needs root")
	}
	d := startDaemon(t, nil, func(o *Options) { o.Dir, o.SecretsDir = examplesRunAs, examplesSecrets })
	bearer := "Bearer " + exampleSecret(t, "deploy_token")
	runExampleCases(t, d, []exampleCase{
		{name: "deploy", path: "deploy/app", body: `{"ref":"refs/heads/main"}`,
			headers: map[string]string{"Authorization": bearer}, status: 200, message: "deploying refs/heads/main"},
		{name: "default ref", path: "deploy/app", headers: map[string]string{"Authorization": bearer},
			status: 200, message: "deploying refs/heads/main"},
		{name: "bad ref", path: "deploy/app", body: `{"ref":"--help"}`,
			headers: map[string]string{"Authorization": bearer}, status: 400, message: "invalid ref"},
		{name: "wrong token", path: "deploy/app", body: `{}`,
			headers: map[string]string{"Authorization": bearer + "x"}, status: 401, message: "Invalid deploy token"},
	})
	var page struct {
		Records []map[string]any `json:"records"`
	}
	getJSON(t, d.admin+"/api/v1/logs?webhook=deploy_app&status=success&limit=1", &page)
	if len(page.Records) != 1 || page.Records[0]["run_as"] != "nobody" {
		t.Errorf("call log: %v", page.Records)
	}
}

// TestExamplesDeployFiles checks that the deployment examples are valid YAML
// (multi-document where kubectl-style) and that the definitions embedded in
// the ConfigMap variant load.
func TestExamplesDeployFiles(t *testing.T) {
	files := exampleYAMLFiles(t, "../examples/deploy")
	if len(files) == 0 {
		t.Fatal("no deploy files")
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("../examples/deploy", f))
			if err != nil {
				t.Fatal(err)
			}
			dec := yaml.NewDecoder(bytes.NewReader(b))
			docs := 0
			for {
				var doc map[string]any
				err := dec.Decode(&doc)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("document %d: %v", docs+1, err)
				}
				if doc == nil {
					continue
				}
				docs++
				if doc["kind"] != "ConfigMap" {
					continue
				}
				data, _ := doc["data"].(map[string]any)
				dir := t.TempDir()
				for name, v := range data {
					writeFiles(t, dir, map[string]string{name: fmt.Sprint(v)})
				}
				var out, errb bytes.Buffer
				if code := Validate(ValidateOptions{Dir: dir, SecretsDir: examplesSecrets}, &out, &errb); code != 0 {
					t.Errorf("ConfigMap definitions: exit %d\n%s", code, errb.String())
				}
			}
			if docs == 0 {
				t.Error("no YAML documents")
			}
		})
	}
}
