package daemon

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data (the benchmarks' reference group commit).
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
