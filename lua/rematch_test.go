package lua

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// matchesOf lists eachMatch's matches of pat in s.
func matchesOf(t testing.TB, st *state, pat, s string, n int) [][]int {
	re, err := regexp.Compile(pat)
	if err != nil {
		t.Skip()
	}
	var got [][]int
	st.eachMatch(st.L, re, s, n, func(loc []int) { got = append(got, slices.Clone(loc)) })
	return got
}

// TestEachMatch: one match at a time lists what FindAllStringSubmatchIndex
// lists, assertions that look back (^, \A, \b, \B) included.
func TestEachMatch(t *testing.T) {
	st := testEngine(t, Options{}).newState()
	for _, tc := range []struct{ pat, s string }{
		{"(a)", "aaaa"}, {"a*", "baaab"}, {"", "héllo"}, {`\b\w`, "ab cd_e f"}, {`\B.`, "ab cd"},
		{"^a", "aaa"}, {"(?m)^a", "a\na\naa"}, {`\Aa`, "aa"}, {"a|", "xax"}, {"x*?", "xx"},
		{`(?i)(A)(b)?`, "aAbab"}, {"$", "a\nb"}, {"(?m)$", "a\nb\n"}, {".", "a\xffé"}, {`\b`, "é a"},
	} {
		re := regexp.MustCompile(tc.pat)
		for _, n := range []int{-1, 1, 2} {
			want := re.FindAllStringSubmatchIndex(tc.s, n)
			if got := matchesOf(t, st, tc.pat, tc.s, n); !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("%q in %q (n=%d): %v, want %v", tc.pat, tc.s, n, got, want)
			}
		}
	}
}

// FuzzEachMatch holds eachMatch to FindAllStringSubmatchIndex.
func FuzzEachMatch(f *testing.F) {
	for _, s := range []string{`\b\w+`, "(?m)^(a|b)", "a*", `\B`, "x?"} {
		f.Add(s, "ab a\nba  b")
	}
	e := NewEngine(Options{})
	defer e.Close()
	st := e.newState()
	f.Fuzz(func(t *testing.T, pat, s string) {
		re, err := regexp.Compile(pat)
		if err != nil || len(pat) > 64 {
			return
		}
		want := re.FindAllStringSubmatchIndex(s, -1)
		if got := matchesOf(t, st, pat, s, -1); !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("%q in %q: %v, want %v", pat, s, got, want)
		}
	})
}

// TestRegexpDeadline: findall, sub and split of 4 MiB with a match per
// byte stop at the call's deadline (they ran 2.2 s past a 1 s timeout),
// so they build a small part of their 4 million matches: listing them
// all first took more than 128 MiB.
func TestRegexpDeadline(t *testing.T) {
	e := testEngine(t, Options{})
	for _, code := range []string{
		`re.findall("(a)", s)`,
		`re.sub("(a)", "b", s)`,
		`re.split("(a)", s)`,
	} {
		script := mustCompile(t, `local s = string.rep("a", 4 * 2^20) `+code)
		var r *Result
		n := allocDuring(func() {
			r = e.Run(context.Background(), &Call{Kind: KindWebhook, Script: script, Timeout: 20 * time.Millisecond})
		})
		if !r.TimedOut || !strings.Contains(r.Err.Error(), "timed out") {
			t.Errorf("%s: %v", code, r.Err)
		}
		if n > 100<<20 {
			t.Errorf("%s: allocated %d MiB", code, n>>20)
		}
		t.Logf("%s: allocated %d MiB", code, n>>20)
	}
}
