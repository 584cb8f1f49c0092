package lua

// Compiling a Lua 5.1 pattern (README "Lua patterns") into a flat list of
// items that pattern_match.go walks. Every single-byte item, whether a
// literal, '.', a %class or a [set], becomes one 256-bit byteSet, so the
// matcher tests any byte with one shift and mask.
//
// Where the string library here has always answered differently from the
// reference Lua 5.1, it still does (held to gopher-lua's matcher by
// FuzzPatternDiff; README "Lua patterns" lists the cases): '%' at the end
// of a pattern and '%b' without both delimiters are items that never match;
// a range inside a set matches only when both ends are plain bytes
// ("[%a-z]" and "[a-c-e]" match nothing); '%f' not followed by '[' is the
// letter 'f'.

// patKind says what one compiled item does.
type patKind uint8

const (
	patSingle   patKind = iota // one byte of set, possibly repeated (rep)
	patOpen                    // a capture starts here
	patClose                   // the innermost open capture ends here
	patPosition                // a position capture "()"
	patBackref                 // %1-%9: the text of an earlier capture again
	patBalance                 // %bxy
	patFrontier                // %f[set]
	patEnd                     // '$' at the very end: the subject's end
)

// patItem is one compiled element of a pattern.
type patItem struct {
	kind patKind
	rep  byte // patSingle: 0 (once), '*', '+', '-' or '?'
	// bad marks a back-reference to a capture that is not closed where the
	// reference stands: reaching it is an error, as in Lua.
	bad bool
	// n is the capture index (0-based) of patOpen, patClose, patPosition
	// and patBackref.
	n int32
	// x and y are the delimiters of patBalance, -1 when the pattern ended.
	x, y int16
	set  int32 // patSingle and patFrontier: the index of the set in sets
}

// compiledPattern is a pattern ready to match.
type compiledPattern struct {
	items    []patItem
	sets     []byteSet // each distinct set once: an item stays 16 bytes
	ncap     int
	anchored bool // '^': only the first starting position is tried
}

// byteSet is a set of bytes, one bit each.
type byteSet [4]uint64

func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }

func (s *byteSet) add(c byte) { s[c>>6] |= 1 << (c & 63) }

func (s *byteSet) addRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s.add(byte(c))
	}
}

func (s *byteSet) addSet(o *byteSet) {
	for i := range s {
		s[i] |= o[i]
	}
}

func (s *byteSet) invert() {
	for i := range s {
		s[i] = ^s[i]
	}
}

func singleByte(c byte) byteSet {
	var s byteSet
	s.add(c)
	return s
}

// classSet returns the set named by the letter after '%' (a c d l p s u w x z
// and their upper-case complements, ASCII as in the C locale), or the
// letter itself when it names no class.
func classSet(letter byte) byteSet {
	ranges := classRanges(letter | 0x20)
	if ranges == "" {
		return singleByte(letter)
	}
	var s byteSet
	for i := 0; i+1 < len(ranges); i += 2 {
		s.addRange(ranges[i], ranges[i+1])
	}
	if letter >= 'A' && letter <= 'Z' {
		s.invert()
	}
	return s
}

// classRanges lists the class named by a lower-case letter as pairs of
// first and last bytes ("" when the letter names no class).
func classRanges(letter byte) string {
	switch letter {
	case 'a':
		return "AZaz"
	case 'c':
		return "\x00\x1f\x7f\x7f"
	case 'd':
		return "09"
	case 'l':
		return "az"
	case 'p':
		return "!/:@[`{~"
	case 's':
		return "\t\r  "
	case 'u':
		return "AZ"
	case 'w':
		return "09AZaz"
	case 'x':
		return "09AFaf"
	case 'z':
		return "\x00\x00"
	}
	return ""
}

// patCompiler reads a pattern left to right.
type patCompiler struct {
	p      string
	i      int // next byte to read
	out    compiledPattern
	open   []int  // indexes of the captures still open, innermost last
	closed []bool // per capture: closed (or a position capture)
	setIDs map[byteSet]int32
}

// compilePattern parses p; errors carry the texts the string library has
// always reported (see patternError).
func compilePattern(p string) (*compiledPattern, error) {
	c := &patCompiler{p: p}
	// Every item takes at least one byte of the pattern.
	c.out.items = make([]patItem, 0, len(p))
	c.out.sets = make([]byteSet, 0, 4)
	if len(p) > 0 && p[0] == '^' {
		c.out.anchored = true
		c.i = 1
	}
	for c.i < len(p) {
		if err := c.item(); err != nil {
			return nil, err
		}
	}
	if len(c.open) > 0 {
		return nil, &patternError{msg: "unfinished capture", pos: patAtEOS}
	}
	c.out.ncap = len(c.closed)
	return &c.out, nil
}

func (c *patCompiler) emit(it patItem) { c.out.items = append(c.out.items, it) }

// setID returns the index of s in c.out.sets, adding it when new. A few
// sets are searched in place; a map indexes them once there are many.
func (c *patCompiler) setID(s byteSet) int32 {
	const scan = 8
	if c.setIDs == nil && len(c.out.sets) < scan {
		for i := range c.out.sets {
			if c.out.sets[i] == s {
				return int32(i)
			}
		}
	} else {
		if c.setIDs == nil {
			c.setIDs = make(map[byteSet]int32)
			for i, o := range c.out.sets {
				c.setIDs[o] = int32(i)
			}
		}
		if id, ok := c.setIDs[s]; ok {
			return id
		}
		c.setIDs[s] = int32(len(c.out.sets))
	}
	c.out.sets = append(c.out.sets, s)
	return int32(len(c.out.sets) - 1)
}

// item compiles the element at c.i.
func (c *patCompiler) item() error {
	p := c.p
	switch ch := p[c.i]; {
	case ch == '(':
		return c.capture()
	case ch == ')':
		if len(c.open) == 0 {
			return &patternError{msg: "invalid ')'", pos: max(c.i-1, 0)}
		}
		n := c.open[len(c.open)-1]
		c.open = c.open[:len(c.open)-1]
		c.closed[n] = true
		c.emit(patItem{kind: patClose, n: int32(n)})
		c.i++
		return nil
	case ch == '$' && c.i == len(p)-1 && len(c.open) == 0:
		c.emit(patItem{kind: patEnd})
		c.i++
		return nil
	case ch == '%' && c.i+1 < len(p):
		return c.escape()
	}
	return c.singleItem()
}

// singleItem compiles a one-byte class and the quantifier after it.
func (c *patCompiler) singleItem() error {
	set, err := c.single()
	if err != nil {
		return err
	}
	it := patItem{kind: patSingle, set: c.setID(set)}
	if c.i < len(c.p) && isQuantifier(c.p[c.i]) {
		it.rep = c.p[c.i]
		c.i++
	}
	c.emit(it)
	return nil
}

func isQuantifier(ch byte) bool { return ch == '*' || ch == '+' || ch == '-' || ch == '?' }

// capture compiles '(' as an opening or, for "()", a position capture.
func (c *patCompiler) capture() error {
	n := len(c.closed)
	if c.i+1 < len(c.p) && c.p[c.i+1] == ')' {
		c.closed = append(c.closed, true)
		c.emit(patItem{kind: patPosition, n: int32(n)})
		c.i += 2
		return nil
	}
	c.closed = append(c.closed, false)
	c.open = append(c.open, n)
	c.emit(patItem{kind: patOpen, n: int32(n)})
	c.i++
	return nil
}

// escape compiles the '%' items that are not single bytes (%b, %f[, %0-%9);
// the others fall through to single.
func (c *patCompiler) escape() error {
	p := c.p
	switch d := p[c.i+1]; {
	case d == 'b':
		it := patItem{kind: patBalance, x: -1, y: -1}
		if c.i+2 < len(p) {
			it.x = int16(p[c.i+2])
		}
		if c.i+3 < len(p) {
			it.y = int16(p[c.i+3])
		}
		c.i = min(c.i+4, len(p))
		c.emit(it)
		return nil
	case d == 'f' && c.i+2 < len(p) && p[c.i+2] == '[':
		c.i += 2
		set, err := c.bracket()
		if err != nil {
			return err
		}
		c.emit(patItem{kind: patFrontier, set: c.setID(set)})
		return nil
	case d == '0':
		return &patternError{msg: "invalid capture index", pos: c.i}
	case d >= '1' && d <= '9':
		n := int(d - '1')
		c.emit(patItem{kind: patBackref, n: int32(n), bad: n >= len(c.closed) || !c.closed[n]})
		c.i += 2
		return nil
	}
	return c.singleItem()
}

// single compiles one byte class: '.', a set, an escape or a literal byte.
// A '%' that ends the pattern is a class matching nothing.
func (c *patCompiler) single() (byteSet, error) {
	p := c.p
	switch ch := p[c.i]; ch {
	case '.':
		c.i++
		var all byteSet
		all.invert()
		return all, nil
	case '[':
		return c.bracket()
	case '%':
		c.i++
		if c.i >= len(p) {
			return byteSet{}, nil
		}
		c.i++
		return classSet(p[c.i-1]), nil
	default:
		c.i++
		return singleByte(ch), nil
	}
}

// bracket compiles the set "[...]" starting at c.i. A ']' or '-' before the
// first member is a member. After a member, '-' (or several) makes the
// next member the end of a range starting with it; a '-' left over at the
// closing ']' is a member.
func (c *patCompiler) bracket() (byteSet, error) {
	p := c.p
	c.i++ // '['
	negate := c.i < len(p) && p[c.i] == '^'
	if negate {
		c.i++
	}
	var set byteSet // the members before last
	var last setMember
	empty, dash := true, false
	for {
		if c.i >= len(p) {
			return set, &patternError{msg: "unexpected EOS", pos: len(p) - 1}
		}
		if ch := p[c.i]; !empty && (ch == ']' || ch == '-') {
			c.i++
			if ch == '-' {
				dash = true
				continue
			}
			if dash {
				last.set.add('-')
			}
			break
		}
		m, err := c.member()
		if err != nil {
			return set, err
		}
		if dash {
			m = last.rangeTo(m)
			dash = false
		} else {
			set.addSet(&last.set)
		}
		last, empty = m, false
	}
	set.addSet(&last.set)
	if negate {
		set.invert()
	}
	return set, nil
}

// setMember is one element of a set: a plain byte, an escape or a range.
type setMember struct {
	set   byteSet
	plain bool // a single unescaped byte: may be an end of a range
	b     byte
}

// member compiles one plain byte or '%' escape of a set at c.i.
func (c *patCompiler) member() (setMember, error) {
	p := c.p
	if p[c.i] != '%' {
		c.i++
		return setMember{set: singleByte(p[c.i-1]), plain: true, b: p[c.i-1]}, nil
	}
	if c.i+1 >= len(p) {
		return setMember{}, &patternError{msg: "unexpected EOS", pos: patAtEOS}
	}
	c.i += 2
	return setMember{set: classSet(p[c.i-1])}, nil
}

// rangeTo is the range from m to hi: the bytes between them when both are
// plain bytes, else nothing.
func (m setMember) rangeTo(hi setMember) setMember {
	var r setMember
	if m.plain && hi.plain {
		r.set.addRange(m.b, hi.b)
	}
	return r
}
