//go:build !linux

package daemon

import "os"

// fdatasync flushes f's data (the benchmarks' reference group commit).
func fdatasync(f *os.File) error { return f.Sync() }
