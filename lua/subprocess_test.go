package lua

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// procTestDeadline is a generous bound used only to detect hangs.
const procTestDeadline = 30 * time.Second

func procTestCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), procTestDeadline)
	t.Cleanup(cancel)
	return ctx
}

// procGather returns every sample of the towerhook_subprocess_* families in
// reg, keyed "name{reference,result}" (histograms: their sample count).
func procGather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			if h := m.GetHistogram(); h != nil {
				out[key] = float64(h.GetSampleCount())
			} else {
				out[key] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func TestProcRun(t *testing.T) {
	dir := t.TempDir()
	realDir, _ := filepath.EvalSymlinks(dir)
	noExec := filepath.Join(dir, "data.txt")
	if err := os.WriteFile(noExec, []byte("not a program\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		spec       ProcSpec
		wantCode   int
		wantOut    string
		wantErrOut string
		wantErr    string
	}{
		{name: "true", spec: ProcSpec{Argv: []string{"true"}}, wantCode: 0},
		{name: "absolute path", spec: ProcSpec{Argv: []string{"/bin/echo", "hi", "there"}}, wantOut: "hi there\n"},
		{name: "exit code", spec: ProcSpec{Argv: []string{"sh", "-c", "exit 3"}}, wantCode: 3},
		{name: "stderr", spec: ProcSpec{Argv: []string{"sh", "-c", "echo oops >&2; exit 1"}}, wantCode: 1, wantErrOut: "oops\n"},
		{name: "signal", spec: ProcSpec{Argv: []string{"sh", "-c", "kill -TERM $$"}}, wantCode: -int(syscall.SIGTERM)},
		{name: "no shell expansion", spec: ProcSpec{Argv: []string{"echo", "$HOME", "*"}}, wantOut: "$HOME *\n"},
		{name: "stdin", spec: ProcSpec{Argv: []string{"cat"}, Input: []byte("from stdin")}, wantOut: "from stdin"},
		{name: "no stdin", spec: ProcSpec{Argv: []string{"cat"}}, wantOut: ""},
		{name: "cwd", spec: ProcSpec{Argv: []string{"pwd", "-P"}, Cwd: dir}, wantOut: realDir + "\n"},
		{name: "env added", spec: ProcSpec{Argv: []string{"sh", "-c", `printf %s "$FOO"`}, Env: map[string]string{"FOO": "bar baz"}}, wantOut: "bar baz"},
		{name: "env PATH used for lookup", spec: ProcSpec{Argv: []string{"true"}, Env: map[string]string{"PATH": "/bin"}}},
		{name: "input ignored", spec: ProcSpec{Argv: []string{"true"}, Input: make([]byte, 1<<20)}},
		{name: "empty argv", spec: ProcSpec{}, wantErr: "subprocess: empty argv"},
		{name: "empty program", spec: ProcSpec{Argv: []string{""}}, wantErr: "subprocess: empty argv"},
		{name: "not found", spec: ProcSpec{Argv: []string{"towerhook-no-such-program"}},
			wantErr: `subprocess: executable "towerhook-no-such-program" not found in PATH`},
		{name: "not in child PATH", spec: ProcSpec{Argv: []string{"sh"}, Env: map[string]string{"PATH": dir}},
			wantErr: `subprocess: executable "sh" not found in PATH`},
		{name: "missing path", spec: ProcSpec{Argv: []string{"/nonexistent/prog"}},
			wantErr: `subprocess: cannot start "/nonexistent/prog": no such file or directory`},
		{name: "not executable", spec: ProcSpec{Argv: []string{noExec}},
			wantErr: fmt.Sprintf("subprocess: cannot start %q: permission denied", noExec)},
		{name: "bad cwd", spec: ProcSpec{Argv: []string{"true"}, Cwd: filepath.Join(dir, "missing")},
			wantErr: fmt.Sprintf("subprocess: cwd %q is not a directory", filepath.Join(dir, "missing"))},
		{name: "bad env name", spec: ProcSpec{Argv: []string{"true"}, Env: map[string]string{"A=B": "x"}},
			wantErr: `subprocess: invalid environment variable name "A=B"`},
	}
	r := newProcRunner(0, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Run(procTestCtx(t), "ref", tt.spec)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if res.ReturnCode != tt.wantCode || res.Stdout != tt.wantOut || res.Stderr != tt.wantErrOut || res.TimedOut || res.Truncated {
				t.Fatalf("got %+v, want code %d stdout %q stderr %q", res, tt.wantCode, tt.wantOut, tt.wantErrOut)
			}
		})
	}
}

func procEnvOf(t *testing.T, out string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("bad env line %q", line)
		}
		env[k] = v
	}
	return env
}

func TestProcEnvNotInherited(t *testing.T) {
	t.Setenv("TOWERHOOK_SECRET_X", "hunter2")
	t.Setenv("PATH", "/tmp/daemon-path:"+os.Getenv("PATH"))
	r := newProcRunner(1, nil)
	res, err := r.Run(procTestCtx(t), "ref", ProcSpec{Argv: []string{"env"}, Env: map[string]string{"EXTRA": "1"}})
	if err != nil || res.ReturnCode != 0 {
		t.Fatalf("env: %+v, %v", res, err)
	}
	if strings.Contains(res.Stdout, "TOWERHOOK_SECRET_X") || strings.Contains(res.Stdout, "hunter2") {
		t.Fatalf("daemon environment leaked into the child:\n%s", res.Stdout)
	}
	env := procEnvOf(t, res.Stdout)
	self := userSelf()
	want := map[string]string{
		"PATH": procPATH, "HOME": self.Home, "USER": self.Username, "LOGNAME": self.Username,
		"LANG": "C.UTF-8", "EXTRA": "1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("child %s = %q, want %q", k, env[k], v)
		}
	}
	for k := range env {
		if _, ok := want[k]; !ok && k != "PWD" && k != "SHLVL" && k != "_" {
			t.Errorf("unexpected variable %s in the child's environment", k)
		}
	}
}

func TestProcRunAsNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("user nobody does not exist")
	}
	cred, err := ResolveUser("nobody")
	if err != nil {
		t.Fatal(err)
	}
	r := newProcRunner(1, nil)
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"id", "-u"}, nobody.Uid},
		{[]string{"id", "-g"}, nobody.Gid},
		{[]string{"sh", "-c", `printf '%s %s %s' "$USER" "$LOGNAME" "$HOME"`}, "nobody nobody " + nobody.HomeDir},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.argv, " "), func(t *testing.T) {
			res, err := r.Run(procTestCtx(t), "ref", ProcSpec{Argv: tt.argv, Cred: cred, Cwd: "/"})
			if err != nil || res.ReturnCode != 0 {
				t.Fatalf("%+v, %v", res, err)
			}
			if got := strings.TrimSpace(res.Stdout); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	// Supplementary groups are exactly the user's, not root's.
	res, err := r.Run(procTestCtx(t), "ref", ProcSpec{Argv: []string{"id", "-G"}, Cred: cred})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range strings.Fields(res.Stdout) {
		if g == "0" {
			t.Fatalf("child kept root's group: id -G = %q", res.Stdout)
		}
	}
}

// procState returns the state letter of pid ("" when it no longer exists).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// procZombieChildren lists zombies whose parent is this test process.
func procZombieChildren(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	self := os.Getpid()
	var zombies []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(self) {
			zombies = append(zombies, pid)
		}
	}
	return zombies
}

func TestProcTimeoutKillsGroup(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newProcMetrics(reg)
	r := newProcRunner(1, m)
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		spec ProcSpec
	}{
		{
			name: "spec timeout",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), procTestDeadline)
			},
			spec: ProcSpec{Argv: []string{"sh", "-c", "sleep 60 & echo $!; sleep 60"}, Timeout: 300 * time.Millisecond},
		},
		{
			name: "context deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 300*time.Millisecond)
			},
			spec: ProcSpec{Argv: []string{"sh", "-c", "sleep 60 & echo $!; sleep 60"}, Timeout: time.Minute},
		},
		{
			name: "grandchild holds the pipes",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), procTestDeadline)
			},
			spec: ProcSpec{Argv: []string{"sh", "-c", "sh -c 'sleep 60' & echo $!; exec sleep 60"}, Timeout: 300 * time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			type out struct {
				res ProcResult
				err error
			}
			done := make(chan out, 1)
			go func() {
				res, err := r.Run(ctx, "slow", tt.spec)
				done <- out{res, err}
			}()
			var o out
			select {
			case o = <-done:
			case <-time.After(procTestDeadline):
				t.Fatal("Run did not return after the timeout")
			}
			if o.err != nil {
				t.Fatal(o.err)
			}
			if !o.res.TimedOut || o.res.ReturnCode != -int(syscall.SIGKILL) {
				t.Fatalf("got %+v, want a timed-out run killed by SIGKILL", o.res)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(o.res.Stdout))
			if err != nil {
				t.Fatalf("no grandchild pid in stdout %q", o.res.Stdout)
			}
			// The grandchild got SIGKILL with its group. It may linger as a
			// zombie of whoever reaps orphans (PID 1 of a container may not),
			// but it must not be running.
			deadline := time.Now().Add(procTestDeadline)
			for st := procState(pid); st != "" && st != "Z" && st != "X"; st = procState(pid) {
				if time.Now().After(deadline) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					t.Fatalf("grandchild %d still alive (state %s)", pid, st)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if z := procZombieChildren(t); len(z) > 0 {
				t.Fatalf("zombie children left: %v", z)
			}
		})
	}
	if got := procGather(t, reg)["towerhook_subprocess_runs_total{slow,timeout}"]; got != float64(len(tests)) {
		t.Fatalf("timeout runs = %v, want %d", got, len(tests))
	}
}

func TestProcBackgroundHolderDoesNotHang(t *testing.T) {
	// The child exits at once but leaves a background process holding
	// stdout: Run must still return (after WaitDelay) with the child's status.
	r := newProcRunner(1, nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	spec := ProcSpec{Argv: []string{"sh", "-c", `sleep 60 & echo $! > "$1"; echo done`, "sh", pidFile}}
	done := make(chan ProcResult, 1)
	go func() {
		res, _ := r.Run(context.Background(), "ref", spec)
		done <- res
	}()
	var res ProcResult
	select {
	case res = <-done:
	case <-time.After(procTestDeadline):
		t.Fatal("Run hung on a background process holding the pipe")
	}
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if res.ReturnCode != 0 || res.TimedOut || res.Stdout != "done\n" {
		t.Fatalf("got %+v", res)
	}
}

func TestProcOutputCap(t *testing.T) {
	r := newProcRunner(1, nil)
	tests := []struct {
		name      string
		argv      []string
		wantOut   int
		wantErr   int
		truncated bool
	}{
		{name: "stdout over the cap", argv: []string{"head", "-c", "3000000", "/dev/zero"}, wantOut: procOutputCap, truncated: true},
		{name: "stderr over the cap", argv: []string{"sh", "-c", "head -c 2000000 /dev/zero >&2; echo ok"}, wantOut: 3, wantErr: procOutputCap, truncated: true},
		{name: "exactly the cap", argv: []string{"head", "-c", strconv.Itoa(procOutputCap), "/dev/zero"}, wantOut: procOutputCap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Run(procTestCtx(t), "ref", ProcSpec{Argv: tt.argv})
			if err != nil {
				t.Fatal(err)
			}
			if res.ReturnCode != 0 || len(res.Stdout) != tt.wantOut || len(res.Stderr) != tt.wantErr || res.Truncated != tt.truncated {
				t.Fatalf("code %d stdout %d stderr %d truncated %v; want stdout %d stderr %d truncated %v",
					res.ReturnCode, len(res.Stdout), len(res.Stderr), res.Truncated, tt.wantOut, tt.wantErr, tt.truncated)
			}
		})
	}
}

func TestProcConcurrencyBound(t *testing.T) {
	const limit, runs = 2, 6
	r := newProcRunner(limit, nil)
	dir := t.TempDir()
	markers := filepath.Join(dir, "running")
	release := filepath.Join(dir, "release")
	if err := os.Mkdir(markers, 0o755); err != nil {
		t.Fatal(err)
	}
	// Each child marks itself running, reports how many are running, waits
	// for the release file, then unmarks itself before exiting.
	script := `touch "$1/$2"; ls "$1" | wc -l; while [ ! -e "$3" ]; do sleep 0.01; done; rm "$1/$2"`
	var wg sync.WaitGroup
	results := make([]ProcResult, runs)
	errs := make([]error, runs)
	ctx := procTestCtx(t)
	for i := range runs {
		wg.Go(func() {
			results[i], errs[i] = r.Run(ctx, "ref", ProcSpec{Argv: []string{"sh", "-c", script, "sh", markers, strconv.Itoa(i), release}})
		})
	}
	deadline := time.Now().Add(procTestDeadline)
	for {
		entries, _ := os.ReadDir(markers)
		if len(entries) >= limit {
			if len(entries) > limit {
				t.Errorf("%d children running at once, limit %d", len(entries), limit)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("children did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(r.sem); n != limit {
		t.Errorf("%d slots taken, want %d", n, limit)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := range runs {
		if errs[i] != nil || results[i].ReturnCode != 0 {
			t.Fatalf("run %d: %+v, %v", i, results[i], errs[i])
		}
		if n, _ := strconv.Atoi(strings.TrimSpace(results[i].Stdout)); n < 1 || n > limit {
			t.Errorf("run %d saw %q children running, limit %d", i, results[i].Stdout, limit)
		}
	}
	if n := len(r.sem); n != 0 {
		t.Errorf("%d slots still taken", n)
	}
}

func TestProcSlotWaitRespectsContext(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := newProcRunner(1, newProcMetrics(reg))
	r.sem <- struct{}{} // occupy the only slot
	defer func() { <-r.sem }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan ProcResult, 1)
	go func() {
		res, _ := r.Run(ctx, "ref", ProcSpec{Argv: []string{"true"}})
		done <- res
	}()
	cancel()
	select {
	case res := <-done:
		if !res.TimedOut {
			t.Fatalf("got %+v, want TimedOut", res)
		}
	case <-time.After(procTestDeadline):
		t.Fatal("Run kept waiting for a slot after the context ended")
	}
	if got := procGather(t, reg)["towerhook_subprocess_runs_total{ref,timeout}"]; got != 1 {
		t.Fatalf("timeout runs = %v", got)
	}
}

func TestProcMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newProcMetrics(reg)
	if again := newProcMetrics(reg); again.runs != m.runs || again.duration != m.duration {
		t.Fatal("a second newProcMetrics on the same registry must reuse the collectors")
	}
	r := newProcRunner(2, m)
	ctx := procTestCtx(t)
	for _, argv := range [][]string{{"true"}, {"true"}, {"false"}, {"towerhook-no-such-program"}} {
		_, _ = r.Run(ctx, "a", ProcSpec{Argv: argv})
	}
	_, _ = r.Run(ctx, "b", ProcSpec{Argv: []string{"true"}})
	got := procGather(t, reg)
	want := map[string]float64{
		"towerhook_subprocess_runs_total{a,ok}":      2,
		"towerhook_subprocess_runs_total{a,nonzero}": 1,
		"towerhook_subprocess_runs_total{a,error}":   1,
		"towerhook_subprocess_runs_total{b,ok}":      1,
		"towerhook_subprocess_duration_seconds{a}":   4,
		"towerhook_subprocess_duration_seconds{b}":   1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics = %v, want %v", got, want)
	}
	m.forget("a")
	got = procGather(t, reg)
	want = map[string]float64{
		"towerhook_subprocess_runs_total{b,ok}":    1,
		"towerhook_subprocess_duration_seconds{b}": 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics after forget = %v, want %v", got, want)
	}
	var nilMetrics *procMetrics
	nilMetrics.forget("a")
	nilMetrics.observe("a", "ok", time.Second)
}

func TestProcErrorsHideArguments(t *testing.T) {
	r := newProcRunner(1, nil)
	_, err := r.Run(procTestCtx(t), "ref", ProcSpec{Argv: []string{"/nonexistent/prog", "--token=s3cret"}})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		t.Fatal("start errors are plain texts")
	}
}

func BenchmarkProcTrue(b *testing.B) {
	r := newProcRunner(0, newProcMetrics(nil))
	ctx := context.Background()
	spec := ProcSpec{Argv: []string{"/bin/true"}}
	b.ReportAllocs()
	for b.Loop() {
		if res, err := r.Run(ctx, "bench", spec); err != nil || res.ReturnCode != 0 {
			b.Fatal(res, err)
		}
	}
}

func BenchmarkProcTrueParallel(b *testing.B) {
	r := newProcRunner(0, newProcMetrics(nil))
	ctx := context.Background()
	spec := ProcSpec{Argv: []string{"/bin/true"}}
	b.ReportAllocs()
	b.SetParallelism(16) // 32 goroutines on 2 cores, as the load test
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res, err := r.Run(ctx, "bench", spec); err != nil || res.ReturnCode != 0 {
				b.Error(res, err)
				return
			}
		}
	})
}

func TestProcCapture(t *testing.T) {
	tests := []struct {
		name      string
		sizes     []int
		readFrom  bool
		want      int
		truncated bool
	}{
		{name: "write small", sizes: []int{10, 20}, want: 30},
		{name: "write to the cap", sizes: []int{procOutputCap - 1, 1}, want: procOutputCap},
		{name: "write over the cap", sizes: []int{procOutputCap - 1, 5, 7}, want: procOutputCap, truncated: true},
		{name: "readfrom empty", readFrom: true, want: 0},
		{name: "readfrom small", sizes: []int{100}, readFrom: true, want: 100},
		{name: "readfrom to the cap", sizes: []int{procOutputCap}, readFrom: true, want: procOutputCap},
		{name: "readfrom over the cap", sizes: []int{procOutputCap + 1}, readFrom: true, want: procOutputCap, truncated: true},
		{name: "readfrom far over the cap", sizes: []int{3 * procOutputCap}, readFrom: true, want: procOutputCap, truncated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c procCapture
			src := &procPattern{}
			total := 0
			if tt.readFrom {
				for _, n := range tt.sizes {
					total += n
				}
				n, err := c.ReadFrom(io.LimitReader(src, int64(total)))
				if err != nil || n != int64(total) {
					t.Fatalf("ReadFrom = %d, %v; want %d", n, err, total)
				}
			} else {
				for _, n := range tt.sizes {
					p := make([]byte, n)
					if _, err := io.ReadFull(src, p); err != nil {
						t.Fatal(err)
					}
					if w, err := c.Write(p); w != n || err != nil {
						t.Fatalf("Write = %d, %v", w, err)
					}
				}
			}
			if c.buf.Len() != tt.want || c.truncated != tt.truncated {
				t.Fatalf("kept %d truncated %v, want %d %v", c.buf.Len(), c.truncated, tt.want, tt.truncated)
			}
			for i, b := range c.buf.Bytes() {
				if b != byte(i%251) {
					t.Fatalf("byte %d = %d, want %d", i, b, i%251)
				}
			}
		})
	}
}

// procPattern is an endless reader of the bytes 0..250 repeated, returned
// in short reads of at most 7000 bytes.
type procPattern struct{ pos int }

func (r *procPattern) Read(p []byte) (int, error) {
	n := min(len(p), 7000)
	for i := range n {
		p[i] = byte((r.pos + i) % 251)
	}
	r.pos += n
	return n, nil
}
