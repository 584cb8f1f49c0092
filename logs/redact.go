package logs

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"towerhook/internal/jsonx"
	"towerhook/internal/secrets"
)

// Redacted replaces a credential or secret in stored headers.
const Redacted = secrets.Redacted

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
	values [][]byte // longest first
	// cores holds, per value, its longest run of ASCII letters and digits
	// when that run has 4 bytes or more (else nil). JSON encoders do not
	// escape those characters, so a payload that lacks every core as is
	// cannot hold the value in any escaped form either.
	cores [][]byte
}

// NewPayloadSecrets returns the secrets to mask, longest first (so a secret
// containing another is masked whole); empty secrets are ignored.
func NewPayloadSecrets(secrets []string) PayloadSecrets {
	var ps PayloadSecrets
	for _, s := range secrets {
		if s != "" && !slices.ContainsFunc(ps.values, func(v []byte) bool { return string(v) == s }) {
			ps.values = append(ps.values, []byte(s))
		}
	}
	slices.SortStableFunc(ps.values, func(a, b []byte) int { return len(b) - len(a) })
	for _, v := range ps.values {
		ps.cores = append(ps.cores, alnumCore(v))
	}
	return ps
}

// alnumCore returns the longest run of ASCII letters and digits in v, or
// nil when it is shorter than 4 bytes (too common to rule anything out).
func alnumCore(v []byte) []byte {
	var best []byte
	for i := 0; i < len(v); {
		j := i
		for j < len(v) && (v[j] >= '0' && v[j] <= '9' || v[j] >= 'a' && v[j] <= 'z' || v[j] >= 'A' && v[j] <= 'Z') {
			j++
		}
		if j-i > len(best) {
			best = v[i:j]
		}
		i = j + 1
	}
	if len(best) < 4 {
		return nil
	}
	return best
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
	// The values that may occur: those whose core is in p (one search
	// each), and those without a core.
	var maybe [][]byte
	for i, v := range secrets.values {
		if c := secrets.cores[i]; c == nil || bytes.Contains(p, c) {
			maybe = append(maybe, v)
		}
	}
	if len(maybe) == 0 {
		return p
	}
	out := p
	if bytes.IndexByte(out, '\\') >= 0 {
		out = redactEscapedStrings(out, maybe)
	}
	for _, v := range maybe {
		if bytes.Contains(out, v) {
			out = bytes.ReplaceAll(out, v, []byte(Redacted))
		}
	}
	return out
}

// redactEscapedStrings decodes every JSON string token of p that contains
// an escape and rewrites it masked when the decoded text holds a secret.
// Tokens are found by their quotes (escaped quotes skipped), which is exact
// for valid JSON and harmless for anything else. p is returned unchanged
// when nothing was masked.
func redactEscapedStrings(p []byte, secrets [][]byte) []byte {
	var out []byte // nil until the first change
	var dec []byte // scratch for decoded tokens
	last := 0
	for i := 0; i < len(p); {
		q := bytes.IndexByte(p[i:], '"')
		if q < 0 {
			break
		}
		start := i + q
		end := closingQuote(p, start+1)
		if end < 0 {
			break
		}
		if bytes.IndexByte(p[start+1:end], '\\') >= 0 {
			var err error
			if dec, _, err = jsonx.AppendUnquoted(dec[:0], p[start+1:end+1]); err == nil && containsSecretBytes(dec, secrets) {
				if masked, ok := maskJSONString(p[start:end+1], secrets); ok {
					out = append(append(out, p[last:start]...), masked...)
					last = end + 1
				}
			}
		}
		i = end + 1
	}
	if out == nil {
		return p
	}
	return append(out, p[last:]...)
}

// maskJSONString decodes the JSON string token tok, masks the secrets in
// it and encodes it again.
func maskJSONString(tok []byte, secrets [][]byte) ([]byte, bool) {
	var str string
	if json.Unmarshal(tok, &str) != nil {
		return nil, false
	}
	for _, s := range secrets {
		str = strings.ReplaceAll(str, string(s), Redacted)
	}
	b, err := json.Marshal(str)
	return b, err == nil
}

// closingQuote returns the index of the quote that ends the string whose
// contents start at from (a quote after an even run of backslashes), or -1.
func closingQuote(p []byte, from int) int {
	for i := from; i < len(p); {
		q := bytes.IndexByte(p[i:], '"')
		if q < 0 {
			return -1
		}
		j := i + q
		n := 0
		for k := j - 1; k >= from && p[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return j
		}
		i = j + 1
	}
	return -1
}

// containsSecretBytes reports whether v holds one of secrets.
func containsSecretBytes(v []byte, secrets [][]byte) bool {
	for _, s := range secrets {
		if bytes.Contains(v, s) {
			return true
		}
	}
	return false
}
