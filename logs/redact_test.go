package logs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRedactHeaders(t *testing.T) {
	tests := []struct {
		name    string
		h       http.Header
		secrets []string
		want    map[string]string
	}{
		{"credentials", http.Header{
			"Authorization": {"Bearer abc"}, "Proxy-Authorization": {"Basic x"}, "Cookie": {"a=b", "c=d"},
			"Set-Cookie": {"s=1"}, "X-Api-Key": {"k"}, "X-Auth-Token": {"t"},
			"X-Gitlab-Token": {"old-token"}, "Private-Token": {"p"},
		}, nil, map[string]string{
			"Authorization": Redacted, "Proxy-Authorization": Redacted, "Cookie": Redacted,
			"Set-Cookie": Redacted, "X-Api-Key": Redacted, "X-Auth-Token": Redacted,
			"X-Gitlab-Token": Redacted, "Private-Token": Redacted,
		}},
		{"signatures kept, repeated joined", http.Header{
			"X-Hub-Signature-256": {"sha256=ab"}, "Accept": {"a", "b"},
		}, nil, map[string]string{"X-Hub-Signature-256": "sha256=ab", "Accept": "a, b"}},
		{"secret values", http.Header{
			"X-Token": {"prefix-s3cr3t-suffix"}, "X-Other": {"fine"}, "X-Empty-Secret": {"v"},
		}, []string{"s3cr3t", ""}, map[string]string{"X-Token": Redacted, "X-Other": "fine", "X-Empty-Secret": "v"}},
		{"non-canonical names", http.Header{
			"authorization": {"x"}, "x-thing": {"1"}, "X-Thing": {"2"},
		}, nil, map[string]string{"Authorization": Redacted, "X-Thing": "?"}},
		{"nil", nil, nil, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactHeaders(tt.h, tt.secrets)
			if tt.want["X-Thing"] == "?" { // map order decides the join order
				if v := got["X-Thing"]; v != "1, 2" && v != "2, 1" {
					t.Fatalf("X-Thing = %q", v)
				}
				got["X-Thing"] = "?"
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestRedactPayload(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"no secret", []string{"s3cr3t"}, `{"a":"b"}`, `{"a":"b"}`},
		{"json string", []string{"s3cr3t"}, `{"token":"s3cr3t","x":"pre-s3cr3t-post"}`, `{"token":"*****","x":"pre-*****-post"}`},
		{"form as json", []string{"a<b&c"}, `{"k":"a\u003cb\u0026c"}`, `{"k":"*****"}`},
		{"quotes and backslash escaped", []string{`p"w\z`}, `{"k":"p\"w\\z"}`, `{"k":"*****"}`},
		{"html not escaped", []string{"a<b"}, `{"k":"a<b"}`, `{"k":"*****"}`},
		{"slash escaped (PHP)", []string{"https://hooks.example/T0/B1"}, `{"url":"https:\/\/hooks.example\/T0\/B1"}`, `{"url":"*****"}`},
		{"non-ASCII escaped (Python)", []string{"pässwörd😀"}, `{"p":"p\u00e4ssw\u00f6rd\ud83d\ude00"}`, `{"p":"*****"}`},
		{"non-ASCII raw", []string{"pässwörd"}, `{"p":"pässwörd"}`, `{"p":"*****"}`},
		{"number outside a string", []string{"123456"}, `{"pin":123456}`, `{"pin":*****}`},
		{"several secrets, empty ignored", []string{"", "one", "two"}, `["one","two","three"]`, `["*****","*****","three"]`},
		{"python ensure_ascii, upper-case hex", []string{`s3c/r"<&>é`}, `{"py":"s3c/r\"<&>\u00e9","up":"s3c/r\"\u003C\u0026\u003E\u00E9"}`, `{"py":"*****","up":"*****"}`},
		{"php json_encode", []string{"pa/ss&wd"}, `{"a":"pa\/ss&wd"}`, `{"a":"*****"}`},
		{"php, secret inside a longer escaped value", []string{"pa/ss"}, `{"a":"x \"pa\/ss\" y","b":"keep \/ me"}`, `{"a":"x \"*****\" y","b":"keep \/ me"}`},
		{"escaped key", []string{"k/ey"}, `{"k\/ey":1}`, `{"*****":1}`},
		{"not json: raw text still masked", []string{"tok"}, `a=tok&b=\x`, `a=*****&b=\x`},
		{"query or form secret in a longer value", []string{"tok"}, `{"text":"a tok b"}`, `{"text":"a ***** b"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactPayload(json.RawMessage(tt.in), NewPayloadSecrets(tt.secrets))
			if string(got) != tt.want {
				t.Fatalf("got %s\nwant %s", got, tt.want)
			}
		})
	}
	// Nothing to redact: the same bytes, not a copy.
	in := json.RawMessage(`{"a":"b"}`)
	if got := RedactPayload(in, NewPayloadSecrets([]string{"zzz"})); &got[0] != &in[0] {
		t.Fatal("RedactPayload copied a payload without secrets")
	}
}

// FuzzRedactPayload: after RedactPayload no string of a valid JSON payload
// holds the secret, however it was escaped, and a payload without the
// secret comes back unchanged. Like every real JSON encoder, the payloads
// do not \u-escape ASCII letters and digits (RedactPayload relies on it to
// skip payloads quickly).
func FuzzRedactPayload(f *testing.F) {
	f.Add(`{"a":"pa\/ss&wd","b":"x"}`, "pa/ss&wd")
	f.Add(`{"py":"s3c/r\"<&>\u00e9"}`, `s3c/r"<&>é`)
	f.Add(`["one","two"]`, "two")
	f.Fuzz(func(t *testing.T, payload, secret string) {
		if secret == "" || strings.Contains(secret, "*") || !json.Valid([]byte(payload)) ||
			!utf8.ValidString(secret) || !utf8.ValidString(payload) || escapesAlnum(payload) {
			return
		}
		out := RedactPayload(json.RawMessage(payload), NewPayloadSecrets([]string{secret}))
		var v any
		if json.Unmarshal(out, &v) != nil {
			return // masked raw text outside a string: stored as a string, checked below
		}
		var walk func(any)
		walk = func(x any) {
			switch x := x.(type) {
			case string:
				if strings.Contains(x, secret) {
					t.Fatalf("secret %q left in %q (payload %s -> %s)", secret, x, payload, out)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case map[string]any:
				for k, e := range x {
					walk(k)
					walk(e)
				}
			}
		}
		walk(v)
		if !strings.Contains(string(out), secret) && !bytes.Contains(out, []byte(Redacted)) && string(out) != payload {
			t.Fatalf("payload changed without a secret: %s -> %s", payload, out)
		}
	})
}

// escapesAlnum reports whether p holds a \u escape of an ASCII letter or
// digit.
func escapesAlnum(p string) bool {
	for i := strings.Index(p, `\u00`); i >= 0 && i+6 <= len(p); {
		var c byte
		if _, err := fmt.Sscanf(p[i+4:i+6], "%02x", &c); err == nil &&
			(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return true
		}
		j := strings.Index(p[i+1:], `\u00`)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}
