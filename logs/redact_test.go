package logs

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
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
