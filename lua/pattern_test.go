package lua

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// patternCase is one line of testdata/patterns.txt.
type patternCase struct {
	line                   int
	pattern, subject, want string
}

// readPatternCases parses testdata/patterns.txt: three Go string literals a
// line; blank lines and '#' comments are skipped.
func readPatternCases(t *testing.T) []patternCase {
	t.Helper()
	f, err := os.Open("testdata/patterns.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []patternCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		rest := strings.TrimSpace(sc.Text())
		if rest == "" || rest[0] == '#' {
			continue
		}
		var fields []string
		for rest != "" {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				t.Fatalf("patterns.txt:%d: %v", n, err)
			}
			v, _ := strconv.Unquote(q)
			fields = append(fields, v)
			rest = strings.TrimSpace(rest[len(q):])
		}
		if len(fields) != 3 {
			t.Fatalf("patterns.txt:%d: want 3 fields, got %d", n, len(fields))
		}
		cases = append(cases, patternCase{n, fields[0], fields[1], fields[2]})
	}
	return cases
}

// TestPatternExamples checks the examples of testdata/patterns.txt, and
// that upstream gives the same answer wherever it is comparable.
func TestPatternExamples(t *testing.T) {
	for _, tc := range readPatternCases(t) {
		ms, err := findPattern(context.Background(), tc.pattern, tc.subject, 0, -1)
		got := fmtOurs(ms)
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != tc.want {
			t.Errorf("patterns.txt:%d: %q in %q: got %q, want %q", tc.line, tc.pattern, tc.subject, got, tc.want)
		}
		if d := diffPattern(tc.pattern, tc.subject, 0, -1); d != "" {
			t.Errorf("patterns.txt:%d: %q in %q: %s", tc.line, tc.pattern, tc.subject, d)
		}
	}
}

// TestPatternLimitAndInit: the search start and the match limit of
// findPattern, including the limit 0 that stops at a first failed try.
func TestPatternLimitAndInit(t *testing.T) {
	for _, tc := range []struct {
		pattern, subject string
		init, limit      int
		want             string
	}{
		{"a", "banana", 0, 2, "[1 2][3 4]"},
		{"a", "banana", 2, -1, "[3 4][5 6]"},
		{"a", "banana", 6, -1, ""},
		{"", "ab", 2, -1, "[2 2]"},
		{"a", "banana", 0, 0, ""},
		{"b", "banana", 0, 0, "[0 1]"},
		{"^a", "aaa", 1, -1, "[1 2]"},
		{"%w*", "ab cd", 0, -1, "[0 2][2 2][3 5][5 5]"},
	} {
		ms, err := findPattern(context.Background(), tc.pattern, tc.subject, tc.init, tc.limit)
		if got := fmtOurs(ms); err != nil || got != tc.want {
			t.Errorf("%q in %q from %d limit %d: got %q (%v), want %q", tc.pattern, tc.subject, tc.init, tc.limit, got, err, tc.want)
		}
		if d := diffPattern(tc.pattern, tc.subject, tc.init, tc.limit); d != "" {
			t.Errorf("%q in %q: %s", tc.pattern, tc.subject, d)
		}
	}
}

// TestPatternStringLibrary: find, match, gmatch and gsub through the
// engine, with position captures, replacement strings, tables and
// functions, and pattern errors as scripts see them.
func TestPatternStringLibrary(t *testing.T) {
	e := testEngine(t, Options{})
	for _, tc := range []struct{ expr, want string }{
		{`table.concat({string.find("hello world", "o w")}, ",")`, "5,7"},
		{`table.concat({string.find("flaaap", "()aa()")}, ",")`, "3,4,3,5"},
		{`table.concat({string.find("a.b", ".", 1, true)}, ",")`, "2,2"},
		{`tostring(string.find("abc", "b", -1))`, "nil"},
		{`table.concat({string.match("key=val", "(%w+)=(%w+)")}, ",")`, "key,val"},
		{`string.match("  trim  ", "^%s*(.-)%s*$")`, "trim"},
		{`string.match("THE (quick) fox", "%f[%a]%a+", 4)`, "quick"},
		{`(function() local t = {} for k, v in string.gmatch("a=1, b=2", "(%w+)=(%w+)") do t[#t+1] = k .. v end return table.concat(t, ";") end)()`, "a1;b2"},
		{`(string.gsub("hello world", "(%w+)", "<%1>"))`, "<hello> <world>"},
		{`(string.gsub("abc", "", "-"))`, "-a-b-c-"},
		{`(string.gsub("abc", "()", "%1"))`, "1a2b3c4"},
		{`(string.gsub("$x $y", "%$(%w+)", {x = "1"}))`, "1 $y"},
		{`(string.gsub("a b", "%w", function(c) return c:upper() end))`, "A B"},
		{`select(2, string.gsub("aaa", "a", "b", 2))`, "2"},
		{`select(2, pcall(string.find, "a", "[a"))`, "unexpected EOS at 1"},
		{`select(2, pcall(string.gsub, "a", "(a)", "%2"))`, "invalid capture index"},
		{`select(2, pcall(string.match, "a", "(a%1)"))`, "invalid capture index"},
	} {
		r := run(t, e, KindWebhook, "result.message = "+tc.expr, nil)
		if r.Err != nil || !strings.HasSuffix(r.Message, tc.want) {
			t.Errorf("%s\n got %q (err %v)\nwant %q", tc.expr, r.Message, r.Err, tc.want)
		}
	}
}

// TestPatternRunaway: a pattern that would backtrack for hours ends at the
// call's deadline with the usual timeout error, for every string function
// that matches patterns.
func TestPatternRunaway(t *testing.T) {
	e := testEngine(t, Options{})
	for _, code := range []string{
		`string.find(string.rep("a", 1e6), ".-.-.-.-b")`,
		`string.match(string.rep("a", 1e6), "(.-)(.-)(.-)b")`,
		`string.gmatch(string.rep("a", 1e6), ".*.*.*b")`,
		`string.gsub(string.rep("(", 1e6), "%b()%b()b", "")`,
	} {
		r := run(t, e, KindWebhook, code, func(c *Call) { c.Timeout = 200 * time.Millisecond })
		if r.Err == nil || !r.TimedOut || !strings.Contains(r.Err.Error(), "execution timed out") {
			t.Errorf("%s: timedOut=%v err=%v", code, r.TimedOut, r.Err)
		}
	}
}
