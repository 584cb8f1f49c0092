package lua

import (
	"strconv"
	"strings"
	"unsafe"

	glua "github.com/yuin/gopher-lua"
)

// openSafeString returns a copy of the string library whose functions cannot
// make one Go call run unbounded: rep and gsub cap their result, format caps
// widths, and the pattern functions cap the subject and honour the deadline.
func (st *state) openSafeString(real *glua.LTable) *glua.LTable {
	L := st.L
	t := copyTable(L, real)
	t.RawSetString("dump", glua.LNil)
	t.RawSetString("rep", L.NewFunction(strRep))
	format := real.RawGetString("format").(*glua.LFunction).GFunction
	t.RawSetString("format", L.NewFunction(func(L *glua.LState) int {
		checkFormat(L, L.CheckString(1))
		checkFormatLen(L)
		return format(L)
	}))
	t.RawSetString("find", L.NewFunction(st.strFind))
	t.RawSetString("match", L.NewFunction(st.strMatch))
	gm := L.NewFunction(st.strGmatch)
	t.RawSetString("gmatch", gm)
	t.RawSetString("gfind", gm)
	t.RawSetString("gsub", L.NewFunction(st.strGsub))
	return t
}

func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func strRep(L *glua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	sep := L.OptString(3, "")
	if n <= 0 {
		L.Push(glua.LString(""))
		return 1
	}
	if (len(s)+len(sep)) > 0 && n > (MaxStringSize+len(sep))/(len(s)+len(sep)) {
		L.RaiseError("resulting string too large")
	}
	if sep == "" {
		L.Push(glua.LString(strings.Repeat(s, n)))
		return 1
	}
	var b strings.Builder
	b.Grow(n*(len(s)+len(sep)) - len(sep))
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s)
	}
	L.Push(glua.LString(b.String()))
	return 1
}

// checkFormat refuses widths and precisions over two digits, as Lua 5.1 does.
func checkFormat(L *glua.LState, f string) {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		digits := 0
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			i++
			digits++
		}
		if i < len(f) && f[i] == '.' {
			i++
			p := 0
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				i++
				p++
			}
			if p > 2 {
				digits = 3
			}
		}
		if digits > 2 {
			L.RaiseError("invalid format (width or precision too long)")
		}
	}
}

// checkFormatLen raises before string.format builds a result that could
// pass MaxStringSize: each argument takes its length as a string, or at
// most a few hundred bytes as a number (widths and precisions have two
// digits at most).
func checkFormatLen(L *glua.LState) {
	n := len(L.CheckString(1))
	for i := 2; i <= L.GetTop(); i++ {
		if s, ok := L.Get(i).(glua.LString); ok {
			n += len(s)
		} else {
			n += 512
		}
		if n > MaxStringSize {
			L.RaiseError("resulting string too large")
		}
	}
}

func (st *state) subject(L *glua.LState) string {
	s := L.CheckString(1)
	if len(s) > MaxPatternSubject {
		L.RaiseError("string too long for pattern matching (%d bytes, limit %d)", len(s), MaxPatternSubject)
	}
	return s
}

func (st *state) find(L *glua.LState, pat, s string, init, limit int) []patternMatch {
	mds, err := findPattern(st.cur.ctx, pat, s, init, limit)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	return mds
}

// initOffset turns the 1-based, possibly negative init argument of
// string.find and string.match into a byte offset of s (at least 0; past the
// end means no match).
func initOffset(s string, init int) int {
	if init < 0 {
		init += len(s) + 1
	}
	return max(init-1, 0)
}

// captureValue is capture c of a match in s as Lua sees it: its text, or
// the 1-based position of a position capture.
func captureValue(s string, c patternCapture) glua.LValue {
	if c.position {
		return glua.LNumber(c.start + 1)
	}
	return glua.LString(s[c.start:c.end])
}

func pushCaptures(L *glua.LState, s string, md patternMatch, wholeIfNone bool) int {
	if len(md.caps) == 0 {
		if wholeIfNone {
			L.Push(glua.LString(s[md.start:md.end]))
			return 1
		}
		return 0
	}
	for _, c := range md.caps {
		L.Push(captureValue(s, c))
	}
	return len(md.caps)
}

func (st *state) strFind(L *glua.LState) int {
	s := L.CheckString(1)
	pat := L.CheckString(2)
	init := initOffset(s, L.OptInt(3, 1))
	plain := glua.LVAsBool(L.Get(4))
	if init > len(s) {
		L.Push(glua.LNil)
		return 1
	}
	if plain || !strings.ContainsAny(pat, "^$*+?.([%-") {
		pos := strings.Index(s[init:], pat)
		if pos < 0 {
			L.Push(glua.LNil)
			return 1
		}
		L.Push(glua.LNumber(init + pos + 1))
		L.Push(glua.LNumber(init + pos + len(pat)))
		return 2
	}
	st.subject(L)
	mds := st.find(L, pat, s, init, 1)
	if len(mds) == 0 {
		L.Push(glua.LNil)
		return 1
	}
	md := mds[0]
	L.Push(glua.LNumber(md.start + 1))
	L.Push(glua.LNumber(md.end))
	return 2 + pushCaptures(L, s, md, false)
}

func (st *state) strMatch(L *glua.LState) int {
	s := st.subject(L)
	pat := L.CheckString(2)
	init := initOffset(s, L.OptInt(3, 1))
	if init > len(s) {
		L.Push(glua.LNil)
		return 1
	}
	mds := st.find(L, pat, s, init, 1)
	if len(mds) == 0 {
		L.Push(glua.LNil)
		return 1
	}
	return pushCaptures(L, s, mds[0], true)
}

func (st *state) strGmatch(L *glua.LState) int {
	s := st.subject(L)
	pat := L.CheckString(2)
	mds := st.find(L, pat, s, 0, -1)
	i := 0
	L.Push(L.NewFunction(func(L *glua.LState) int {
		if i >= len(mds) {
			return 0
		}
		md := mds[i]
		i++
		return pushCaptures(L, s, md, true)
	}))
	return 1
}

func (st *state) strGsub(L *glua.LState) int {
	s := st.subject(L)
	pat := L.CheckString(2)
	L.CheckTypes(3, glua.LTString, glua.LTNumber, glua.LTTable, glua.LTFunction)
	repl := L.Get(3)
	limit := L.OptInt(4, -1)
	mds := st.find(L, pat, s, 0, limit)
	if len(mds) == 0 {
		L.Push(glua.LString(s))
		L.Push(glua.LNumber(0))
		return 2
	}
	var b strings.Builder
	last := 0
	// capture is "%d" of a replacement string: %0 (and %1 without
	// captures) is the whole match.
	capture := func(md patternMatch, d int) string {
		if d == 0 || (d == 1 && len(md.caps) == 0) {
			return s[md.start:md.end]
		}
		if d > len(md.caps) {
			L.RaiseError("invalid capture index")
		}
		c := md.caps[d-1]
		if c.position {
			return strconv.Itoa(c.start + 1)
		}
		return s[c.start:c.end]
	}
	for _, md := range mds {
		start, end := md.start, md.end
		b.WriteString(s[last:start])
		last = end
		whole := s[start:end]
		switch r := repl.(type) {
		case glua.LString, glua.LNumber:
			rs := r.String()
			for i := 0; i < len(rs); i++ {
				c := rs[i]
				if c != '%' || i+1 >= len(rs) {
					b.WriteByte(c)
					continue
				}
				i++
				c = rs[i]
				if c >= '0' && c <= '9' {
					if cs := capture(md, int(c-'0')); b.Len()+len(cs) <= MaxStringSize {
						b.WriteString(cs)
					} else {
						L.RaiseError("resulting string too large")
					}
				} else {
					b.WriteByte(c)
				}
			}
		case *glua.LTable:
			v := L.GetTable(r, keyOfMatch(md, s))
			if glua.LVIsFalse(v) {
				b.WriteString(whole)
			} else {
				b.WriteString(glua.LVAsString(v))
			}
		case *glua.LFunction:
			L.Push(r)
			n := pushCaptures(L, s, md, true)
			L.Call(n, 1)
			v := L.Get(-1)
			L.Pop(1)
			if glua.LVIsFalse(v) {
				b.WriteString(whole)
			} else {
				b.WriteString(glua.LVAsString(v))
			}
		}
		if b.Len() > MaxStringSize {
			L.RaiseError("resulting string too large")
		}
	}
	b.WriteString(s[last:])
	L.Push(glua.LString(b.String()))
	L.Push(glua.LNumber(len(mds)))
	return 2
}

// keyOfMatch is the key a gsub replacement table is indexed with: the first
// capture, or the whole match.
func keyOfMatch(md patternMatch, s string) glua.LValue {
	if len(md.caps) == 0 {
		return glua.LString(s[md.start:md.end])
	}
	return captureValue(s, md.caps[0])
}
