package logs

import (
	"net/http"
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
