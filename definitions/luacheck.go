package definitions

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

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
			line := ce.Line
			if line <= 0 {
				line = 1
			}
			return &luaProblem{line: line, msg: ce.Message}
		}
		return &luaProblem{line: 1, msg: err.Error()}
	}
	return nil
}

// LuaErrorText is the text of a Lua syntax error in a load error: msg (with
// every secret value masked; secrets sorted longest first, as
// Set.SecretValues) and the Lua line it refers to. The daemon's compile step
// uses it too, so both report alike.
func LuaErrorText(msg string, luaLine int, secrets []string) string {
	return fmt.Sprintf("lua syntax error: %s (lua line %d)", MaskSecrets(msg, secrets), luaLine)
}

// MaskSecrets replaces every secret value (and its Lua literal form) in s
// by "*****". values must be sorted longest first (Set.SecretValues is).
func MaskSecrets(s string, values []string) string {
	for _, v := range values {
		if v == "" {
			continue
		}
		lit := LuaString(v)
		if strings.Contains(s, lit) {
			s = strings.ReplaceAll(s, lit, "*****")
		}
		inner := lit[1 : len(lit)-1]
		if inner != v && strings.Contains(s, inner) {
			s = strings.ReplaceAll(s, inner, "*****")
		}
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "*****")
		}
	}
	return s
}
