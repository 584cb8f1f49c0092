package lua

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"towerhook/internal/jsonx"
	"towerhook/internal/secrets"

	glua "github.com/yuin/gopher-lua"
)

// JSON <-> Lua bridge.
//
// Decoding goes straight from JSON text to Lua values (no map[string]any):
// objects and arrays become tables, null becomes json.null, numbers become
// LNumber (integers up to 2^53 are exact). An empty JSON array gets a marker
// metatable so that it dumps back as [].
//
// Encoding: a table whose keys are exactly 1..n (n >= 1) is an array; any
// other table is an object with sorted keys (numbers and booleans are
// written as strings, other key types are an error); an empty table is {}
// unless it came from an empty JSON array. Integral numbers below 1e21 are
// written without exponent or fraction; NaN and ±Inf are an error. Strings
// that are not valid UTF-8 have each bad byte replaced by \ufffd.

const jsonMaxDepth = 200

var (
	errJSONDepth = errors.New("nesting too deep")
	errJSONCycle = errors.New("circular reference detected")
)

type jsonDecoder struct {
	st *state
	b  string // the JSON text; unescaped strings are substrings of it
	i  int
	// stack holds the members of the objects and arrays being decoded, so
	// each table is created with its exact size (the state's scratch, reused).
	stack []jsonMember
	buf   []byte
	// pending is the string that value returned as pending (a nil LValue), so
	// that the enclosing table boxes all its strings with one allocation.
	pending string
	// projected: of a top-level object, only the members named in keys
	// (sorted) are decoded; the others are checked and skipped.
	projected bool
	keys      []string
	steps     int // members decoded, for the deadline check
}

// interrupted reports, every 1024 members, whether the call was
// interrupted: json.loads of a huge text stops at the deadline.
func (d *jsonDecoder) interrupted() error {
	if d.steps++; d.steps&1023 != 0 {
		return nil
	}
	return d.st.interrupted()
}

// jsonMember is one decoded object member (or array element: k unused).
// A string value is pending in s while v is nil.
type jsonMember struct {
	k, s string
	v    glua.LValue
}

// decodeJSON decodes one JSON document; empty input is nil.
func (st *state) decodeJSON(b []byte) (glua.LValue, error) {
	return st.decodeJSONString(string(b))
}

// decodeJSONString decodes one JSON document held in s; empty input is nil.
// Strings without escapes share s's memory.
func (st *state) decodeJSONString(s string) (glua.LValue, error) {
	d := jsonDecoder{st: st, b: s, stack: st.jstack[:0]}
	v, err := d.document()
	clear(d.stack) // members left by an error
	st.jstack = d.stack[:0]
	return v, err
}

func (d *jsonDecoder) document() (glua.LValue, error) {
	d.ws()
	if d.i >= len(d.b) {
		return glua.LNil, nil
	}
	v, err := d.value(0)
	if err != nil {
		return glua.LNil, err
	}
	if v == nil {
		v = glua.LString(d.pending)
	}
	d.ws()
	if d.i != len(d.b) {
		return glua.LNil, d.err("extra data")
	}
	return v, nil
}

func (d *jsonDecoder) err(msg string) error {
	return errors.New(msg + " at char " + strconv.Itoa(d.i))
}

func (d *jsonDecoder) ws() {
	b, i := d.b, d.i
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	d.i = i
}

// popObject moves the members above base into a new table and drops them.
func (d *jsonDecoder) popObject(base int) *glua.LTable {
	ms := d.stack[base:]
	var t *glua.LTable
	if d.st.e.fastTables {
		t = newStringTable(ms, d.st.e.lstringTab)
	} else {
		t = d.st.L.CreateTable(0, len(ms))
		for i := range ms {
			if v := ms[i].v; v != nil {
				t.RawSetString(ms[i].k, v)
			} else {
				t.RawSetString(ms[i].k, glua.LString(ms[i].s))
			}
		}
	}
	clear(ms)
	d.stack = d.stack[:base]
	return t
}

// popArray moves the elements above base into a new array table.
func (d *jsonDecoder) popArray(base int) *glua.LTable {
	ms := d.stack[base:]
	var t *glua.LTable
	if d.st.e.fastTables {
		t = newArrayTable(ms, d.st.e.lstringTab)
	} else {
		t = d.st.L.CreateTable(len(ms), 0)
		for i := range ms {
			if v := ms[i].v; v != nil {
				t.RawSetInt(i+1, v)
			} else {
				t.RawSetInt(i+1, glua.LString(ms[i].s))
			}
		}
	}
	clear(ms)
	d.stack = d.stack[:base]
	return t
}

func (d *jsonDecoder) value(depth int) (glua.LValue, error) {
	if depth > jsonMaxDepth {
		return nil, errJSONDepth
	}
	d.ws()
	if d.i >= len(d.b) {
		return nil, d.err("unexpected end of data")
	}
	switch c := d.b[d.i]; c {
	case '{':
		d.i++
		base := len(d.stack)
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == '}' {
			d.i++
			return d.st.L.CreateTable(0, 0), nil
		}
		for {
			d.ws()
			if d.i >= len(d.b) || d.b[d.i] != '"' {
				return nil, d.err("expecting property name enclosed in double quotes")
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			d.ws()
			if d.i >= len(d.b) || d.b[d.i] != ':' {
				return nil, d.err("expecting ':' delimiter")
			}
			d.i++
			if depth == 0 && d.projected && !slices.Contains(d.keys, k) {
				if err := d.skip(depth + 1); err != nil {
					return nil, err
				}
			} else {
				v, err := d.value(depth + 1)
				if err != nil {
					return nil, err
				}
				d.stack = append(d.stack, jsonMember{k: k, s: d.pending, v: v})
			}
			if err := d.interrupted(); err != nil {
				return nil, err
			}
			d.ws()
			if d.i < len(d.b) && d.b[d.i] == ',' {
				d.i++
				continue
			}
			if d.i < len(d.b) && d.b[d.i] == '}' {
				d.i++
				return d.popObject(base), nil
			}
			return nil, d.err("expecting ',' delimiter")
		}
	case '[':
		d.i++
		base := len(d.stack)
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == ']' {
			d.i++
			t := d.st.L.CreateTable(0, 0)
			t.Metatable = d.st.arrMeta
			return t, nil
		}
		for {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			d.stack = append(d.stack, jsonMember{s: d.pending, v: v})
			if err := d.interrupted(); err != nil {
				return nil, err
			}
			d.ws()
			if d.i < len(d.b) && d.b[d.i] == ',' {
				d.i++
				continue
			}
			if d.i < len(d.b) && d.b[d.i] == ']' {
				d.i++
				return d.popArray(base), nil
			}
			return nil, d.err("expecting ',' delimiter")
		}
	case '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		d.pending = s
		return nil, nil // pending: boxed by the enclosing table
	case 't':
		return d.lit("true", glua.LTrue)
	case 'f':
		return d.lit("false", glua.LFalse)
	case 'n':
		return d.lit("null", d.st.null)
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return d.num()
		}
		return nil, d.err("expecting value")
	}
}

func (d *jsonDecoder) lit(word string, v glua.LValue) (glua.LValue, error) {
	if len(d.b)-d.i >= len(word) && d.b[d.i:d.i+len(word)] == word {
		d.i += len(word)
		return v, nil
	}
	return nil, d.err("expecting value")
}

func (d *jsonDecoder) num() (glua.LValue, error) {
	start := d.i
	digits, intEnd, err := d.scanNumber()
	if err != nil {
		return nil, err
	}
	if d.i == intEnd && intEnd-digits <= 15 {
		var n int64
		for j := digits; j < intEnd; j++ {
			n = n*10 + int64(d.b[j]-'0')
		}
		if start != digits {
			if n == 0 {
				return glua.LNumber(math.Copysign(0, -1)), nil
			}
			n = -n
		}
		return glua.LNumber(n), nil
	}
	f, err := strconv.ParseFloat(d.b[start:d.i], 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, d.err("invalid number")
	}
	return glua.LNumber(f), nil
}

// scanNumber moves past the number at d.i and returns where its integer
// digits start and end.
func (d *jsonDecoder) scanNumber() (digits, intEnd int, err error) {
	if d.b[d.i] == '-' {
		d.i++
	}
	digits = d.i
	if d.i < len(d.b) && d.b[d.i] == '0' {
		d.i++
	} else {
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
	}
	if d.i == digits {
		return 0, 0, d.err("expecting value")
	}
	intEnd = d.i
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		f := d.i
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
		if d.i == f {
			return 0, 0, d.err("invalid number")
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		f := d.i
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
		if d.i == f {
			return 0, 0, d.err("invalid number")
		}
	}
	return digits, intEnd, nil
}

// decodeJSONProjected decodes s like decodeJSONString, except that of a
// top-level object only the members named in keys (sorted) become Lua
// values: the others are checked and skipped. A document that is not an
// object is decoded whole.
func (st *state) decodeJSONProjected(s string, keys []string) (glua.LValue, error) {
	d := jsonDecoder{st: st, b: s, stack: st.jstack[:0], projected: true, keys: keys}
	v, err := d.document()
	clear(d.stack)
	st.jstack = d.stack[:0]
	return v, err
}

// skip checks the value at d.i as value would, without building it.
func (d *jsonDecoder) skip(depth int) error {
	if depth > jsonMaxDepth {
		return errJSONDepth
	}
	d.ws()
	if d.i >= len(d.b) {
		return d.err("unexpected end of data")
	}
	switch c := d.b[d.i]; c {
	case '{', '[':
		d.i++
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == c+2 { // '}' or ']'
			d.i++
			return nil
		}
		for {
			if c == '{' {
				d.ws()
				if d.i >= len(d.b) || d.b[d.i] != '"' {
					return d.err("expecting property name enclosed in double quotes")
				}
				if _, err := d.str(); err != nil {
					return err
				}
				d.ws()
				if d.i >= len(d.b) || d.b[d.i] != ':' {
					return d.err("expecting ':' delimiter")
				}
				d.i++
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.ws()
			if d.i < len(d.b) && d.b[d.i] == ',' {
				d.i++
				continue
			}
			if d.i < len(d.b) && d.b[d.i] == c+2 {
				d.i++
				return nil
			}
			return d.err("expecting ',' delimiter")
		}
	case '"':
		_, err := d.str()
		return err
	case 't':
		_, err := d.lit("true", glua.LTrue)
		return err
	case 'f':
		_, err := d.lit("false", glua.LFalse)
		return err
	case 'n':
		_, err := d.lit("null", glua.LNil)
		return err
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			_, _, err := d.scanNumber()
			return err
		}
		return d.err("expecting value")
	}
}

// str decodes a JSON string at d.i (which is '"').
func (d *jsonDecoder) str() (string, error) {
	d.i++
	start := d.i
	// Fast path: no escapes, the result is a substring of the input.
	b, i := d.b, d.i
	for i < len(b) {
		c := b[i]
		if c == '"' {
			d.i = i + 1
			return b[start:i], nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			d.i = i
			return "", d.err("invalid control character")
		}
		i++
	}
	// Escapes: decoded into the scratch buffer.
	buf, n, err := jsonx.AppendUnquoted(append(d.buf[:0], b[start:i]...), b[i:])
	if err != nil {
		se := err.(*jsonx.StringError)
		d.i = i + se.Offset
		return "", d.err(se.Msg)
	}
	d.i = i + n
	d.buf = buf
	return string(buf), nil
}

// jsonEncoder appends the JSON text of Lua values. It stops with
// errJSONTooLarge as soon as the text would pass limit (shared references
// to one big string cannot multiply it) and with errInterrupted when the
// call's deadline passed or the memory guard stopped it (README "Lua API").
type jsonEncoder struct {
	st     *state
	b      []byte
	indent string
	seen   map[*glua.LTable]bool
	limit  int
	// mask, when set, masks every string and key before it is escaped, and
	// writes a number whose text holds a secret as the string "*****", so
	// the text stays valid JSON (README "Secrets").
	mask  *secrets.Masker
	done  <-chan struct{}
	steps int
}

var (
	errJSONTooLarge = fmt.Errorf("JSON text exceeds %d MiB", MaxStringSize>>20)
	errInterrupted  = errors.New("execution interrupted")
)

// encodeJSON returns the JSON text of v (indent "" for compact output),
// at most MaxStringSize bytes.
func (st *state) encodeJSON(v glua.LValue, indent string) ([]byte, error) {
	return st.encodeJSONMasked(v, indent, nil)
}

// encodeJSONMasked is encodeJSON with the strings, keys and numbers masked
// by mask (nil: none).
func (st *state) encodeJSONMasked(v glua.LValue, indent string, mask *secrets.Masker) ([]byte, error) {
	e := jsonEncoder{st: st, indent: indent, limit: MaxStringSize, mask: mask}
	if ctx := st.cur.ctx; ctx != nil {
		e.done = ctx.Done()
	}
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return e.b, nil
}

// interrupted reports, every 256 calls, whether the call was interrupted.
func (e *jsonEncoder) interrupted() bool {
	e.steps++
	if e.steps&255 != 0 || e.done == nil {
		return false
	}
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// room fails when n more bytes would pass the limit.
func (e *jsonEncoder) room(n int) error {
	if n > e.limit-len(e.b) {
		return errJSONTooLarge
	}
	return nil
}

func (e *jsonEncoder) newline(depth int) {
	if e.indent == "" {
		return
	}
	e.b = append(e.b, '\n')
	for i := 0; i < depth; i++ {
		e.b = append(e.b, e.indent...)
	}
}

func (e *jsonEncoder) value(v glua.LValue, depth int) error {
	if depth > jsonMaxDepth {
		return errJSONDepth
	}
	if e.interrupted() {
		return errInterrupted
	}
	switch x := v.(type) {
	case *glua.LNilType:
		e.b = append(e.b, "null"...)
	case glua.LBool:
		if x {
			e.b = append(e.b, "true"...)
		} else {
			e.b = append(e.b, "false"...)
		}
	case glua.LNumber:
		return e.number(float64(x))
	case glua.LString:
		return e.str(string(x))
	case *glua.LUserData:
		if x == e.st.null {
			e.b = append(e.b, "null"...)
			return nil
		}
		return errors.New("object of type userdata is not JSON serializable")
	case *glua.LTable:
		return e.table(x, depth)
	default:
		return errors.New("object of type " + v.Type().String() + " is not JSON serializable")
	}
	return e.room(0)
}

// str appends s (masked) as a JSON string.
func (e *jsonEncoder) str(s string) error {
	if err := e.room(len(s) + 2); err != nil {
		return err
	}
	s = e.mask.Mask(s)
	b, ok := jsonx.AppendStringLimit(e.b, s, e.limit)
	e.b = b
	if !ok {
		return errJSONTooLarge
	}
	return nil
}

func (e *jsonEncoder) number(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return errors.New("out of range float values are not JSON compliant")
	}
	n := len(e.b)
	e.b = appendJSONNumber(e.b, f)
	if e.mask != nil {
		if t := string(e.b[n:]); e.mask.Mask(t) != t {
			e.b = append(e.b[:n], `"`+secrets.Redacted+`"`...)
		}
	}
	return e.room(0)
}

// appendJSONNumber appends the JSON text of a finite f: integral values
// below 1e21 without exponent or fraction.
func appendJSONNumber(b []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		if f == 0 && math.Signbit(f) {
			return append(b, "-0"...)
		} else if math.Abs(f) < 1<<63 {
			return strconv.AppendInt(b, int64(f), 10)
		}
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

func (e *jsonEncoder) table(t *glua.LTable, depth int) error {
	if e.st.isHeaders(t) {
		t = e.st.headersFull()
	}
	if depth > 0 {
		if e.seen == nil {
			e.seen = map[*glua.LTable]bool{}
		}
		if e.seen[t] {
			return errJSONCycle
		}
		e.seen[t] = true
		defer delete(e.seen, t)
	}
	count, maxKey := 0, 0
	isArray := true
	t.ForEach(func(k, _ glua.LValue) {
		count++
		if isArray {
			f, ok := k.(glua.LNumber)
			if !ok || float64(f) != math.Trunc(float64(f)) || f < 1 || f > 1<<31 {
				isArray = false
			} else if int(f) > maxKey {
				maxKey = int(f)
			}
		}
	})
	n := count
	if count == 0 {
		if t.Metatable == e.st.arrMeta && e.st.arrMeta != nil {
			e.b = append(e.b, "[]"...)
		} else {
			e.b = append(e.b, "{}"...)
		}
		return e.room(0)
	}
	if isArray && maxKey == count {
		// Every element takes two bytes at least ("0,").
		if err := e.room(2 * n); err != nil {
			return err
		}
		e.b = append(e.b, '[')
		for i := 1; i <= n; i++ {
			if i > 1 {
				e.b = append(e.b, ',')
			}
			e.newline(depth + 1)
			if err := e.value(t.RawGetInt(i), depth+1); err != nil {
				return err
			}
		}
		e.newline(depth)
		e.b = append(e.b, ']')
		return e.room(0)
	}
	// Every member takes five bytes at least (`"":0,`).
	if err := e.room(5 * count); err != nil {
		return err
	}
	items, err := e.members(t, count)
	if err != nil {
		return err
	}
	e.b = append(e.b, '{')
	for i, it := range items {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.newline(depth + 1)
		if err := e.str(it.k); err != nil {
			return err
		}
		e.b = append(e.b, ':')
		if e.indent != "" {
			e.b = append(e.b, ' ')
		}
		if err := e.value(it.v, depth+1); err != nil {
			return err
		}
	}
	e.newline(depth)
	e.b = append(e.b, '}')
	return e.room(0)
}

// jsonItem is one object member about to be written.
type jsonItem struct {
	k string
	v glua.LValue
}

// members returns t's members with their keys as text, sorted by key.
func (e *jsonEncoder) members(t *glua.LTable, count int) ([]jsonItem, error) {
	items := make([]jsonItem, 0, count)
	var kerr error
	t.ForEach(func(k, v glua.LValue) {
		switch x := k.(type) {
		case glua.LString:
			items = append(items, jsonItem{string(x), v})
		case glua.LNumber:
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				kerr = errors.New("out of range float values are not JSON compliant")
				return
			}
			items = append(items, jsonItem{string(appendJSONNumber(nil, float64(x))), v})
		case glua.LBool:
			items = append(items, jsonItem{x.String(), v})
		default:
			kerr = errors.New("keys must be str, int, float or bool, not " + k.Type().String())
		}
	})
	if kerr != nil {
		return nil, kerr
	}
	// A comparison cannot stop the sort, but once the call is interrupted
	// every pair compares equal, which ends it in linear time.
	stop := false
	sort.Slice(items, func(i, j int) bool {
		if stop {
			return false
		}
		if e.interrupted() {
			stop = true
		}
		return items[i].k < items[j].k
	})
	if stop {
		return nil, errInterrupted
	}
	return items, nil
}
