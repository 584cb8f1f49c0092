package lua

import (
	"context"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// awaitExit returns once the process pid has exited (it stays a zombie
// until Wait reaps it), or ctx has ended, or at once where pidfds are not
// available (Linux before 5.3, seccomp).
//
// os/exec's Wait blocks in waitid, a system call during which the Go
// runtime keeps the goroutine's P until its monitor wakes up, which under
// steady load is up to 10 ms later. With many children waited on at once
// that idled the CPUs (subprocess loopback benchmark: ~2 of 3 Ps held in
// system calls). A pidfd becomes readable when its process exits, so the
// runtime's poller can wait for it with no thread held; Wait then reaps a
// process that has already exited.
func awaitExit(ctx context.Context, pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd") // non-blocking: polled by the runtime
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	// Read waits for readiness whenever the function reports false; an
	// error (the deadline set above, a poller failure) ends the wait and
	// Wait takes over.
	_ = rc.Read(func(fd uintptr) bool {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(p, 0)
		return err != nil || (n > 0 && p[0].Revents != 0)
	})
}
