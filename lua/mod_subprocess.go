package lua

import (
	"math"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// optTable returns argument n as a table (nil when absent).
func optTable(L *glua.LState, n int) *glua.LTable {
	switch v := L.Get(n).(type) {
	case *glua.LTable:
		return v
	case *glua.LNilType:
		return nil
	}
	L.ArgError(n, "table expected")
	return nil
}

// stringMap converts a Lua table of scalars into a map (nil for nil).
func stringMap(L *glua.LState, v glua.LValue, what string) map[string]string {
	t, ok := v.(*glua.LTable)
	if !ok {
		if v != glua.LNil {
			L.RaiseError("%s must be a table", what)
		}
		return nil
	}
	m := make(map[string]string)
	total := 0
	t.ForEach(func(k, v glua.LValue) {
		switch v.(type) {
		case glua.LString, glua.LNumber, glua.LBool:
			ks, vs := glua.LVAsString(L.ToStringMeta(k)), L.ToStringMeta(v).String()
			if total += len(ks) + len(vs); total <= MaxStringSize {
				m[ks] = vs
			}
		}
	})
	if total > MaxStringSize {
		L.RaiseError("%s", errTextTooLarge(what).Error())
	}
	return m
}

// checkTextLen raises when n bytes of what pass MaxStringSize.
func checkTextLen(L *glua.LState, what string, n int) {
	if n > MaxStringSize {
		L.RaiseError("%s", errTextTooLarge(what).Error())
	}
}

// seconds reads an optional timeout in seconds.
func seconds(L *glua.LState, v glua.LValue) time.Duration {
	n, ok := v.(glua.LNumber)
	if !ok {
		return 0
	}
	f := float64(n)
	if math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f > 86400 {
		f = 86400
	}
	return time.Duration(f * float64(time.Second))
}

// openSubprocess builds subprocess.run(argv, {cwd, env, input, timeout}) ->
// {returncode, stdout, stderr, truncated, timed_out}. No shell; the child runs
// as the call's RunAs user with a minimal environment, bounded by the deadline.
func (st *state) openSubprocess() *glua.LTable {
	L := st.L
	t := L.CreateTable(0, 1)
	t.RawSetString("run", L.NewFunction(func(L *glua.LState) int {
		at := L.CheckTable(1)
		spec := ProcSpec{}
		total := 0
		for i := 1; i <= at.Len(); i++ {
			switch v := at.RawGetInt(i).(type) {
			case glua.LString, glua.LNumber:
				spec.Argv = append(spec.Argv, v.String())
				total += len(spec.Argv[len(spec.Argv)-1])
				checkTextLen(L, "argv", total)
			default:
				L.ArgError(1, "argv must be a list of strings")
			}
		}
		if opts := optTable(L, 2); opts != nil {
			if cwd, ok := opts.RawGetString("cwd").(glua.LString); ok {
				spec.Cwd = string(cwd)
			}
			spec.Env = stringMap(L, opts.RawGetString("env"), "env")
			if in, ok := opts.RawGetString("input").(glua.LString); ok {
				checkTextLen(L, "input", len(in))
				spec.Input = []byte(in)
			}
			spec.Timeout = seconds(L, opts.RawGetString("timeout"))
		}
		cs := st.cur
		if cs.call != nil {
			spec.Cred = cs.call.RunAs
		}
		ref := ""
		if cs.call != nil {
			ref = cs.call.Reference
		}
		res, err := st.runProc(cs.ctx, ref, spec)
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		r := L.CreateTable(0, 5)
		r.RawSetString("returncode", glua.LNumber(res.ReturnCode))
		r.RawSetString("stdout", glua.LString(st.keptOutput(res.Stdout)))
		r.RawSetString("stderr", glua.LString(st.keptOutput(res.Stderr)))
		r.RawSetString("truncated", glua.LBool(res.Truncated))
		r.RawSetString("timed_out", glua.LBool(res.TimedOut))
		L.Push(r)
		return 1
	}))
	return t
}

// keptOutput is a subprocess's stream as Lua gets it: when the cap cut it
// (unmasked), without a secret the cut split.
func (st *state) keptOutput(s string) string {
	if len(s) < procOutputCap {
		return s
	}
	return st.e.mask.TrimCut(s)
}
