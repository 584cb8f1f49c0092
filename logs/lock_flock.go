//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package logs

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// lockShared takes a shared lock on f (the one bbolt's readers take; a
// writer holds it exclusively), waiting up to timeout; it reports false
// when the lock stayed taken. Closing f releases it.
func lockShared(f *os.File, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return false, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}
