package daemon

import (
	"strconv"
	"strings"
)

// codeErrorAt points a runtime Lua error at the YAML, as load errors do
// (docs/responses.md): the runtime's "line N: message" (N a
// line of the code) becomes "FILE:L: message", L being the definitions
// file line that code line is on (fileLine, the definition's FileLine).
// A message without a line (a timeout, error() with a table) gets the
// record's own file:line. file is relative to --dir.
func codeErrorAt(file string, recordLine int, fileLine func(int) int, text string) string {
	line := recordLine
	if rest, ok := strings.CutPrefix(text, "line "); ok {
		if i := strings.Index(rest, ":"); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil && n > 0 {
				line, text = fileLine(n), strings.TrimLeft(rest[i+1:], " ")
			}
		}
	}
	return file + ":" + strconv.Itoa(line) + ": " + text
}
