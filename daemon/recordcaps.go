package daemon

import (
	"slices"
	"strconv"
	"unicode/utf8"

	"towerhook/internal/secrets"
	"towerhook/logs"
)

// What a call-log record keeps of the request (README "Limits"). Anyone
// who reaches the public port makes a record, so every record is capped,
// whoever sent it: a flood of unknown endpoints or failed authentications
// cannot store more than a few KiB per call. Caps apply after masking, so
// a cut can never leave part of a secret behind.
const (
	// recordEndpointMax: bytes of the endpoint kept.
	recordEndpointMax = 256
	// recordMethodMax: bytes of the method kept (any token is a method).
	recordMethodMax = 16
	// recordHeaderValueMax: bytes kept of one header value.
	recordHeaderValueMax = 1 << 10
	// recordHeadersMax and recordHeaderBytesMax bound the header set: the
	// first headers in name order, names and kept values counted, until
	// either limit; the others are left out.
	recordHeadersMax     = 64
	recordHeaderBytesMax = 8 << 10
	// recordUnauthPayloadMax: bytes of the payload kept for a call that was
	// not authenticated (unknown endpoint, address denied, authenticator
	// denied or failed, early answers). An authenticated call keeps up to
	// logs.DefaultMaxPayloadBytes (64 KiB), capped by the store.
	recordUnauthPayloadMax = 4 << 10
)

// truncationMarker ends a value cut from n bytes.
func truncationMarker(n int) string {
	return "…(truncated, " + strconv.Itoa(n) + " bytes)"
}

// capRecord cuts what rec keeps of the request to the limits above and
// sets rec.Truncated when anything was cut. Headers and payload are masked
// already (finish, serve); the endpoint is masked here, before its cut.
func capRecord(rec *logs.Record, mask *secrets.Masker) {
	cut := false
	rec.Endpoint, cut = capString(mask.Mask(rec.Endpoint), recordEndpointMax, cut)
	rec.Method, cut = capString(rec.Method, recordMethodMax, cut)
	rec.RequestHeaders, cut = capHeaders(rec.RequestHeaders, cut)
	if rec.AuthenticationStatus != logs.AuthSuccess {
		if p, trunc := logs.CapPayload(rec.RequestPayload, recordUnauthPayloadMax); trunc {
			rec.RequestPayload, cut = p, true
		}
	}
	rec.Truncated = rec.Truncated || cut
}

// capString returns s cut to max bytes (on a rune boundary) and marked,
// and whether s or an earlier value was cut.
func capString(s string, max int, cut bool) (string, bool) {
	if len(s) <= max {
		return s, cut
	}
	keep := s[:max]
	for i := 0; i < utf8.UTFMax && keep != ""; i++ {
		if r, size := utf8.DecodeLastRuneInString(keep); r != utf8.RuneError || size != 1 {
			break
		}
		keep = keep[:len(keep)-1]
	}
	return keep + truncationMarker(len(s)), true
}

// capHeaders caps every value and keeps the first headers in name order
// within the set's limits; it returns h itself when nothing is cut.
func capHeaders(h map[string]string, cut bool) (map[string]string, bool) {
	size := 0
	for k, v := range h {
		size += len(k) + len(v)
	}
	if len(h) <= recordHeadersMax && size <= recordHeaderBytesMax && !anyLonger(h, recordHeaderValueMax) {
		return h, cut
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make(map[string]string, min(len(h), recordHeadersMax))
	used := 0
	for _, k := range names {
		v, vcut := capString(h[k], recordHeaderValueMax, false)
		if len(out) == recordHeadersMax || used+len(k)+len(v) > recordHeaderBytesMax {
			continue // a shorter one further on may still fit
		}
		out[k], used = v, used+len(k)+len(v)
		cut = cut || vcut
	}
	return out, true
}

// anyLonger reports whether a value of h is longer than max bytes.
func anyLonger(h map[string]string, max int) bool {
	for _, v := range h {
		if len(v) > max {
			return true
		}
	}
	return false
}
