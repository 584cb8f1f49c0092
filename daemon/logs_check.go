package daemon

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"towerhook/logs"
)

// ExitDamagedLog is serve's exit status when the call log is damaged
// (README "Call log and retention"): a systemd unit stops restarting on it
// (RestartPreventExitStatus=3) instead of checking the file in a loop.
const ExitDamagedLog = 3

// ServeExitCode is serve's exit status for Serve's error: ExitDamagedLog
// for a damaged call log, else 1.
func ServeExitCode(err error) int {
	if errors.Is(err, logs.ErrDamaged) {
		return ExitDamagedLog
	}
	return 1
}

// checkLog is towerhook logs --check: it checks the store under --data
// (./data by default) and its journal without opening them for use, prints
// what it found and exits 0 when all is sound, else 1.
func checkLog(o LogsOptions, stdout, stderr io.Writer) int {
	dir := o.Data
	if dir == "" {
		dir = "data"
	}
	rep, err := logs.Check(filepath.Join(dir, logs.FileName), 2*time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "towerhook logs --check: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, rep.String())
	if !rep.OK() {
		return 1
	}
	return 0
}
