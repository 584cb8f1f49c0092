package logs

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"towerhook/internal/jsonx"
)

// keyLen is the length of a record key: 8-byte big-endian unix nanos then an
// 8-byte big-endian sequence. Keys sort by time, so a day bucket is
// append-only in the common case and newest-first is a reverse cursor walk.
const keyLen = 16

type key [keyLen]byte

func makeKey(nanos int64, seq uint64) key {
	var k key
	binary.BigEndian.PutUint64(k[:8], uint64(nanos))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

func (k key) nanos() int64 { return int64(binary.BigEndian.Uint64(k[:8])) }
func (k key) seq() uint64  { return binary.BigEndian.Uint64(k[8:]) }
func (k key) id() string   { return hex.EncodeToString(k[:]) }
func (k key) day() string  { return dayName(time.Unix(0, k.nanos())) }

// dayNum is the number of k's UTC day since the epoch (negative before
// it): two keys are in the same day bucket exactly when their dayNum is.
func (k key) dayNum() int64 {
	const dayNanos = int64(24 * time.Hour)
	n := k.nanos()
	d := n / dayNanos
	if n < 0 && n%dayNanos != 0 {
		d--
	}
	return d
}
func (k key) cursor() string { return base64.RawURLEncoding.EncodeToString(k[:]) }

// dayName is the bucket name of t's UTC day.
func dayName(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// parseID decodes a record id (32 hex characters) into its key.
func parseID(id string) (key, error) {
	var k key
	if len(id) != 2*keyLen {
		return k, ErrBadID
	}
	if _, err := hex.Decode(k[:], []byte(id)); err != nil {
		return k, ErrBadID
	}
	return k, nil
}

func parseCursor(c string) (key, error) {
	var k key
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != keyLen {
		return k, ErrBadCursor
	}
	copy(k[:], b)
	return k, nil
}

// Value layout (version 1):
//
//	byte    version (1)
//	uvarint http_status
//	uvarint len(webhook)       webhook bytes
//	uvarint len(authenticator) authenticator bytes
//	rest    JSON of the Record
//
// The small header lets Query filter on webhook, authenticator and status
// without decoding JSON; only matching records are unmarshalled. JSON keeps
// the stored record readable by any tool and matches the public field names.
const valueVersion = 1

var errBadValue = errors.New("corrupt call-log value")

func encodeValue(rec *Record) ([]byte, error) {
	b := make([]byte, 0, valueSize(rec))
	b = append(b, valueVersion)
	b = binary.AppendUvarint(b, uint64(max(rec.HTTPStatus, 0)))
	b = binary.AppendUvarint(b, uint64(len(rec.Webhook)))
	b = append(b, rec.Webhook...)
	b = binary.AppendUvarint(b, uint64(len(rec.Authenticator)))
	b = append(b, rec.Authenticator...)
	return appendRecordJSON(b, rec), nil
}

// valueSize is a value's length when no string needs escaping (field
// names, punctuation and numbers fit in the constant), so that encoding
// allocates once.
func valueSize(rec *Record) int {
	n := 1 + 3*binary.MaxVarintLen64 + 2*len(rec.Webhook) + 2*len(rec.Authenticator) + 512 +
		len(rec.ID) + len(rec.WebhookName) + len(rec.Endpoint) + len(rec.Method) +
		len(rec.AuthenticationStatus) + len(rec.CodeStatus) + len(rec.ResultMessage) +
		len(rec.ErrorMessage) + len(rec.RunAs) + len(rec.IPAddress) + len(rec.RequestID) +
		len(rec.ConfigHash) + len(rec.RequestPayload) + len(rec.DuplicateOf) + len(rec.Job) + len(rec.ReplayOf)
	for k, v := range rec.RequestHeaders {
		n += len(k) + len(v) + 6
	}
	for _, l := range rec.LogLines {
		n += len(l) + 3
	}
	return n
}

// header is the filterable prefix of a value; its slices alias the value.
type header struct {
	status        int
	webhook       []byte
	authenticator []byte
	body          []byte
}

func decodeHeader(v []byte) (header, error) {
	var h header
	if len(v) < 1 || v[0] != valueVersion {
		return h, errBadValue
	}
	v = v[1:]
	st, n := binary.Uvarint(v)
	if n <= 0 {
		return h, errBadValue
	}
	h.status = int(st)
	v = v[n:]
	if h.webhook, v = readBytes(v); v == nil {
		return h, errBadValue
	}
	if h.authenticator, v = readBytes(v); v == nil {
		return h, errBadValue
	}
	h.body = v
	return h, nil
}

// readBytes reads a uvarint-length-prefixed field; rest is nil on error.
func readBytes(v []byte) (field, rest []byte) {
	l, n := binary.Uvarint(v)
	if n <= 0 || uint64(len(v)-n) < l {
		return nil, nil
	}
	return v[n : n+int(l)], v[n+int(l):]
}

func decodeRecord(k key, v []byte) (*Record, error) {
	h, err := decodeHeader(v)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", k.id(), err)
	}
	rec := new(Record)
	if err := json.Unmarshal(h.body, rec); err != nil {
		return nil, fmt.Errorf("record %s: %w", k.id(), err)
	}
	rec.ID = k.id()
	return rec, nil
}

// capPayload returns the payload to store: valid JSON no longer than max
// bytes as is; anything longer (or not JSON) as a JSON string of its
// longest prefix (cut on a rune boundary) whose encoding fits in max bytes,
// with truncated set when cut.
func capPayload(p json.RawMessage, max int) (out json.RawMessage, truncated bool) {
	if len(p) == 0 {
		return nil, false
	}
	// Stored as is only when it is valid JSON in valid UTF-8 (the API's
	// answers must be); otherwise as a JSON string, invalid bytes replaced.
	if len(p) <= max && validJSON(p) && utf8.Valid(p) {
		return p, false
	}
	s := string(p[:min(len(p), max)]) // what fits takes at most max bytes
	n, _ := jsonPrefix(s, max)
	return jsonx.AppendString(nil, s[:n]), n < len(p)
}
