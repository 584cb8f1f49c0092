package logs

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// Redacted replaces a credential or secret in stored headers.
const Redacted = "*****"

// credentialHeaders are always redacted (canonical form). Signature headers
// (X-Hub-Signature-256, Stripe-Signature, ...) are kept: they are useless
// without the secret and help debugging authenticators.
var credentialHeaders = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
	"Set-Cookie":          true,
	"X-Api-Key":           true,
	"X-Auth-Token":        true,
	"X-Gitlab-Token":      true, // GitLab's webhook secret, sent in plain text
	"Private-Token":       true, // GitLab's API token
}

// IsCredentialHeader reports whether the header name is one that is always
// redacted (case-insensitive).
func IsCredentialHeader(name string) bool {
	return credentialHeaders[http.CanonicalHeaderKey(name)]
}

// RedactHeaders flattens h (repeated values joined with ", ") with credentials
// and any value containing a secret replaced by "*****". Names are
// canonicalised; empty secrets are ignored.
func RedactHeaders(h http.Header, secrets []string) map[string]string {
	out := make(map[string]string, len(h))
	for name, vals := range h {
		name = http.CanonicalHeaderKey(name)
		v := strings.Join(vals, ", ")
		if credentialHeaders[name] || containsSecret(v, secrets) {
			v = Redacted
		}
		if prev, ok := out[name]; ok { // two keys that canonicalise alike
			if prev == Redacted || v == Redacted {
				v = Redacted
			} else {
				v = prev + ", " + v
			}
		}
		out[name] = v
	}
	return out
}

func containsSecret(v string, secrets []string) bool {
	for _, s := range secrets {
		if s != "" && strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// redactCredentialMap returns m with credential headers redacted, copying
// only when something must change (a safety net for callers that did not
// use RedactHeaders).
func redactCredentialMap(m map[string]string) map[string]string {
	var out map[string]string
	for k, v := range m {
		if v == Redacted || !IsCredentialHeader(k) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(m))
			for k2, v2 := range m {
				out[k2] = v2
			}
		}
		out[k] = Redacted
	}
	if out == nil {
		return m
	}
	return out
}

// PayloadSecrets are the secret values to mask in stored request
// payloads. Build it once per set of secrets with NewPayloadSecrets.
type PayloadSecrets struct {
	values []string // longest first
}

// NewPayloadSecrets returns the secrets to mask, longest first (so a secret
// containing another is masked whole); empty secrets are ignored.
func NewPayloadSecrets(secrets []string) PayloadSecrets {
	var ps PayloadSecrets
	for _, s := range secrets {
		if s != "" && !slices.Contains(ps.values, s) {
			ps.values = append(ps.values, s)
		}
	}
	slices.SortStableFunc(ps.values, func(a, b string) int { return len(b) - len(a) })
	return ps
}

// RedactPayload returns p with every secret replaced by "*****", however
// the sender's JSON escaped it: a string with escapes ("\/", "\u00e9",
// "\u003c", ...) is decoded, checked and, when it holds a secret, written
// back masked; text without escapes is searched as is (which also covers
// a secret outside a string, such as a number; the store then keeps the
// masked text as a string, as any invalid payload). It returns p itself
// when no secret occurs.
func RedactPayload(p json.RawMessage, secrets PayloadSecrets) json.RawMessage {
	if len(secrets.values) == 0 {
		return p
	}
	out := p
	if bytes.IndexByte(out, '\\') >= 0 {
		out = redactEscapedStrings(out, secrets.values)
	}
	for _, v := range secrets.values {
		if bytes.Contains(out, []byte(v)) {
			out = bytes.ReplaceAll(out, []byte(v), []byte(Redacted))
		}
	}
	return out
}

// redactEscapedStrings decodes every JSON string token of p that contains
// an escape and rewrites it masked when the decoded text holds a secret.
// Tokens are found by their quotes (escaped quotes skipped), which is exact
// for valid JSON and harmless for anything else. p is returned unchanged
// when nothing was masked.
func redactEscapedStrings(p []byte, secrets []string) []byte {
	var out []byte // nil until the first change
	last := 0
	for i := 0; i < len(p); i++ {
		if p[i] != '"' {
			continue
		}
		end, escaped := i+1, false
		for end < len(p) && p[end] != '"' {
			if p[end] == '\\' {
				escaped = true
				end++
			}
			end++
		}
		if end >= len(p) {
			break
		}
		if escaped {
			var str string
			if json.Unmarshal(p[i:end+1], &str) == nil && containsSecret(str, secrets) {
				for _, s := range secrets {
					str = strings.ReplaceAll(str, s, Redacted)
				}
				masked, _ := json.Marshal(str)
				out = append(append(out, p[last:i]...), masked...)
				last = end + 1
			}
		}
		i = end
	}
	if out == nil {
		return p
	}
	return append(out, p[last:]...)
}
