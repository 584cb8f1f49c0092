package lua

import (
	"context"
	"time"
)

// Effects stands in for the outside world of the calls run with a context
// made by WithEffects: requests.* calls go to HTTP and subprocess.run calls
// to Run instead of the network and the process table. `towerhook test` and
// `call --mock` use it (docs/testing.md "Test your definitions"); nothing real is sent
// or started. An error from either raises in Lua, as a real failure would.
type Effects interface {
	// HTTP answers one requests.* call (spec as the real client gets it).
	HTTP(ctx context.Context, spec HTTPSpec) (HTTPResponse, error)
	// Run answers one subprocess.run call (spec.Cred is the run_as user).
	Run(ctx context.Context, spec ProcSpec) (ProcResult, error)
}

type effectsKey struct{}

type clockKey struct{}

// WithEffects returns a context whose calls use eff for requests and
// subprocess. Engine.Run looks it up only when code calls one of them, so
// calls without it pay nothing.
func WithEffects(ctx context.Context, eff Effects) context.Context {
	return context.WithValue(ctx, effectsKey{}, eff)
}

// WithClock returns a context whose calls see now in time.time() and
// time.strftime (tests pin the time that signatures and tolerances use).
func WithClock(ctx context.Context, now time.Time) context.Context {
	return context.WithValue(ctx, clockKey{}, now)
}

// effects returns the running call's Effects, or nil for the real world.
func (st *state) effects() Effects {
	if st.cur.ctx == nil {
		return nil
	}
	eff, _ := st.cur.ctx.Value(effectsKey{}).(Effects)
	return eff
}

// now is the running call's clock: WithClock's time, else the real one.
func (st *state) now() time.Time {
	if st.cur.ctx != nil {
		if t, ok := st.cur.ctx.Value(clockKey{}).(time.Time); ok {
			return t
		}
	}
	return time.Now()
}

// doHTTP performs a requests.* call: through the call's Effects, else the
// real client.
func (st *state) doHTTP(spec HTTPSpec) (HTTPResponse, error) {
	if eff := st.effects(); eff != nil {
		return eff.HTTP(st.cur.ctx, spec)
	}
	return st.e.http.Do(st.cur.ctx, spec)
}

// runProc runs a subprocess.run call for the script named ref: through the
// call's Effects, else the real runner.
func (st *state) runProc(ctx context.Context, ref string, spec ProcSpec) (ProcResult, error) {
	if eff := st.effects(); eff != nil {
		return eff.Run(ctx, spec)
	}
	return st.e.proc.Run(ctx, ref, spec)
}
