package lua

import (
	"context"
	"strconv"
)

// Lua 5.1 patterns for string.find, match, gmatch and gsub (README "Lua
// patterns"): findPattern compiles a pattern (pattern_compile.go) and runs
// the backtracking matcher (pattern_match.go) at each starting position.
// The matcher counts its steps and checks the call's context every
// patCheckEvery steps, so a pathological pattern ends at the deadline.

const (
	patAtEOS   = -1 // patternError.pos: the pattern ended too early
	patNoPlace = -2 // patternError.pos: the error has no position
	// patCheckEvery is how many matcher steps pass between two looks at the
	// call's context.
	patCheckEvery = 1 << 12
	// patMaxBacktrack bounds the pending choices (one per repeated item
	// on the current path), so a huge pattern cannot take unbounded memory.
	patMaxBacktrack = 200000
)

// patternError is a malformed pattern or a match that could not finish. Its
// texts are the ones scripts have always seen ("unexpected EOS at 3",
// "invalid capture index", ...).
type patternError struct {
	msg string
	pos int // byte offset in the pattern, patAtEOS or patNoPlace
}

func (e *patternError) Error() string {
	switch e.pos {
	case patNoPlace:
		return e.msg
	case patAtEOS:
		return e.msg + " at EOS"
	}
	return e.msg + " at " + strconv.Itoa(e.pos)
}

// patternCapture is one capture of a match: the text src[start:end], or for
// a position capture the 0-based offset start.
type patternCapture struct {
	start, end int
	position   bool
}

// patternMatch is one match: src[start:end] and its captures in pattern
// order.
type patternMatch struct {
	start, end int
	caps       []patternCapture
}

// findPattern returns up to limit matches of pattern in src, searching from
// byte offset init (limit < 0: all; a limit of 0 stops after a first
// position that does not match, as the string library always did). After a
// match the search resumes at its end, or one byte further when it was
// empty; an anchored pattern is tried at init only.
func findPattern(ctx context.Context, pattern, src string, init, limit int) ([]patternMatch, error) {
	p, err := compilePattern(pattern)
	if err != nil {
		return nil, err
	}
	m := newPatMatcher(ctx, p, src)
	var out []patternMatch
	var backing []patternCapture
	for sp := init; sp <= len(src); {
		if len(out) != limit { // a failed try with limit 0 must still stop the search
			if sp = m.skip(sp); sp > len(src) {
				break
			}
		}
		end := m.matchAt(sp)
		if m.err != nil {
			return nil, m.err
		}
		next := sp + 1
		if end < 0 {
			next = m.afterFailure(sp)
		} else {
			backing = append(backing, m.caps...)
			caps := backing[len(backing)-len(m.caps) : len(backing) : len(backing)]
			if len(caps) == 0 {
				caps = nil
			}
			out = append(out, patternMatch{start: sp, end: end, caps: caps})
			next = max(next, end)
		}
		sp = next
		if len(out) == limit || p.anchored {
			break
		}
	}
	return out, nil
}
