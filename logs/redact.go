package logs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
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

// PayloadSecrets are the texts in which secret values can appear in a JSON
// request payload: each value as is and as JSON string contents (escaped
// by encoding/json with and without HTML escaping, and with "/" escaped as
// "\/" the way PHP senders write it). Build it once per set of secrets.
type PayloadSecrets [][]byte

// NewPayloadSecrets returns the payload forms of secrets, longest first
// (empty secrets are ignored).
func NewPayloadSecrets(secrets []string) PayloadSecrets {
	var forms PayloadSecrets
	add := func(b []byte) {
		if len(b) > 0 && !slices.ContainsFunc(forms, func(f []byte) bool { return bytes.Equal(f, b) }) {
			forms = append(forms, b)
		}
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		add([]byte(s))
		html, _ := json.Marshal(s)
		html = html[1 : len(html)-1]
		add(html)
		var plain bytes.Buffer
		enc := json.NewEncoder(&plain)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		b := bytes.TrimSuffix(plain.Bytes(), []byte("\n"))
		add(b[1 : len(b)-1])
		add(bytes.ReplaceAll(html, []byte("/"), []byte(`\/`)))
		add(asciiEscaped(html))
	}
	slices.SortStableFunc(forms, func(a, b []byte) int { return len(b) - len(a) })
	return forms
}

// asciiEscaped writes every non-ASCII character of the JSON string
// contents b as a \uXXXX escape (surrogate pairs above U+FFFF), as Python's
// json.dumps does by default.
func asciiEscaped(b []byte) []byte {
	var out []byte
	for _, r := range string(b) {
		switch {
		case r < utf8.RuneSelf:
			out = append(out, byte(r))
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
	}
	return out
}

// RedactPayload returns p with every secret form replaced by "*****". It
// returns p itself when no secret occurs (the common case costs one scan
// per form). A secret outside a JSON string can leave the text invalid
// JSON; the store then keeps it as a string, as any invalid payload.
func RedactPayload(p json.RawMessage, secrets PayloadSecrets) json.RawMessage {
	out := p
	for _, f := range secrets {
		if bytes.Contains(out, f) {
			out = bytes.ReplaceAll(out, f, []byte(Redacted))
		}
	}
	return out
}
