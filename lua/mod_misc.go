package lua

import (
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	glua "github.com/yuin/gopher-lua"
)

// openTime builds the time module: time() and strftime(fmt[, t]) in UTC.
func (st *state) openTime() *glua.LTable {
	L := st.L
	t := L.CreateTable(0, 2)
	t.RawSetString("time", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LNumber(float64(st.now().UnixNano()) / 1e9))
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
			tm = st.now().UTC()
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
	b.Grow(pyQuoteLen(s, safe, plus))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoteKeeps(c, safe, plus):
			if plus && c == ' ' {
				c = '+'
			}
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexU[c>>4])
			b.WriteByte(hexU[c&15])
		}
	}
	return b.String()
}

// quoteKeeps reports whether pyQuote writes c as one byte.
func quoteKeeps(c byte, safe string, plus bool) bool {
	switch {
	case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '.', c == '-', c == '~':
		return true
	case plus && c == ' ':
		return true
	}
	return c < 0x80 && strings.IndexByte(safe, c) >= 0
}

// pyQuoteLen is len(pyQuote(s, safe, plus)), counted without building it.
func pyQuoteLen(s, safe string, plus bool) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !quoteKeeps(s[i], safe, plus) {
			n += 2
		}
	}
	return n
}

// checkedQuote is pyQuote for a module function: a result longer than
// MaxStringSize raises before anything is built.
func checkedQuote(L *glua.LState, s, safe string, plus bool) string {
	if pyQuoteLen(s, safe, plus) > MaxStringSize {
		L.RaiseError("resulting string too large")
	}
	return pyQuote(s, safe, plus)
}

// checkFormLen raises when m as a form body would pass MaxStringSize.
func checkFormLen(L *glua.LState, m map[string]string) {
	n := 0
	for k, v := range m {
		if n += pyQuoteLen(k, "", true) + pyQuoteLen(v, "", true) + 2; n > MaxStringSize+1 {
			L.RaiseError("resulting string too large")
		}
	}
}

// joinForm returns the pairs as k=v&k=v (both quoted with plus), raising
// when the result would pass MaxStringSize.
func joinForm(L *glua.LState, pairs [][2]string) string {
	n := 0
	for _, p := range pairs {
		n += pyQuoteLen(p[0], "", true) + pyQuoteLen(p[1], "", true) + 2
		if n > MaxStringSize+1 {
			L.RaiseError("resulting string too large")
		}
	}
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = pyQuote(p[0], "", true) + "=" + pyQuote(p[1], "", true)
	}
	return strings.Join(parts, "&")
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

// pairCount returns n when t is a non-empty sequence (keys exactly 1..n)
// whose every element is a table holding exactly [1] and [2]; else 0.
func pairCount(t *glua.LTable) int {
	n, ok := 0, true
	t.ForEach(func(k, v glua.LValue) {
		n++
		if !ok {
			return
		}
		p, isTable := v.(*glua.LTable)
		if _, isNum := k.(glua.LNumber); !isNum || !isTable {
			ok = false
			return
		}
		elems := 0
		p.ForEach(func(glua.LValue, glua.LValue) { elems++ })
		ok = elems == 2 && p.RawGetInt(1) != glua.LNil && p.RawGetInt(2) != glua.LNil
	})
	if !ok {
		return 0
	}
	for i := 1; i <= n; i++ {
		if t.RawGetInt(i) == glua.LNil {
			return 0
		}
	}
	return n
}

func (st *state) openURLLib() *glua.LTable {
	L := st.L
	t := L.CreateTable(0, 8)
	t.RawSetString("quote", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LString(checkedQuote(L, L.CheckString(1), L.OptString(2, "/"), false)))
		return 1
	}))
	t.RawSetString("quote_plus", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LString(checkedQuote(L, L.CheckString(1), L.OptString(2, ""), true)))
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
		var items [][2]string
		str := func(v glua.LValue) string {
			if v == st.null {
				return "None"
			}
			return glua.LVAsString(L.ToStringMeta(v))
		}
		add := func(ks string, v glua.LValue) {
			if sub, ok := v.(*glua.LTable); ok {
				for i := 1; i <= sub.Len(); i++ {
					items = append(items, [2]string{ks, str(sub.RawGetInt(i))})
				}
				return
			}
			items = append(items, [2]string{ks, str(v)})
		}
		if n := pairCount(tb); n > 0 {
			// A sequence of {key, value} pairs, as Python's
			// urlencode([("a", 1), ("a", 2)]): kept in order.
			for i := 1; i <= n; i++ {
				p := tb.RawGetInt(i).(*glua.LTable)
				add(str(p.RawGetInt(1)), p.RawGetInt(2))
			}
		} else {
			tb.ForEach(func(k, v glua.LValue) { add(str(k), v) })
			sort.SliceStable(items, func(i, j int) bool { return items[i][0] < items[j][0] })
		}
		L.Push(glua.LString(joinForm(L, items)))
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
			msg := st.logMessage(L)
			if m, cut := st.e.mask.MaskCut(msg, maxLogMsg); cut {
				msg = m + "...(truncated)"
			} else {
				msg = m
			}
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

// maxLogMsg bounds a _logger message; longer ones are truncated.
const maxLogMsg = 64 << 10

// logMessage returns the text of a _logger call's arguments: Python's
// msg % args, or the arguments joined with spaces when that fails. Only
// as much is built as masking and truncation to maxLogMsg can use (one
// secret form's length more), plus a byte that tells the text was longer.
func (st *state) logMessage(L *glua.LState) string {
	limit := maxLogMsg + st.e.mask.Longest()
	msg := L.ToStringMeta(L.Get(1)).String()
	n := L.GetTop()
	if n <= 1 {
		return msg
	}
	args := make([]glua.LValue, 0, n-1)
	for i := 2; i <= n; i++ {
		args = append(args, L.Get(i))
	}
	if f, isStr := L.Get(1).(glua.LString); isStr {
		if formatted, ok := pyPercent(L, st.null, string(f), args, limit); ok {
			return formatted
		}
	}
	var b strings.Builder
	put := capWriter(&b, limit)
	put(msg)
	for _, a := range args {
		put(" ")
		put(L.ToStringMeta(a).String())
	}
	return b.String()
}

// capWriter returns a function that writes to b until it holds limit+1
// bytes, and drops the rest.
func capWriter(b *strings.Builder, limit int) func(string) {
	return func(s string) {
		if room := limit + 1 - b.Len(); room > 0 {
			b.WriteString(s[:min(len(s), room)])
		}
	}
}

// pySpec is one parsed % directive: flags, width and precision.
type pySpec struct {
	minus, plus, space, zero, alt bool
	width, prec                   int
	hasPrec                       bool
}

// pad returns head+body padded to the width, Python style: spaces on the
// right with "-", zeros between head (sign, prefix) and body with "0",
// else spaces on the left.
func (sp pySpec) pad(head, body string) string {
	fill := sp.width - utf8.RuneCountInString(head) - utf8.RuneCountInString(body)
	switch {
	case fill <= 0:
		return head + body
	case sp.minus:
		return head + body + strings.Repeat(" ", fill)
	case sp.zero:
		return head + strings.Repeat("0", fill) + body
	}
	return strings.Repeat(" ", fill) + head + body
}

// sign is the sign Python writes before a number.
func (sp pySpec) sign(neg bool) string {
	switch {
	case neg:
		return "-"
	case sp.plus:
		return "+"
	case sp.space:
		return " "
	}
	return ""
}

// pyPercent is Python's format % args for %s, %r, %d, %i, %u, %f, %F, %e,
// %E, %g, %G, %x, %X, %o and %%, with flags "-+ 0#", width, precision and
// the ignored length modifiers h, l, L. Lua values print as Python would:
// nil and null as None, booleans as True/False, the rest through tostring.
// ok is false where Python raises (too few or too many arguments, a
// non-number for a numeric directive, a non-integer for %x/%X/%o, an
// unknown or incomplete directive) and when a width or precision exceeds
// limit. Output past limit is not rendered, but the rest is still checked.
func pyPercent(L *glua.LState, null glua.LValue, format string, args []glua.LValue, limit int) (string, bool) {
	var b strings.Builder
	put := capWriter(&b, limit)
	next := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			j := strings.IndexByte(format[i:], '%')
			if j < 0 {
				j = len(format) - i
			}
			put(format[i : i+j])
			i += j - 1
			continue
		}
		i++
		if i < len(format) && format[i] == '%' {
			put("%")
			continue
		}
		var sp pySpec
	flags:
		for ; i < len(format); i++ {
			switch format[i] {
			case '-':
				sp.minus = true
			case '+':
				sp.plus = true
			case ' ':
				sp.space = true
			case '0':
				sp.zero = true
			case '#':
				sp.alt = true
			default:
				break flags
			}
		}
		num := func() (int, bool) {
			n := 0
			for ; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
				if n = n*10 + int(format[i]-'0'); n > limit {
					return 0, false
				}
			}
			return n, true
		}
		var ok bool
		if sp.width, ok = num(); !ok {
			return "", false
		}
		if i < len(format) && format[i] == '.' {
			i++
			sp.hasPrec = true
			if sp.prec, ok = num(); !ok {
				return "", false
			}
		}
		for i < len(format) && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L') {
			i++
		}
		if i >= len(format) || next >= len(args) {
			return "", false
		}
		s, ok := sp.render(L, null, format[i], args[next], b.Len() > limit, limit)
		if !ok {
			return "", false
		}
		next++
		put(s)
	}
	if next != len(args) {
		return "", false
	}
	return b.String(), true
}

// render formats one argument for verb; skip only checks it. Of a string,
// only the first limit+1 bytes are rendered.
func (sp pySpec) render(L *glua.LState, null glua.LValue, verb byte, v glua.LValue, skip bool, limit int) (string, bool) {
	if verb == 's' || verb == 'r' {
		if skip {
			return "", true
		}
		var s string
		switch x := v.(type) {
		case *glua.LNilType:
			s = "None"
		case glua.LBool:
			s = "False"
			if x {
				s = "True"
			}
		case glua.LString:
			s = string(x)
			if len(s) > limit {
				s = s[:limit+1]
			}
			if verb == 'r' {
				s = pyRepr(s)
			}
		default:
			if v == null {
				s = "None"
			} else if s = L.ToStringMeta(v).String(); len(s) > limit {
				s = s[:limit+1]
			}
		}
		if sp.hasPrec && utf8.RuneCountInString(s) > sp.prec {
			n := 0
			for i := range s {
				if n == sp.prec {
					s = s[:i]
					break
				}
				n++
			}
		}
		sp.zero = false
		return sp.pad("", s), true
	}
	n, isNum := v.(glua.LNumber)
	if !isNum {
		return "", false
	}
	f := float64(n)
	switch verb {
	case 'd', 'i', 'u', 'x', 'X', 'o':
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", false
		}
		t := math.Trunc(f)
		if t != f && verb != 'd' && verb != 'i' && verb != 'u' {
			return "", false // %x of a float: "an integer is required"
		}
		if skip {
			return "", true
		}
		base, prefix := 10, ""
		switch verb {
		case 'x':
			base, prefix = 16, "0x"
		case 'X':
			base, prefix = 16, "0X"
		case 'o':
			base, prefix = 8, "0o"
		}
		if !sp.alt {
			prefix = ""
		}
		var digits string
		if a := math.Abs(t); a < 1<<63 {
			digits = strconv.FormatUint(uint64(a), base)
		} else {
			bi, _ := new(big.Float).SetFloat64(a).Int(nil)
			digits = bi.Text(base)
		}
		if verb == 'X' {
			digits = strings.ToUpper(digits)
		}
		if sp.hasPrec && len(digits) < sp.prec {
			digits = strings.Repeat("0", sp.prec-len(digits)) + digits
		}
		return sp.pad(sp.sign(t < 0)+prefix, digits), true
	case 'f', 'F', 'e', 'E', 'g', 'G':
		if skip {
			return "", true
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			word := "inf"
			if math.IsNaN(f) {
				word = "nan"
			}
			if verb == 'F' || verb == 'E' || verb == 'G' {
				word = strings.ToUpper(word)
			}
			return sp.pad(sp.sign(math.Signbit(f)), word), true
		}
		prec := 6
		if sp.hasPrec {
			prec = sp.prec
		}
		gf := "%." + strconv.Itoa(prec) + string(verb)
		if sp.alt {
			gf = "%#." + strconv.Itoa(prec) + string(verb)
		}
		return sp.pad(sp.sign(math.Signbit(f)), fmt.Sprintf(gf, math.Abs(f))), true
	}
	return "", false
}

// pyRepr is Python's repr of a str: single quotes (double when the text
// holds ' but no "), with \\, \n, \r, \t and \x, \u, \U escapes for
// characters Python does not print; invalid UTF-8 bytes show as \xNN.
func pyRepr(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	const hexL = "0123456789abcdef"
	b := make([]byte, 0, len(s)+2)
	b = append(b, q)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		c := s[i]
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, '\\', 'x', hexL[c>>4], hexL[c&15])
		case c == q || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case unicode.IsPrint(r):
			b = append(b, s[i:i+size]...)
		case r < 0x100:
			b = append(b, '\\', 'x', hexL[r>>4], hexL[r&15])
		case r < 0x10000:
			b = append(b, fmt.Sprintf("\\u%04x", r)...)
		default:
			b = append(b, fmt.Sprintf("\\U%08x", r)...)
		}
		i += size
	}
	return string(append(b, q))
}

func sortStrings(s []string) { sort.Strings(s) }
