package lua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	// procPATH is the only PATH a child sees (unless spec.Env sets one).
	procPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// procOutputCap bounds captured stdout and stderr, each.
	procOutputCap = 1 << 20
	// procWaitDelay bounds how long Wait waits for the output pipes to close
	// after the child exited or was killed (grandchildren may hold them).
	procWaitDelay = time.Second
)

// ProcSpec describes one subprocess.run call.
type ProcSpec struct {
	// Argv is the program and its arguments; no shell is involved. An
	// argv[0] without a slash is looked up in the child's PATH (the minimal
	// PATH, or Env["PATH"] when set).
	Argv []string
	// Cwd is the working directory (empty: the daemon's).
	Cwd string
	// Env is added to the minimal environment (PATH, HOME, USER, LOGNAME,
	// LANG); the daemon's environment is never inherited.
	Env map[string]string
	// Input is written to stdin (nil: stdin is /dev/null).
	Input []byte
	// Timeout bounds the run (0: only the context's deadline).
	Timeout time.Duration
	// Cred is the user to run as (nil: the daemon's user).
	Cred *Credential
}

// ProcResult is what a subprocess produced.
type ProcResult struct {
	// ReturnCode is the exit code, or minus the signal number when the child
	// was killed by a signal (Python's convention; -9 after a timeout).
	ReturnCode int
	// Stdout and Stderr hold at most 1 MiB each.
	Stdout, Stderr string
	// Truncated reports that stdout or stderr exceeded the cap.
	Truncated bool
	// TimedOut reports that the timeout or the context ended the run (the
	// whole process group was killed), or that it expired while waiting for
	// a free slot (then nothing ran and ReturnCode is -9).
	TimedOut bool
}

// procMetrics holds the subprocess collectors.
type procMetrics struct {
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newProcMetrics creates towerhook_subprocess_runs_total{reference,result}
// and towerhook_subprocess_duration_seconds{reference} and registers them
// with reg (nil: unregistered). Collectors already registered are reused.
func newProcMetrics(reg prometheus.Registerer) *procMetrics {
	m := &procMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "towerhook_subprocess_runs_total",
			Help: "Subprocesses run by Lua code, by reference and result (ok, nonzero, timeout, error).",
		}, []string{"reference", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "towerhook_subprocess_duration_seconds",
			Help:    "Wall time of subprocesses run by Lua code, by reference.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"reference"}),
	}
	if reg != nil {
		m.runs = procRegister(reg, m.runs)
		m.duration = procRegister(reg, m.duration)
	}
	return m
}

// procRegister registers c, or returns the identical collector already there.
func procRegister[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// observe records one run; nil-safe.
func (m *procMetrics) observe(reference, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(reference, result).Inc()
	m.duration.WithLabelValues(reference).Observe(d.Seconds())
}

// forget deletes reference's series (after the definition went away); nil-safe.
func (m *procMetrics) forget(reference string) {
	if m == nil {
		return
	}
	m.runs.DeletePartialMatch(prometheus.Labels{"reference": reference})
	m.duration.DeletePartialMatch(prometheus.Labels{"reference": reference})
}

// procRunner runs subprocesses with a bound on how many run at once.
type procRunner struct {
	sem     chan struct{}
	metrics *procMetrics
	self    Credential
}

// newProcRunner returns a runner allowing maxConcurrent children at once
// (<= 0: 4*GOMAXPROCS). m may be nil.
func newProcRunner(maxConcurrent int, m *procMetrics) *procRunner {
	if maxConcurrent <= 0 {
		maxConcurrent = 4 * runtime.GOMAXPROCS(0)
	}
	return &procRunner{
		sem:     make(chan struct{}, maxConcurrent),
		metrics: m,
		self:    userSelf(),
	}
}

// Run executes spec for the script named reference (a metric label). It
// waits for a free slot (respecting ctx), runs argv directly in its own
// process group with a minimal environment, and kills the whole group when
// the timeout or ctx ends first. The error is set only when the child could
// not be started (empty argv, program not found, bad cwd, ...); a non-zero
// exit or a timeout is reported in the result.
func (r *procRunner) Run(ctx context.Context, reference string, spec ProcSpec) (ProcResult, error) {
	start := time.Now()
	res, result, err := r.run(ctx, spec)
	r.metrics.observe(reference, result, time.Since(start))
	return res, err
}

// run does the work of Run and returns the metric result label.
func (r *procRunner) run(ctx context.Context, spec ProcSpec) (ProcResult, string, error) {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return ProcResult{}, "error", errors.New("subprocess: empty argv")
	}
	env, pathList, err := r.procEnv(spec)
	if err != nil {
		return ProcResult{}, "error", err
	}
	path, err := procLookPath(spec.Argv[0], pathList)
	if err != nil {
		return ProcResult{}, "error", err
	}
	if spec.Cwd != "" {
		fi, serr := os.Stat(spec.Cwd)
		if serr != nil || !fi.IsDir() {
			return ProcResult{}, "error", fmt.Errorf("subprocess: cwd %q is not a directory", spec.Cwd)
		}
	}

	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, spec.Timeout)
		defer cancel()
	}
	timedOut := ProcResult{ReturnCode: -int(syscall.SIGKILL), TimedOut: true}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return timedOut, "timeout", nil
	}
	defer func() { <-r.sem }()
	if ctx.Err() != nil {
		return timedOut, "timeout", nil
	}

	var stdout, stderr procCapture
	var killed atomic.Bool
	cmd := exec.CommandContext(ctx, path)
	cmd.Args = spec.Argv
	cmd.Env = env
	cmd.Dir = spec.Cwd
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if spec.Input != nil {
		cmd.Stdin = bytes.NewReader(spec.Input)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c := spec.Cred; c != nil && c.UID != uint32(os.Geteuid()) {
		groups := c.Groups
		if len(groups) == 0 {
			groups = []uint32{c.GID}
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: groups}
	}
	cmd.Cancel = func() error {
		killed.Store(true)
		// The child leads its own process group: kill it and every descendant.
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = procWaitDelay

	if err := cmd.Start(); err != nil {
		if ctx.Err() != nil {
			return timedOut, "timeout", nil
		}
		return ProcResult{}, "error", fmt.Errorf("subprocess: cannot start %q: %s", spec.Argv[0], procErrText(err))
	}
	awaitExit(ctx, cmd.Process.Pid)
	_ = cmd.Wait() // the outcome is in ProcessState; I/O errors only cut output short

	res := ProcResult{
		Stdout:    stdout.buf.String(),
		Stderr:    stderr.buf.String(),
		Truncated: stdout.truncated || stderr.truncated,
	}
	if ps := cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.ReturnCode = -int(ws.Signal())
		} else {
			res.ReturnCode = ps.ExitCode()
		}
	} else {
		res.ReturnCode = -1
	}
	switch {
	case killed.Load():
		res.TimedOut = true
		return res, "timeout", nil
	case res.ReturnCode == 0:
		return res, "ok", nil
	default:
		return res, "nonzero", nil
	}
}

// procEnv builds the child's environment and the PATH used to find argv[0].
func (r *procRunner) procEnv(spec ProcSpec) ([]string, string, error) {
	who := &r.self
	if spec.Cred != nil {
		who = spec.Cred
	}
	home := who.Home
	if home == "" {
		home = "/"
	}
	vars := map[string]string{
		"PATH":    procPATH,
		"HOME":    home,
		"USER":    who.Username,
		"LOGNAME": who.Username,
		"LANG":    "C.UTF-8",
	}
	for k, v := range spec.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, "", fmt.Errorf("subprocess: invalid environment variable name %q", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return nil, "", fmt.Errorf("subprocess: environment variable %s contains a NUL byte", k)
		}
		vars[k] = v
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := make([]string, len(keys))
	for i, k := range keys {
		env[i] = k + "=" + vars[k]
	}
	return env, vars["PATH"], nil
}

// procLookPath resolves name like execvp does, but against pathList instead
// of the daemon's PATH. Names with a slash are used as given; empty PATH
// entries (the current directory) are ignored.
func procLookPath(name, pathList string) (string, error) {
	if strings.ContainsRune(name, '/') {
		return name, nil
	}
	for _, dir := range strings.Split(pathList, ":") {
		if dir == "" || dir == "." {
			continue
		}
		p := dir + "/" + name
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("subprocess: executable %q not found in PATH", name)
}

// procErrText is err's text without the *exec/os wrapping (which repeats
// the path): "no such file or directory", "permission denied", ...
func procErrText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		var pe *os.PathError
		if errors.As(err, &pe) && pe.Op == "chdir" {
			return "chdir: " + errno.Error()
		}
		return errno.Error()
	}
	return err.Error()
}

// procCapture keeps the first procOutputCap bytes written to it and
// discards the rest, so a chatty child never blocks on a full pipe.
type procCapture struct {
	buf       bytes.Buffer
	truncated bool
}

// ReadFrom implements io.ReaderFrom so that os/exec's copy reads straight
// into the buffer instead of allocating a 32 KiB buffer per stream.
func (c *procCapture) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	var scratch []byte
	for {
		var p []byte
		room := procOutputCap - c.buf.Len()
		if room > 0 {
			c.buf.Grow(min(max(512, c.buf.Len()), room))
			p = c.buf.AvailableBuffer()
			p = p[:min(cap(p), room)]
		} else {
			if scratch == nil {
				scratch = make([]byte, 32<<10)
			}
			p = scratch
		}
		n, err := r.Read(p)
		if n > 0 {
			total += int64(n)
			if room > 0 {
				c.buf.Write(p[:n])
			} else {
				c.truncated = true
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Write implements io.Writer; it never fails.
func (c *procCapture) Write(p []byte) (int, error) {
	if room := procOutputCap - c.buf.Len(); room > 0 {
		if len(p) > room {
			c.buf.Write(p[:room])
			c.truncated = true
		} else {
			c.buf.Write(p)
		}
	} else if len(p) > 0 {
		c.truncated = true
	}
	return len(p), nil
}
