package definitions

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// atLineRe finds the line a gopher-lua compile error names in its message
// ("no visible label 'x' for <goto> at line 2", "<goto x> at line 1 jumps
// into the scope of local 'y'"): for those errors CompileError.Line is the
// end of the enclosing function (past the code for the main chunk) or the
// line after the label, not the offending goto.
var atLineRe = regexp.MustCompile(`\bat line (\d+)\b`)

// dupLabelRe matches gopher-lua's duplicate label error, whose
// CompileError.Line is the line after the second label (the message names
// the first one).
var dupLabelRe = regexp.MustCompile(`^label '[^']*' already defined on line \d+$`)

// LuaErrorLine returns the Lua line of code that a gopher-lua compile error
// (lua.CompileError's Message and Line) refers to: the line the message
// names when it names the offending one ("... at line N"), the duplicate
// label's own line for "label 'x' already defined", else line; always
// within code's lines (1 to its last non-blank line). The daemon's compile
// step uses it too, so both report alike.
func LuaErrorLine(msg string, line int, code string) int {
	last := luaLineCount(code)
	if m := atLineRe.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n >= 1 && n <= last {
			return n
		}
	} else if dupLabelRe.MatchString(msg) && line > 1 {
		line--
	}
	return min(max(line, 1), last)
}

// luaProblem is a Lua syntax or compile error in one code.
type luaProblem struct {
	line int // 1-based line within the code
	msg  string
}

// checkLua parses and compiles code with gopher-lua and reports the first
// problem, or nil. It stands in for the lua package's compile step so that
// `validate` catches syntax errors; it never runs the code.
func checkLua(code, name string) (p *luaProblem) {
	defer func() {
		if r := recover(); r != nil {
			p = &luaProblem{line: 1, msg: fmt.Sprint(r)}
		}
	}()
	chunk, err := parse.Parse(strings.NewReader(code), name)
	if err != nil {
		if pe, ok := err.(*parse.Error); ok {
			line := pe.Pos.Line
			msg := pe.Message
			if line == parse.EOF || line <= 0 {
				line = strings.Count(strings.TrimRight(code, " \t\r\n"), "\n") + 1
				msg += " at end of code"
			} else if pe.Token != "" {
				msg += fmt.Sprintf(" near '%s'", pe.Token)
			}
			return &luaProblem{line: line, msg: msg}
		}
		return &luaProblem{line: 1, msg: err.Error()}
	}
	if chunk == nil && strings.TrimSpace(code) != "" {
		// parse.Parse swallows panics that are not errors.
		return &luaProblem{line: 1, msg: "cannot parse code"}
	}
	if _, err := lua.Compile(chunk, name); err != nil {
		if ce, ok := err.(*lua.CompileError); ok {
			return &luaProblem{line: LuaErrorLine(ce.Message, ce.Line, code), msg: ce.Message}
		}
		return &luaProblem{line: 1, msg: err.Error()}
	}
	return nil
}

// LuaErrorText is the text of a Lua syntax error in a load error: msg (with
// every secret value masked, see SecretMasker) and the Lua line it refers
// to. The daemon's compile step uses it too, so both report alike.
func LuaErrorText(msg string, luaLine int, secrets []string) string {
	return fmt.Sprintf("lua syntax error: %s (lua line %d)", SecretMasker(secrets).Mask(msg), luaLine)
}
