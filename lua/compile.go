package lua

import (
	"fmt"
	"strings"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// chunkName is the source name compiled into every proto; runtime error
// positions ("<lua>:3:") are rewritten to "line 3:" before leaving the package.
const chunkName = "<lua>"

// CompileError is a Lua syntax error with the Lua line (1-based) it refers to.
type CompileError struct {
	// Line is the 1-based Lua line (the last line for an unexpected end).
	Line int
	// Msg is the plain message, e.g. "line 3: syntax error near 'end'".
	Msg string
}

// Error returns Msg.
func (e *CompileError) Error() string { return e.Msg }

// Script is compiled Lua code, shared read-only by every state.
type Script struct {
	// Name is the chunk name used in error messages (e.g. the reference).
	Name string
	// proto is the precompiled function prototype (immutable once built).
	proto *glua.FunctionProto
	// payloadKeys are the only top-level payload members the code reads,
	// when projected (see projection.go).
	payloadKeys []string
	projected   bool
}

// Compile parses and compiles code once. A syntax error is a *CompileError.
func Compile(name, code string) (*Script, error) {
	chunk, err := parse.Parse(strings.NewReader(code), chunkName)
	if err != nil {
		return nil, compileErr(err, code)
	}
	proto, err := glua.Compile(chunk, chunkName)
	if err != nil {
		return nil, compileErr(err, code)
	}
	// The main chunk never sees Lua 5.0's implicit `arg` table (the compiler
	// declares that local only in nested vararg functions), so do not let
	// the VM build an unreachable {n = 0} table on every call.
	proto.IsVarArg &^= glua.VarArgNeedsArg
	noTailCalls(proto)
	keys, projected := payloadKeys(chunk)
	return &Script{Name: name, proto: proto, payloadKeys: keys, projected: projected}, nil
}

// noTailCalls turns the proper tail calls of p and its nested functions
// into plain calls. The compiler emits `return f(x)` as CALL A B 0 turned
// into TAILCALL, followed by RETURN A 0; setting the opcode back gives the
// plain call with the same results. Why: gopher-lua counts tail calls per
// frame and, when an error (a deadline) ends such a loop, builds a
// traceback line for each of them, seconds and gigabytes after the
// deadline for a runaway `local function f() return f() end`. As plain
// calls, a runaway tail recursion ends at the call stack bound (a "stack
// overflow" error), like any other recursion.
func noTailCalls(p *glua.FunctionProto) {
	const opShift, opMask = 26, 0x3ffffff
	for i, inst := range p.Code {
		if int(inst>>opShift) == glua.OP_TAILCALL {
			p.Code[i] = inst&opMask | uint32(glua.OP_CALL)<<opShift
		}
	}
	for _, c := range p.FunctionPrototypes {
		noTailCalls(c)
	}
}

func compileErr(err error, code string) *CompileError {
	switch e := err.(type) {
	case *parse.Error:
		if e.Pos.Line == parse.EOF {
			line := strings.Count(code, "\n") + 1
			return &CompileError{Line: line, Msg: fmt.Sprintf("line %d: %s at end of code", line, e.Message)}
		}
		msg := fmt.Sprintf("line %d: %s", e.Pos.Line, e.Message)
		if e.Token != "" {
			msg += fmt.Sprintf(" near '%s'", e.Token)
		}
		return &CompileError{Line: e.Pos.Line, Msg: msg}
	case *glua.CompileError:
		return &CompileError{Line: e.Line, Msg: fmt.Sprintf("line %d: %s", e.Line, e.Message)}
	}
	// Lexer errors are plain errors carrying "<lua> line:N(column:M) ...".
	return &CompileError{Msg: cleanText(err.Error())}
}
