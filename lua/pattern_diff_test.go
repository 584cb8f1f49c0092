package lua

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/yuin/gopher-lua/pm"
)

// The pattern matcher is held to gopher-lua's own (github.com/yuin/gopher-lua/pm,
// which the string library used before): same matches, same captures, same
// error texts, for every pattern and subject, except where upstream has no
// answer to compare with:
//
//   - "%f[set]" is the frontier pattern here; upstream reads "%f" as the
//     letter f. Patterns holding a frontier are not compared.
//   - A back-reference to a capture that is still open ("(a(b)%1)") is the
//     error "invalid capture index" here, as in Lua; upstream reads a stale
//     slot (an empty text, or a Go panic).
//   - A back-reference to a position capture matches the empty text here;
//     upstream does too, but panics when the position is past the subject.
//   - Matches cut short by the step cap of this test (a pathological pattern
//     that would take seconds) are not compared.

// diffStepCap ends our side after about diffStepCap*patCheckEvery steps.
const diffStepCap = 200

// stepCapCtx is a context whose Err turns non-nil after max calls: the
// matcher asks it every patCheckEvery steps, so it caps the work
// deterministically.
type stepCapCtx struct {
	context.Context
	calls, max int
}

var errStepCap = errors.New("step cap")

func (c *stepCapCtx) Err() error {
	if c.calls++; c.calls > c.max {
		return errStepCap
	}
	return nil
}

// upstreamFind runs gopher-lua's matcher, turning a Go panic into an error
// marked "panic".
func upstreamFind(pattern, subject string, init, limit int) (ms []*pm.MatchData, err error, panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			err, panicked = fmt.Errorf("panic: %v", v), true
		}
	}()
	ms, err = pm.Find(pattern, []byte(subject), init, limit)
	return ms, err, false
}

// openBackref reports whether p refers back to a capture that is open where
// the reference stands (upstream's stale-slot case).
func openBackref(p *compiledPattern) bool {
	started := 0
	for _, it := range p.items {
		switch it.kind {
		case patOpen, patPosition:
			started++
		case patBackref:
			if it.bad && int(it.n) < started {
				return true
			}
		}
	}
	return false
}

func hasKind(p *compiledPattern, k patKind) bool {
	for _, it := range p.items {
		if it.kind == k {
			return true
		}
	}
	return false
}

// diffPattern compares one search with upstream and describes a difference
// ("" when both agree or the case is not comparable).
func diffPattern(pattern, subject string, init, limit int) string {
	p, cerr := compilePattern(pattern)
	if cerr == nil && hasKind(p, patFrontier) {
		return ""
	}
	ours, err := findPattern(&stepCapCtx{Context: context.Background(), max: diffStepCap}, pattern, subject, init, limit)
	if err != nil && strings.Contains(err.Error(), errStepCap.Error()) {
		return ""
	}
	theirs, uerr, panicked := upstreamFind(pattern, subject, init, limit)
	if cerr == nil && (openBackref(p) || panicked && hasKind(p, patBackref)) {
		if err != nil && err.Error() != "invalid capture index" {
			return fmt.Sprintf("stale back-reference: want invalid capture index or a match, got %v", err)
		}
		return ""
	}
	if err != nil || uerr != nil {
		if err == nil || uerr == nil || err.Error() != uerr.Error() {
			return fmt.Sprintf("errors differ: ours %v, upstream %v", err, uerr)
		}
		return ""
	}
	if got, want := fmtOurs(ours), fmtUpstream(theirs); got != want {
		return fmt.Sprintf("matches differ:\n  ours     %s\n  upstream %s", got, want)
	}
	return ""
}

// fmtOurs and fmtUpstream write matches the same way: "[start end cap...]"
// with position captures as p<1-based position>.
func fmtOurs(ms []patternMatch) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "[%d %d", m.start, m.end)
		for _, c := range m.caps {
			if c.position {
				fmt.Fprintf(&b, " p%d", c.start+1)
			} else {
				fmt.Fprintf(&b, " %d-%d", c.start, c.end)
			}
		}
		b.WriteString("]")
	}
	return b.String()
}

func fmtUpstream(ms []*pm.MatchData) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "[%d %d", m.Capture(0), m.Capture(1))
		for i := 2; i < m.CaptureLength(); i += 2 {
			if m.IsPosCapture(i) {
				fmt.Fprintf(&b, " p%d", m.Capture(i))
			} else {
				fmt.Fprintf(&b, " %d-%d", m.Capture(i), m.Capture(i+1))
			}
		}
		b.WriteString("]")
	}
	return b.String()
}

// patTokens are the pieces token-built patterns are made of: mostly items
// that match the subject alphabet, then every other kind of item, the
// malformed endings and the quirks at set and range borders.
var patTokens = []string{
	"a", "b", "x", ".", "a", "b", "%a", "%w", "%s", "(", ")", "()", "*", "+", "-", "?",
	"*", "+", "-", "?", "(a*)", "(.-)", "[ab]", "[^a]", "%1", "%b()", "$", "^",
	// patCommon ends here
	"%d", "%p", "%l", "%u", "%x", "%c", "%z", "%A", "%W", "%S", "%%", "%.", "%]", "%-",
	"%", "[", "]", "[^", "%2", "%0", "%bab", "%b", "%f[%w]", "%f", "[a-c]", "-]", "%g",
	"\x00", "\xe9", " ", "1", "=", "[%a_]", "[]", "[^]", "[a-]", "[%a-z]", "[a-c-e]",
	"[]-a]", "[.-b]", "[%]]", "[^]]",
}

// patCommon is how many of patTokens are common items.
const patCommon = 28

// subjectBytes are what token-built subjects are made of, the first ones
// more often.
const subjectBytes = "aaabbbxx()( 1ab=-]%[^$\x00\xe9A_."

func tokenPattern(raw []byte) string {
	var b strings.Builder
	for _, c := range raw {
		n := len(patTokens)
		if c < 192 { // three in four: the common items
			n = patCommon
		}
		b.WriteString(patTokens[int(c)%n])
	}
	return b.String()
}

func tokenSubject(raw string) string {
	b := []byte(raw)
	for i, c := range b {
		b[i] = subjectBytes[int(c)%len(subjectBytes)]
	}
	return string(b)
}

// diffCase bounds the sizes and maps fuzz input onto a search.
func diffCase(raw []byte, subject string, init, limit int8, tokens bool) (string, string, int, int) {
	if len(raw) > 24 {
		raw = raw[:24]
	}
	if len(subject) > 64 {
		subject = subject[:64]
	}
	pattern := string(raw)
	if tokens {
		pattern, subject = tokenPattern(raw), tokenSubject(subject)
	}
	return pattern, subject, int(init) & 7 % (len(subject) + 1), int(limit)%4 - 1
}

// FuzzPatternDiff holds findPattern to gopher-lua's matcher (see the top of
// this file for the cases not compared).
func FuzzPatternDiff(f *testing.F) {
	for _, s := range []string{"(%w+)=(%w+)", "(%w+)=%1", ".-(a*)b%1", "%bxy", "()aa()", "[%a_][%w_]*", "^a-$", "(a)%1", "[a-c-e]", "[%a-z]", "[]]", "(()", "%"} {
		f.Add([]byte(s), "key=val xaay [b]a_1 aa", int8(0), int8(-1), false)
	}
	f.Add([]byte{1, 30, 0, 31, 5, 3}, "ab()x1", int8(0), int8(-1), true)
	f.Fuzz(func(t *testing.T, raw []byte, subject string, init, limit int8, tokens bool) {
		pattern, subject, i, l := diffCase(raw, subject, init, limit, tokens)
		if d := diffPattern(pattern, subject, i, l); d != "" {
			t.Fatalf("pattern %q subject %q init %d limit %d: %s", pattern, subject, i, l, d)
		}
	})
}

// TestPatternDiffRandom runs the comparison of FuzzPatternDiff over a fixed
// set of random token-built searches in every test run.
func TestPatternDiffRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(16))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for k := 0; k < n; k++ {
		raw := make([]byte, 1+rng.Intn(6))
		rng.Read(raw)
		sub := make([]byte, rng.Intn(24))
		rng.Read(sub)
		pattern, subject, i, l := diffCase(raw, string(sub), int8(rng.Intn(3)), int8(rng.Intn(4)), true)
		if d := diffPattern(pattern, subject, i, l); d != "" {
			t.Fatalf("pattern %q subject %q init %d limit %d: %s", pattern, subject, i, l, d)
		}
	}
}

// TestPatternClassesDiff compares every %class, alone and in a set, with
// upstream on every byte.
func TestPatternClassesDiff(t *testing.T) {
	for _, l := range "acdlpsuwxzACDLPSUWXZbfgq%." {
		for c := 0; c < 256; c++ {
			for _, p := range []string{"%" + string(l), "[%" + string(l) + "]", "[^%" + string(l) + "]"} {
				if d := diffPattern(p, string([]byte{byte(c)}), 0, -1); d != "" {
					t.Fatalf("%q on byte %d: %s", p, c, d)
				}
			}
		}
	}
}
