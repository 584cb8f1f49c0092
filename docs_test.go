package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The documentation's links: every relative link in README.md and
// docs/*.md names a file or folder of the repository, and every #anchor a
// heading of its target, by GitHub's anchor rules. This keeps the docs
// navigable on GitHub as they change.

var (
	docLinkRE    = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)
	docHeadingRE = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*\s*$`)
	docCodeRE    = regexp.MustCompile("`[^`\n]*`")
)

// docAnchor is GitHub's anchor of a heading's text: lower case, every
// character other than a letter, digit, space, '-' or '_' dropped, spaces
// turned into '-'.
func docAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func TestDocsAnchor(t *testing.T) {
	tests := []struct{ heading, want string }{
		{"Quick start", "quick-start"},
		{"Responses (status table)", "responses-status-table"},
		{"External client (wrk)", "external-client-wrk"},
		{"Install and release", "install-and-release"},
		{"`serve` flags", "serve-flags"},
		{"Call log and retention", "call-log-and-retention"},
		{"Lua API: `json.dumps`", "lua-api-jsondumps"},
		{"snake_case & co.", "snake_case--co"},
	}
	for _, tt := range tests {
		if got := docAnchor(tt.heading); got != tt.want {
			t.Errorf("docAnchor(%q) = %q, want %q", tt.heading, got, tt.want)
		}
	}
}

// docProse returns the lines of a Markdown text outside fenced code blocks,
// with inline code spans removed.
func docProse(text string) []string {
	var out []string
	fence := false
	for _, ln := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(ln), "```") {
			fence = !fence
			out = append(out, "")
			continue
		}
		if fence {
			out = append(out, "")
			continue
		}
		out = append(out, docCodeRE.ReplaceAllString(ln, ""))
	}
	return out
}

// docAnchors returns the anchors of a Markdown text's headings; a repeated
// heading gets -1, -2, ... as on GitHub.
func docAnchors(text string) map[string]bool {
	seen := map[string]int{}
	anchors := map[string]bool{}
	fence := false
	for _, ln := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(ln), "```") {
			fence = !fence
			continue
		}
		m := docHeadingRE.FindStringSubmatch(ln)
		if fence || m == nil {
			continue
		}
		a := docAnchor(m[1])
		if n := seen[a]; n > 0 {
			anchors[a+"-"+strconv.Itoa(n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

func TestDocsLinks(t *testing.T) {
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{"README.md"}, files...)
	if len(files) < 2 {
		t.Fatalf("no docs/*.md found")
	}
	texts := map[string]string{}
	read := func(path string) (string, error) {
		if s, ok := texts[path]; ok {
			return s, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		texts[path] = string(b)
		return texts[path], nil
	}
	links := 0
	for _, file := range files {
		text, err := read(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, ln := range docProse(text) {
			for _, m := range docLinkRE.FindAllStringSubmatch(ln, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				links++
				where := file + ":" + strconv.Itoa(i+1) + ": " + target
				path, anchor, _ := strings.Cut(target, "#")
				dest := file
				if path != "" {
					dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
					if _, err := os.Stat(dest); err != nil {
						t.Errorf("%s: %v", where, err)
						continue
					}
				}
				if anchor == "" {
					continue
				}
				if !strings.HasSuffix(dest, ".md") {
					t.Errorf("%s: an anchor into a file that is not Markdown", where)
					continue
				}
				destText, err := read(dest)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				if !docAnchors(destText)[anchor] {
					t.Errorf("%s: no heading with anchor #%s in %s", where, anchor, dest)
				}
			}
		}
	}
	if links == 0 {
		t.Fatal("no relative links found: the link pattern is broken")
	}
}
