package daemon

import (
	"runtime"
	"runtime/debug"
)

// TuneRuntime applies the Go runtime settings `towerhook serve` runs with,
// each unless its environment variable (read through getenv) is set, and
// returns a function that restores the previous values:
//
//   - GOGC 300: Lua states allocate many short-lived tables; a less eager GC
//     measured +20-30% throughput on the loopback benchmark for a few tens
//     of MiB more heap (GOMEMLIMIT still caps it).
//   - GOMAXPROCS one above the default: the call-log writer spends most of
//     its time in fdatasync, a blocking system call during which Go keeps
//     the writer's P; the runtime's monitor hands such a P on only after it
//     wakes, which under steady load is up to 10 ms later. On 2 CPUs the
//     durable loopback benchmark idled a quarter of the CPU that way; one
//     extra P keeps every CPU busy (+10-25% req/s, see docs/benchmarks.md).
func TuneRuntime(getenv func(string) string) (restore func()) {
	gc, procs := -1, 0
	if getenv("GOGC") == "" {
		gc = debug.SetGCPercent(300)
	}
	if getenv("GOMAXPROCS") == "" {
		procs = runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
	return func() {
		if gc != -1 {
			debug.SetGCPercent(gc)
		}
		if procs != 0 {
			runtime.GOMAXPROCS(procs)
		}
	}
}
