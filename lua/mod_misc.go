package lua

import (
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// openTime builds the time module: time() and strftime(fmt[, t]) in UTC.
func (st *state) openTime() *glua.LTable {
	L := st.L
	t := L.CreateTable(0, 2)
	t.RawSetString("time", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LNumber(float64(time.Now().UnixNano()) / 1e9))
		return 1
	}))
	t.RawSetString("strftime", L.NewFunction(func(L *glua.LState) int {
		f := L.CheckString(1)
		if len(f) > 4096 {
			L.RaiseError("format too long")
		}
		var tm time.Time
		if v, ok := L.Get(2).(glua.LNumber); ok {
			sec := float64(v)
			tm = time.Unix(int64(sec), int64((sec-float64(int64(sec)))*1e9)).UTC()
		} else {
			tm = time.Now().UTC()
		}
		L.Push(glua.LString(strftime(f, tm)))
		return 1
	}))
	return t
}

// strftime implements Python's % directives (C locale).
func strftime(f string, t time.Time) string {
	var b strings.Builder
	pad := func(v, w int) {
		s := strconv.Itoa(v)
		for i := len(s); i < w; i++ {
			b.WriteByte('0')
		}
		b.WriteString(s)
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 'Y':
			pad(t.Year(), 4)
		case 'y':
			pad(t.Year()%100, 2)
		case 'm':
			pad(int(t.Month()), 2)
		case 'd':
			pad(t.Day(), 2)
		case 'e':
			s := strconv.Itoa(t.Day())
			if len(s) < 2 {
				b.WriteByte(' ')
			}
			b.WriteString(s)
		case 'H':
			pad(t.Hour(), 2)
		case 'I':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			pad(h, 2)
		case 'M':
			pad(t.Minute(), 2)
		case 'S':
			pad(t.Second(), 2)
		case 'f':
			pad(t.Nanosecond()/1000, 6)
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'j':
			pad(t.YearDay(), 3)
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'b', 'h':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'w':
			pad(int(t.Weekday()), 1)
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			pad(wd, 1)
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			b.WriteString("UTC")
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case 'c':
			b.WriteString(t.Format("Mon Jan _2 15:04:05 2006"))
		case 'x':
			b.WriteString(t.Format("01/02/06"))
		case 'X', 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'D':
			b.WriteString(t.Format("01/02/06"))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'G':
			y, _ := t.ISOWeek()
			pad(y, 4)
		case 'V':
			_, w := t.ISOWeek()
			pad(w, 2)
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(f[i])
		}
	}
	return b.String()
}

// pyQuote is Python's urllib.parse.quote: unreserved chars and safe stay.
func pyQuote(s, safe string, plus bool) string {
	const hexU = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '.', c == '-', c == '~':
			b.WriteByte(c)
		case plus && c == ' ':
			b.WriteByte('+')
		case c < 0x80 && strings.IndexByte(safe, c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexU[c>>4])
			b.WriteByte(hexU[c&15])
		}
	}
	return b.String()
}

// pyUnquote decodes %XX (invalid escapes stay as they are), and + when plus.
func pyUnquote(s string, plus bool) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	unhex := func(c byte) int {
		switch {
		case c >= '0' && c <= '9':
			return int(c - '0')
		case c >= 'a' && c <= 'f':
			return int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			return int(c-'A') + 10
		}
		return -1
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			h, l := unhex(s[i+1]), unhex(s[i+2])
			if h >= 0 && l >= 0 {
				b = append(b, byte(h<<4|l))
				i += 2
				continue
			}
		}
		if plus && c == '+' {
			c = ' '
		}
		b = append(b, c)
	}
	return string(b)
}

func (st *state) openURLLib() *glua.LTable {
	L := st.L
	t := L.CreateTable(0, 8)
	t.RawSetString("quote", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LString(pyQuote(L.CheckString(1), L.OptString(2, "/"), false)))
		return 1
	}))
	t.RawSetString("quote_plus", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LString(pyQuote(L.CheckString(1), L.OptString(2, ""), true)))
		return 1
	}))
	t.RawSetString("unquote", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LString(pyUnquote(L.CheckString(1), false)))
		return 1
	}))
	t.RawSetString("unquote_plus", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LString(pyUnquote(L.CheckString(1), true)))
		return 1
	}))
	t.RawSetString("urlencode", L.NewFunction(func(L *glua.LState) int {
		tb := L.CheckTable(1)
		type kv struct{ k, v string }
		var items []kv
		str := func(v glua.LValue) string {
			if v == st.null {
				return "None"
			}
			return glua.LVAsString(L.ToStringMeta(v))
		}
		tb.ForEach(func(k, v glua.LValue) {
			ks := str(k)
			if sub, ok := v.(*glua.LTable); ok {
				for i := 1; i <= sub.Len(); i++ {
					items = append(items, kv{ks, str(sub.RawGetInt(i))})
				}
				return
			}
			items = append(items, kv{ks, str(v)})
		})
		sort.SliceStable(items, func(i, j int) bool { return items[i].k < items[j].k })
		parts := make([]string, len(items))
		for i, it := range items {
			parts[i] = pyQuote(it.k, "", true) + "=" + pyQuote(it.v, "", true)
		}
		L.Push(glua.LString(strings.Join(parts, "&")))
		return 1
	}))
	t.RawSetString("urlparse", L.NewFunction(func(L *glua.LState) int {
		raw := L.CheckString(1)
		r := L.CreateTable(0, 10)
		u, err := url.Parse(raw)
		if err != nil {
			L.RaiseError("urlparse: %s", err.Error())
		}
		path := u.EscapedPath()
		if u.Opaque != "" {
			path = u.Opaque
		}
		params := ""
		if i := strings.LastIndexByte(path, ';'); i >= 0 && !strings.Contains(path[i:], "/") {
			params = path[i+1:]
			path = path[:i]
		}
		r.RawSetString("scheme", glua.LString(strings.ToLower(u.Scheme)))
		r.RawSetString("netloc", glua.LString(u.Host))
		if u.User != nil {
			r.RawSetString("netloc", glua.LString(u.User.String()+"@"+u.Host))
			r.RawSetString("username", glua.LString(u.User.Username()))
			if p, ok := u.User.Password(); ok {
				r.RawSetString("password", glua.LString(p))
			}
		}
		r.RawSetString("path", glua.LString(path))
		r.RawSetString("params", glua.LString(params))
		r.RawSetString("query", glua.LString(u.RawQuery))
		r.RawSetString("fragment", glua.LString(u.EscapedFragment()))
		if h := u.Hostname(); h != "" {
			r.RawSetString("hostname", glua.LString(strings.ToLower(h)))
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err == nil {
				r.RawSetString("port", glua.LNumber(n))
			}
		}
		L.Push(r)
		return 1
	}))
	parseQS := func(L *glua.LState, list bool) int {
		qs := L.CheckString(1)
		keepBlank := glua.LVAsBool(L.Get(2))
		r := L.CreateTable(0, 4)
		for _, part := range strings.FieldsFunc(qs, func(c rune) bool { return c == '&' || c == ';' }) {
			k, v, _ := strings.Cut(part, "=")
			if v == "" && !keepBlank {
				continue
			}
			k, v = pyUnquote(k, true), pyUnquote(v, true)
			if list {
				pair := L.CreateTable(2, 0)
				pair.Append(glua.LString(k))
				pair.Append(glua.LString(v))
				r.Append(pair)
				continue
			}
			vs, ok := r.RawGetString(k).(*glua.LTable)
			if !ok {
				vs = L.CreateTable(1, 0)
				r.RawSetString(k, vs)
			}
			vs.Append(glua.LString(v))
		}
		L.Push(r)
		return 1
	}
	t.RawSetString("parse_qs", L.NewFunction(func(L *glua.LState) int { return parseQS(L, false) }))
	t.RawSetString("parse_qsl", L.NewFunction(func(L *glua.LState) int { return parseQS(L, true) }))
	return t
}

// openLogger builds _logger: lines go to Result.LogLines (masked) and slog.
func (st *state) openLogger() *glua.LTable {
	L := st.L
	t := L.CreateTable(0, 6)
	for _, lv := range []struct {
		name, prefix string
		level        slog.Level
	}{
		{"debug", "DEBUG", slog.LevelDebug},
		{"info", "INFO", slog.LevelInfo},
		{"warning", "WARNING", slog.LevelWarn},
		{"warn", "WARNING", slog.LevelWarn},
		{"error", "ERROR", slog.LevelError},
		{"critical", "CRITICAL", slog.LevelError},
		{"exception", "ERROR", slog.LevelError},
	} {
		t.RawSetString(lv.name, L.NewFunction(func(L *glua.LState) int {
			msg := L.ToStringMeta(L.Get(1)).String()
			if n := L.GetTop(); n > 1 {
				parts := []string{msg}
				for i := 2; i <= n; i++ {
					parts = append(parts, L.ToStringMeta(L.Get(i)).String())
				}
				msg = strings.Join(parts, " ")
			}
			if len(msg) > 64<<10 {
				msg = msg[:64<<10] + "...(truncated)"
			}
			msg = st.e.maskString(msg)
			cs := st.cur
			if cs.res != nil {
				switch {
				case len(cs.res.LogLines) < MaxLogLines:
					cs.res.LogLines = append(cs.res.LogLines, lv.prefix+": "+msg)
				case len(cs.res.LogLines) == MaxLogLines:
					cs.res.LogLines = append(cs.res.LogLines, "WARNING: further log lines dropped")
				}
			}
			if lg := st.e.opts.Logger; lg != nil && cs.call != nil {
				lg.Log(cs.ctx, lv.level, msg, "reference", cs.call.Reference, "request_id", cs.call.Request.ID)
			}
			return 0
		}))
	}
	return t
}

func sortStrings(s []string) { sort.Strings(s) }
