package definitions

import (
	"bytes"
	"strings"

	"go.yaml.in/yaml/v3"
)

// codeLineMap tells how the Lua lines of a code value n map to file lines:
// first is the file line of Lua line 1 and starts, when not nil, the file
// line each Lua line starts on (see codeFileLine); nil means Lua line k is
// on file line first+k-1. keyLine is the line of the code key, the answer
// for every Lua line when the exact line cannot be known.
//
//   - A literal block (code: |) keeps every line: linear from the line after
//     the header.
//   - A folded block (code: >) joins lines; its lines are mapped by replaying
//     the folding on the source lines, and only if the replay yields exactly
//     the decoded value. Otherwise every Lua line maps to keyLine.
//   - A flow scalar (plain or quoted) on one Lua line maps to its first
//     line; one whose value spans Lua lines (folded plain lines, "\n"
//     escapes) maps every Lua line to keyLine.
func codeLineMap(src *source, keyLine int, n *yaml.Node) (first int, starts []int) {
	switch {
	case n.Style&yaml.LiteralStyle != 0:
		return n.Line + 1, nil
	case n.Style&yaml.FoldedStyle != 0:
		if s := foldedStarts(src, n.Line, n.Value); s != nil {
			return n.Line + 1, s
		}
		return n.Line + 1, []int{keyLine}
	case !strings.Contains(n.Value, "\n"):
		return n.Line, nil
	default:
		return n.Line, []int{keyLine}
	}
}

// codeFileLine maps Lua line luaLine of code (clamped to the code's lines)
// to a file line, given codeLineMap's first and starts. A Lua line that
// folding made of several file lines maps to the first of them.
func codeFileLine(code string, first int, starts []int, luaLine int) int {
	luaLine = min(max(luaLine, 1), luaLineCount(code))
	if starts != nil {
		return starts[min(luaLine, len(starts))-1]
	}
	return first + luaLine - 1
}

// luaLineCount is the number of the last non-blank line of code (at least 1).
func luaLineCount(code string) int {
	return strings.Count(strings.TrimRight(code, " \t\r\n"), "\n") + 1
}

// foldedStarts replays YAML's folding of a block scalar (libyaml's rules,
// which yaml.v3 follows) whose ">" header is on file line header, and
// returns the file line each resulting line starts on. It returns nil when
// the replay does not reproduce value exactly (an explicit indentation
// indicator, line breaks other than \n and \r\n, a tag on its own line,
// ...), so a mapping it returns is never wrong.
func foldedStarts(src *source, header int, value string) []int {
	// yaml.v3 also breaks lines at a lone \r, NEL, LS and PS: its line
	// numbers would not match ours.
	if bytes.Contains(bytes.ReplaceAll(src.data, []byte("\r\n"), nil), []byte("\r")) ||
		bytes.Contains(src.data, []byte("\u0085")) || bytes.Contains(src.data, []byte("\u2028")) ||
		bytes.Contains(src.data, []byte("\u2029")) {
		return nil
	}
	lines := src.lines()
	if header < 1 || header >= len(lines) {
		return nil
	}
	body := lines[header:] // body[i] is file line header+1+i
	// Auto-detected indentation: the most leading spaces of the empty lines
	// before the first content line and of that line.
	indent := 0
	for _, l := range body {
		s := leadingSpaces(l)
		indent = max(indent, s)
		if s < len(l) {
			break
		}
	}
	if indent == 0 {
		return nil
	}
	var out strings.Builder
	starts := []int{header + 1}
	// leadingBreak: a content line was written (its line break is pending);
	// leadingBlank: that line starts with a blank (more indented).
	leadingBreak, leadingBlank, empty := false, false, 0
	for i, l := range body {
		line := header + 1 + i
		s := leadingSpaces(l)
		if s == len(l) && s <= indent {
			empty++
			continue
		}
		if s < indent {
			break // a less indented line ends the block
		}
		content := l[indent:]
		trailingBlank := content[0] == ' ' || content[0] == '\t'
		breaks := empty
		switch {
		case !leadingBreak:
		case leadingBlank || trailingBlank:
			breaks++ // more-indented lines keep their line breaks
		case empty == 0:
			out.WriteByte(' ') // the fold: a single line break reads as a space
		}
		for k := breaks - 1; k >= 0; k-- {
			starts = append(starts, line-k)
		}
		out.WriteString(strings.Repeat("\n", breaks))
		out.WriteString(content)
		leadingBreak, leadingBlank, empty = true, trailingBlank, 0
	}
	if out.Len() == 0 || strings.TrimRight(out.String(), "\n") != strings.TrimRight(value, "\n") {
		return nil
	}
	return starts
}

// leadingSpaces counts the spaces (not tabs) at the start of l.
func leadingSpaces(l string) int {
	return len(l) - len(strings.TrimLeft(l, " "))
}
