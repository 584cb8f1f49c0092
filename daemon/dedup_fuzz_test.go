package daemon

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"towerhook/definitions"
)

// FuzzDedupID: reading a delivery id never panics, and what is kept is at
// most 1 KiB of valid UTF-8 without control characters (else its sha256).
func FuzzDedupID(f *testing.F) {
	f.Add(`{"data": {"id": 42}}`, "data.id", "abc")
	f.Add(`{"data": {"id": "x\u0001y"}}`, "data.id", "")
	f.Add(`[1, 2]`, "0", "\xff")
	f.Fuzz(func(t *testing.T, body, path, header string) {
		d, errText := definitions.ParseDedup("payload:" + path)
		r := httptest.NewRequest("POST", "/x?id="+url.QueryEscape(header), nil)
		r.Header["X-Delivery"] = []string{header}
		ids := []string{
			dedupID(definitions.Dedup{Source: definitions.DedupHeader, Name: "X-Delivery"}, r, []byte(body), nil),
			dedupID(definitions.Dedup{Source: definitions.DedupQuery, Name: "id"}, r, []byte(body), nil),
		}
		if errText == "" {
			ids = append(ids, dedupID(d, r, []byte(body), nil))
		}
		for _, id := range ids {
			if len(id) > maxDedupID || !utf8.ValidString(id) || strings.ContainsFunc(id, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
				t.Fatalf("kept id %q", id)
			}
		}
	})
}
