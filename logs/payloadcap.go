package logs

import "encoding/json"

// CapPayload returns p as the store would keep it under a cap of max
// bytes: valid JSON that fits as is, anything else as a JSON string of
// its beginning; truncated reports a cut. Callers that keep less than the
// store's MaxPayloadBytes of some records (the daemon, for calls that were
// not authenticated) cut with it, after masking.
func CapPayload(p json.RawMessage, max int) (out json.RawMessage, truncated bool) {
	return capPayload(p, max)
}
