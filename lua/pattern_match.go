package lua

import (
	"context"
	"fmt"
)

// The matcher walks the compiled items forward and keeps a stack of pending
// choices, one per repeated item on the current path, instead of recursing:
// when an item fails it resumes the newest choice (one byte fewer for '*'
// and '+', one byte more for '-', none for '?'). Captures need no undo: a
// capture read by an item was set on the current path by an earlier item,
// and resuming a choice re-runs every item after it.

// patChoice is a pending alternative of the repeated item at index item:
// the item started at sp and currently takes k bytes.
type patChoice struct {
	item int
	sp   int
	k    int
}

// patMatcher matches one compiled pattern against one subject.
type patMatcher struct {
	ctx   context.Context
	p     *compiledPattern
	src   string
	caps  []patternCapture
	stack []patChoice
	steps int // work done; the context is checked when it reaches check
	check int
	err   error
	// first is the set of bytes a match must start with, when the pattern
	// begins (after captures) with an item that takes at least one byte.
	first     *byteSet
	firstByte int // the only byte of first, or -1
	// run is the set of a leading "X*", "X+" or "X-" that afterFailure may
	// skip over, or nil.
	run *byteSet
}

func newPatMatcher(ctx context.Context, p *compiledPattern, src string) *patMatcher {
	m := &patMatcher{ctx: ctx, p: p, src: src, caps: make([]patternCapture, p.ncap), check: patCheckEvery, firstByte: -1}
	if p.anchored {
		return m
	}
	lead := 0 // the first item that is not a capture's start
	for lead < len(p.items) && (p.items[lead].kind == patOpen || p.items[lead].kind == patPosition) {
		lead++
	}
	if lead == len(p.items) || p.items[lead].kind != patSingle {
		return m
	}
	it := &p.items[lead]
	switch it.rep {
	case 0, '+':
		m.first = &p.sets[it.set]
		m.firstByte = onlyByte(m.first)
	}
	// A capture started before the run would make its start visible to a
	// back-reference.
	if (it.rep == '*' || it.rep == '+' || it.rep == '-') && (lead == 0 || !hasBackref(p)) {
		m.run = &p.sets[it.set]
	}
	return m
}

func hasBackref(p *compiledPattern) bool {
	for i := range p.items {
		if p.items[i].kind == patBackref {
			return true
		}
	}
	return false
}

// onlyByte returns the member of a one-byte set, or -1.
func onlyByte(s *byteSet) int {
	found := -1
	for c := 0; c < 256; c++ {
		if s.has(byte(c)) {
			if found >= 0 {
				return -1
			}
			found = c
		}
	}
	return found
}

// skip returns the first position from sp where a match can start, or
// len(src)+1 when there is none.
func (m *patMatcher) skip(sp int) int {
	if m.first == nil {
		return sp
	}
	src := m.src
	if m.firstByte >= 0 {
		for i := sp; i < len(src); i++ {
			if src[i] == byte(m.firstByte) {
				return i
			}
		}
		return len(src) + 1
	}
	for i := sp; i < len(src); i++ {
		if m.first.has(src[i]) {
			return i
		}
	}
	return len(src) + 1
}

// afterFailure returns the next position worth trying after the match at sp
// failed. When the pattern starts (after captures) with a repeated item
// ("X*", "X+", "X-"), the try at sp has already run the rest of the pattern
// at every position the item could reach from sp, and the rest cannot tell
// where the item started, so a start inside that run fails too: ".*b" and
// "(%w+)=" scan once, not once per position.
func (m *patMatcher) afterFailure(sp int) int {
	set := m.run
	if set == nil {
		return sp + 1
	}
	k := 0
	for sp+k < len(m.src) && set.has(m.src[sp+k]) {
		k++
	}
	m.tick(k)
	return sp + k + 1
}

// tick records n steps of work and looks at the context when due. It
// reports false once the match must stop (m.err is set).
func (m *patMatcher) tick(n int) bool {
	m.steps += n
	if m.steps < m.check {
		return true
	}
	m.check = m.steps + patCheckEvery
	if m.ctx != nil {
		if err := m.ctx.Err(); err != nil {
			m.err = &patternError{msg: fmt.Sprintf("pattern matching interrupted: %v", err), pos: patNoPlace}
			return false
		}
	}
	return true
}

func (m *patMatcher) fail(msg string) int {
	m.err = &patternError{msg: msg, pos: patNoPlace}
	return -1
}

// matchAt matches the whole pattern at sp and returns the end of the match,
// or -1 (with m.err set when the match was stopped or reached an invalid
// back-reference).
func (m *patMatcher) matchAt(sp int) int {
	items := m.p.items
	m.stack = m.stack[:0]
	for i := 0; ; {
		if i == len(items) {
			return sp
		}
		if !m.tick(1) {
			return -1
		}
		next, ok := m.step(&items[i], i, sp)
		if m.err != nil {
			return -1
		}
		if ok {
			i, sp = i+1, next
			continue
		}
		if i, sp, ok = m.backtrack(); !ok {
			return -1
		}
	}
}

// step runs the item at index i from sp: the position after it, or false.
func (m *patMatcher) step(it *patItem, i, sp int) (int, bool) {
	src := m.src
	switch it.kind {
	case patSingle:
		return m.single(it, i, sp)
	case patOpen:
		m.caps[it.n] = patternCapture{start: sp}
	case patClose:
		m.caps[it.n].end = sp
	case patPosition:
		m.caps[it.n] = patternCapture{start: sp, end: sp, position: true}
	case patBackref:
		return m.backref(it, sp)
	case patBalance:
		return m.balance(it, sp)
	case patFrontier:
		var prev, cur byte
		if sp > 0 {
			prev = src[sp-1]
		}
		if sp < len(src) {
			cur = src[sp]
		}
		set := &m.p.sets[it.set]
		return sp, !set.has(prev) && set.has(cur)
	case patEnd:
		return sp, sp == len(src)
	}
	return sp, true
}

// single runs a one-byte item with its quantifier, pushing a choice when
// there is an alternative to come back to.
func (m *patMatcher) single(it *patItem, i, sp int) (int, bool) {
	src, set := m.src, &m.p.sets[it.set]
	one := sp < len(src) && set.has(src[sp])
	switch it.rep {
	case 0:
		return sp + 1, one
	case '?':
		if !one {
			return sp, true
		}
		return sp + 1, m.push(patChoice{item: i, sp: sp, k: 1})
	case '-':
		return sp, m.push(patChoice{item: i, sp: sp})
	}
	k := 0
	for sp+k < len(src) && set.has(src[sp+k]) {
		k++
	}
	if !m.tick(k) {
		return sp, false
	}
	least := 0
	if it.rep == '+' {
		least = 1
	}
	if k < least {
		return sp, false
	}
	if k > least && !m.push(patChoice{item: i, sp: sp, k: k}) {
		return sp, false
	}
	return sp + k, true
}

func (m *patMatcher) push(c patChoice) bool {
	if len(m.stack) >= patMaxBacktrack {
		m.fail("pattern/input too complex")
		return false
	}
	m.stack = append(m.stack, c)
	return true
}

// backtrack resumes the newest pending choice: the item after it and the
// position to go on from.
func (m *patMatcher) backtrack() (int, int, bool) {
	items, src := m.p.items, m.src
	for len(m.stack) > 0 {
		c := &m.stack[len(m.stack)-1]
		it := &items[c.item]
		switch it.rep {
		case '?':
			m.stack = m.stack[:len(m.stack)-1]
			return c.item + 1, c.sp, true
		case '-':
			if c.sp < len(src) && m.p.sets[it.set].has(src[c.sp]) {
				c.sp++
				return c.item + 1, c.sp, true
			}
			m.stack = m.stack[:len(m.stack)-1]
		default: // '*', '+'
			c.k--
			i, sp := c.item+1, c.sp+c.k
			if c.k == 0 || (c.k == 1 && it.rep == '+') {
				m.stack = m.stack[:len(m.stack)-1]
			}
			return i, sp, true
		}
	}
	return 0, 0, false
}

// backref matches the text of an earlier capture again. A position capture
// has no text and always matches, as it always did here.
func (m *patMatcher) backref(it *patItem, sp int) (int, bool) {
	if it.bad {
		return m.fail("invalid capture index"), false
	}
	c := m.caps[it.n]
	if c.position {
		return sp, true
	}
	text := m.src[c.start:c.end]
	if !m.tick(len(text)) {
		return sp, false
	}
	if len(m.src)-sp < len(text) || m.src[sp:sp+len(text)] != text {
		return sp, false
	}
	return sp + len(text), true
}

// balance matches %bxy: x, then up to the y that balances it.
func (m *patMatcher) balance(it *patItem, sp int) (int, bool) {
	src := m.src
	x, y := int(it.x), int(it.y)
	if x < 0 || y < 0 || sp >= len(src) || int(src[sp]) != x {
		return sp, false
	}
	depth := 1
	for j := sp + 1; j < len(src); j++ {
		switch int(src[j]) {
		case y:
			if depth--; depth == 0 {
				return j + 1, m.tick(j - sp)
			}
		case x:
			depth++
		}
	}
	m.tick(len(src) - sp)
	return sp, false
}
