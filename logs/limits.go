package logs

import (
	"slices"
	"strconv"

	"towerhook/internal/jsonx"
)

// Size limits of a stored record (README "Call log and retention", Limits).
//
// A record is capped field by field when it is stored, measured in bytes of
// its JSON encoding (a `"` takes two bytes, a control character six), so
// that the whole value stays below MaxRecordBytes whatever the caller put
// in it. maxFrameBytes, the journal's limit for one value, is far above
// that: the journal refuses a larger value when it writes (Append returns
// an error, nothing is lost silently) and replay treats a larger length as
// damage, so what was journaled is always replayed.
const (
	// MaxRecordBytes bounds a stored record (its encoded value).
	MaxRecordBytes = 4 << 20
	// maxFrameBytes bounds one journal frame's value, on write and on replay.
	maxFrameBytes = 64 << 20

	maxMessageJSON  = 1 << 20   // result_message
	maxErrorJSON    = 256 << 10 // error_message
	maxLogLinesJSON = 1 << 20   // log_lines, all lines together
	maxHeadersJSON  = 256 << 10 // request_headers, names and values together
	maxHeaderJSON   = 16 << 10  // one header value
	maxFieldJSON    = 8 << 10   // every other string field
	// maxPayloadJSON bounds Options.MaxPayloadBytes.
	maxPayloadJSON = 1 << 20
)

// limitRecord caps r's fields in place (README "Call log and retention",
// Limits) and reports whether it cut anything. r must be the store's own
// copy; RequestHeaders is replaced, never changed in place. The payload is
// capped separately (capPayload).
func limitRecord(r *Record) bool {
	cut := false
	capField := func(s *string, max int) {
		if v, c := capString(*s, max); c {
			*s, cut = v, true
		}
	}
	capField(&r.ResultMessage, maxMessageJSON)
	capField(&r.ErrorMessage, maxErrorJSON)
	for _, f := range []*string{&r.ID, &r.Webhook, &r.WebhookName, &r.Endpoint, &r.Method,
		&r.Authenticator, &r.AuthenticationStatus, &r.CodeStatus, &r.RunAs, &r.IPAddress,
		&r.RequestID, &r.ConfigHash} {
		capField(f, maxFieldJSON)
	}
	if lines, c := capLogLines(r.LogLines, maxLogLinesJSON); c {
		r.LogLines, cut = lines, true
	}
	if h, c := capHeaders(r.RequestHeaders, maxHeadersJSON); c {
		r.RequestHeaders, cut = h, true
	}
	return cut
}

// jsonLen is the length of s as a JSON string, quotes included.
func jsonLen(s string) int { return jsonx.EncodedLen(s) }

// jsonPrefix returns the length of the longest prefix of s, cut on a rune
// boundary, whose JSON encoding takes at most max bytes, and that length.
func jsonPrefix(s string, max int) (prefix, encoded int) { return jsonx.Prefix(s, max) }

// capString returns s unchanged when its JSON encoding takes at most max
// bytes; otherwise its longest prefix (cut on a rune boundary) that fits
// together with a marker naming the original length, and true.
func capString(s string, max int) (string, bool) {
	if 6*len(s)+2 <= max {
		return s, false
	}
	if n, _ := jsonPrefix(s, max); n == len(s) {
		return s, false
	}
	marker := "…(truncated, " + strconv.Itoa(len(s)) + " bytes)" // as the daemon's caps
	n, _ := jsonPrefix(s, max-len(marker))
	return s[:n] + marker, true
}

// capLogLines keeps the lines whose JSON array fits in max bytes; the line
// that crosses the limit is cut and a last line tells how many were left
// out.
func capLogLines(lines []string, max int) ([]string, bool) {
	if keep, _ := linesThatFit(lines, max); keep == len(lines) {
		return lines, false
	}
	const reserve = 128 // the closing line
	keep, used := linesThatFit(lines, max-reserve)
	out := append(make([]string, 0, keep+2), lines[:keep]...)
	if room := max - reserve - used - 1; room > 64 {
		cut, _ := capString(lines[keep], room)
		out = append(out, cut)
		keep++
	}
	return append(out, "[... "+strconv.Itoa(len(lines)-keep)+" more log lines not stored]"), true
}

// linesThatFit returns how many of the first lines fit whole in a JSON
// array of max bytes, and that array's length.
func linesThatFit(lines []string, max int) (n, encoded int) {
	used := 1 // [ and ], a comma after each line but the last
	for i, l := range lines {
		if 6*len(l)+2 <= max-used-1 {
			used += jsonLen(l) + 1
			continue
		}
		p, enc := jsonPrefix(l, max-used-1)
		if p < len(l) {
			return i, used
		}
		used += enc + 1
	}
	return len(lines), used
}

// capHeaders returns h with each value capped at maxHeaderJSON and, in
// name order, the headers that fit in max bytes; the others are left out.
// h itself is never changed.
func capHeaders(h map[string]string, max int) (map[string]string, bool) {
	total := 2
	for k, v := range h {
		total += 6*(len(k)+len(v)) + 6
	}
	if total <= max {
		return h, false
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make(map[string]string, len(h))
	used, cut := 2, false
	for _, k := range names {
		name, c1 := capString(k, maxFieldJSON)
		v, c2 := capString(h[k], maxHeaderJSON)
		n := jsonLen(name) + jsonLen(v) + 2
		if used+n > max {
			cut = true
			continue // a shorter one further on may still fit
		}
		out[name] = v
		used += n
		cut = cut || c1 || c2
	}
	return out, cut
}
