package lua

import (
	"regexp"
	"strconv"
	"strings"
	"sync"

	glua "github.com/yuin/gopher-lua"
)

// Python-style flags for re functions (combine with +).
const (
	reIgnoreCase = 2
	reMultiline  = 8
	reDotAll     = 16
)

// MaxRegexpSubject bounds the subject of re functions (RE2 is linear).
const MaxRegexpSubject = 4 << 20

// reCache holds compiled patterns for an engine, bounded; when full an
// arbitrary entry is evicted.
type reCache struct {
	mu  sync.Mutex
	cap int
	m   map[string]*regexp.Regexp
}

func newReCache(n int) *reCache { return &reCache{cap: n, m: make(map[string]*regexp.Regexp, n)} }

func (c *reCache) get(key string, build func() (*regexp.Regexp, error)) (*regexp.Regexp, error) {
	c.mu.Lock()
	re, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return re, nil
	}
	re, err := build()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= c.cap {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = re
	c.mu.Unlock()
	return re, nil
}

func (st *state) regexp(L *glua.LState, pat string, flags int, full bool) *regexp.Regexp {
	if len(pat) > 64<<10 {
		L.RaiseError("re: pattern too long")
	}
	prefix := ""
	if flags&reIgnoreCase != 0 {
		prefix += "i"
	}
	if flags&reMultiline != 0 {
		prefix += "m"
	}
	if flags&reDotAll != 0 {
		prefix += "s"
	}
	src := pat
	if prefix != "" {
		src = "(?" + prefix + ")" + src
	}
	if full {
		src = `\A(?:` + src + `)\z`
	}
	re, err := st.e.re.get(src, func() (*regexp.Regexp, error) { return regexp.Compile(src) })
	if err != nil {
		L.RaiseError("re: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return re
}

func reSubject(L *glua.LState, n int) string {
	s := L.CheckString(n)
	if len(s) > MaxRegexpSubject {
		L.RaiseError("re: string too long (%d bytes, limit %d)", len(s), MaxRegexpSubject)
	}
	return s
}

// reMatch is the Go side of a match object.
type reMatch struct {
	s   string
	loc []int
	re  *regexp.Regexp
}

func (m *reMatch) group(L *glua.LState, v glua.LValue) glua.LValue {
	idx := 0
	switch x := v.(type) {
	case *glua.LNilType:
	case glua.LNumber:
		idx = int(x)
	case glua.LString:
		idx = m.re.SubexpIndex(string(x))
		if idx < 0 {
			if n, err := strconv.Atoi(string(x)); err == nil {
				idx = n
			} else {
				L.RaiseError("no such group")
			}
		}
	}
	if idx < 0 || 2*idx+1 >= len(m.loc) {
		L.RaiseError("no such group")
	}
	if m.loc[2*idx] < 0 {
		return glua.LNil
	}
	return glua.LString(m.s[m.loc[2*idx]:m.loc[2*idx+1]])
}

func (st *state) matchMeta() *glua.LTable {
	if st.matchMt != nil {
		return st.matchMt
	}
	L := st.L
	check := func(L *glua.LState) *reMatch {
		m, ok := L.CheckUserData(1).Value.(*reMatch)
		if !ok {
			L.ArgError(1, "match object expected")
		}
		return m
	}
	methods := L.CreateTable(0, 8)
	methods.RawSetString("group", L.NewFunction(func(L *glua.LState) int {
		m := check(L)
		if L.GetTop() <= 2 {
			L.Push(m.group(L, L.Get(2)))
			return 1
		}
		n := L.GetTop()
		for i := 2; i <= n; i++ {
			L.Push(m.group(L, L.Get(i)))
		}
		return n - 1
	}))
	methods.RawSetString("groups", L.NewFunction(func(L *glua.LState) int {
		m := check(L)
		t := L.CreateTable(len(m.loc)/2-1, 0)
		for i := 1; 2*i < len(m.loc); i++ {
			t.RawSetInt(i, m.group(L, glua.LNumber(i)))
		}
		L.Push(t)
		return 1
	}))
	methods.RawSetString("groupdict", L.NewFunction(func(L *glua.LState) int {
		m := check(L)
		t := L.CreateTable(0, 4)
		for i, name := range m.re.SubexpNames() {
			if name != "" {
				t.RawSetString(name, m.group(L, glua.LNumber(i)))
			}
		}
		L.Push(t)
		return 1
	}))
	pos := func(end bool) *glua.LFunction {
		return L.NewFunction(func(L *glua.LState) int {
			m := check(L)
			idx := L.OptInt(2, 0)
			if idx < 0 || 2*idx+1 >= len(m.loc) {
				L.RaiseError("no such group")
			}
			p := m.loc[2*idx]
			if end {
				p = m.loc[2*idx+1]
			}
			// Python offsets (0-based); -1 for a group that did not match.
			L.Push(glua.LNumber(p))
			return 1
		})
	}
	methods.RawSetString("start", pos(false))
	methods.RawSetString("end", pos(true))
	methods.RawSetString("span", L.NewFunction(func(L *glua.LState) int {
		m := check(L)
		idx := L.OptInt(2, 0)
		if idx < 0 || 2*idx+1 >= len(m.loc) {
			L.RaiseError("no such group")
		}
		L.Push(glua.LNumber(m.loc[2*idx]))
		L.Push(glua.LNumber(m.loc[2*idx+1]))
		return 2
	}))
	mt := L.CreateTable(0, 3)
	mt.RawSetString("__index", methods)
	st.matchMt = st.protect(mt)
	return mt
}

func (st *state) pushMatch(L *glua.LState, re *regexp.Regexp, s string, loc []int) {
	if loc == nil {
		L.Push(glua.LNil)
		return
	}
	ud := L.NewUserData()
	ud.Value = &reMatch{s: s, loc: loc, re: re}
	ud.Metatable = st.matchMeta()
	L.Push(ud)
}

// expandRepl expands Python replacement syntax: \1, \g<1>, \g<name>, \n, \\.
func expandRepl(L *glua.LState, re *regexp.Regexp, repl, s string, loc []int, b *strings.Builder) {
	group := func(i int) {
		if i < 0 || 2*i+1 >= len(loc) {
			L.RaiseError("invalid group reference %d", i)
		}
		if loc[2*i] >= 0 {
			if b.Len()+loc[2*i+1]-loc[2*i] > MaxStringSize {
				L.RaiseError("resulting string too large")
			}
			b.WriteString(s[loc[2*i]:loc[2*i+1]])
		}
	}
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '\\' || i+1 >= len(repl) {
			b.WriteByte(c)
			continue
		}
		i++
		c = repl[i]
		switch {
		case c >= '0' && c <= '9':
			n := int(c - '0')
			if i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9' {
				i++
				n = n*10 + int(repl[i]-'0')
			}
			group(n)
		case c == 'g' && i+1 < len(repl) && repl[i+1] == '<':
			end := strings.IndexByte(repl[i:], '>')
			if end < 0 {
				L.RaiseError("missing >, unterminated name")
			}
			name := repl[i+2 : i+end]
			i += end
			if n, err := strconv.Atoi(name); err == nil {
				group(n)
			} else if n := re.SubexpIndex(name); n >= 0 {
				group(n)
			} else {
				L.RaiseError("unknown group name '%s'", name)
			}
		case c == 'n':
			b.WriteByte('\n')
		case c == 't':
			b.WriteByte('\t')
		case c == 'r':
			b.WriteByte('\r')
		case c == '\\':
			b.WriteByte('\\')
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
}

func (st *state) openRe() *glua.LTable {
	L := st.L
	t := L.CreateTable(0, 16)
	t.RawSetString("search", L.NewFunction(func(L *glua.LState) int {
		re := st.regexp(L, L.CheckString(1), L.OptInt(3, 0), false)
		s := reSubject(L, 2)
		st.pushMatch(L, re, s, re.FindStringSubmatchIndex(s))
		return 1
	}))
	t.RawSetString("match", L.NewFunction(func(L *glua.LState) int {
		re := st.regexp(L, L.CheckString(1), L.OptInt(3, 0), false)
		s := reSubject(L, 2)
		loc := re.FindStringSubmatchIndex(s)
		if loc != nil && loc[0] != 0 {
			// Leftmost-first: a match at 0, if any, would have been found first.
			loc = nil
		}
		st.pushMatch(L, re, s, loc)
		return 1
	}))
	t.RawSetString("fullmatch", L.NewFunction(func(L *glua.LState) int {
		re := st.regexp(L, L.CheckString(1), L.OptInt(3, 0), true)
		s := reSubject(L, 2)
		st.pushMatch(L, re, s, re.FindStringSubmatchIndex(s))
		return 1
	}))
	t.RawSetString("findall", L.NewFunction(func(L *glua.LState) int {
		re := st.regexp(L, L.CheckString(1), L.OptInt(3, 0), false)
		s := reSubject(L, 2)
		out := L.CreateTable(4, 0)
		ng := re.NumSubexp()
		sub := func(loc []int, i int) glua.LString {
			if loc[2*i] < 0 {
				return ""
			}
			return glua.LString(s[loc[2*i]:loc[2*i+1]])
		}
		st.eachMatch(L, re, s, -1, func(loc []int) {
			switch ng {
			case 0:
				out.Append(sub(loc, 0))
			case 1:
				out.Append(sub(loc, 1))
			default:
				g := L.CreateTable(ng, 0)
				for i := 1; i <= ng; i++ {
					g.Append(sub(loc, i))
				}
				out.Append(g)
			}
		})
		L.Push(out)
		return 1
	}))
	t.RawSetString("sub", L.NewFunction(func(L *glua.LState) int {
		re := st.regexp(L, L.CheckString(1), L.OptInt(5, 0), false)
		repl := L.Get(2)
		s := reSubject(L, 3)
		count := L.OptInt(4, 0)
		if count <= 0 {
			count = -1
		}
		var b strings.Builder
		last := 0
		st.eachMatch(L, re, s, count, func(loc []int) {
			b.WriteString(s[last:loc[0]])
			switch r := repl.(type) {
			case glua.LString:
				expandRepl(L, re, string(r), s, loc, &b)
			case *glua.LFunction:
				L.Push(r)
				st.pushMatch(L, re, s, loc)
				L.Call(1, 1)
				v := L.Get(-1)
				L.Pop(1)
				if v != glua.LNil {
					b.WriteString(glua.LVAsString(v))
				}
			default:
				L.ArgError(2, "string or function expected")
			}
			last = loc[1]
			if b.Len() > MaxStringSize {
				L.RaiseError("resulting string too large")
			}
		})
		b.WriteString(s[last:])
		L.Push(glua.LString(b.String()))
		return 1
	}))
	t.RawSetString("split", L.NewFunction(func(L *glua.LState) int {
		re := st.regexp(L, L.CheckString(1), L.OptInt(4, 0), false)
		s := reSubject(L, 2)
		max := L.OptInt(3, 0)
		if max <= 0 {
			max = -1
		}
		out := L.CreateTable(8, 0)
		last := 0
		st.eachMatch(L, re, s, max, func(loc []int) {
			out.Append(glua.LString(s[last:loc[0]]))
			for i := 1; 2*i < len(loc); i++ {
				if loc[2*i] < 0 {
					out.Append(glua.LString(""))
				} else {
					out.Append(glua.LString(s[loc[2*i]:loc[2*i+1]]))
				}
			}
			last = loc[1]
		})
		out.Append(glua.LString(s[last:]))
		L.Push(out)
		return 1
	}))
	t.RawSetString("escape", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LString(regexp.QuoteMeta(L.CheckString(1))))
		return 1
	}))
	for name, v := range map[string]int{"I": reIgnoreCase, "IGNORECASE": reIgnoreCase, "M": reMultiline, "MULTILINE": reMultiline, "S": reDotAll, "DOTALL": reDotAll} {
		t.RawSetString(name, glua.LNumber(v))
	}
	return t
}
