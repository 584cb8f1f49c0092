package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"towerhook/logs"
)

const daemonHelperEnv = "TOWERHOOK_DAEMON_HELPER" // "DIR DATA"

// TestHelperDaemon is the child of the restart tests: it serves DIR with
// DATA on loopback ports, prints "READY <public> <admin>", and runs until
// it is killed.
func TestHelperDaemon(t *testing.T) {
	v := os.Getenv(daemonHelperEnv)
	if v == "" {
		t.Skip("helper process for TestJobsSurviveSIGKILL")
	}
	dir, data, _ := strings.Cut(v, " ")
	o := DefaultOptions()
	o.Dir, o.Data = dir, data
	o.Listen, o.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	o.RescanInterval = 0
	o.OnReady = func(pub, adm string) { fmt.Printf("READY %s %s\n", pub, adm) }
	if err := Serve(context.Background(), o, slog.New(slog.DiscardHandler)); err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// crashFiles is a background webhook running two jobs at once; each
// attempt appends its job id to runs, then waits for gate.
func crashFiles(runs, gate string) map[string]string {
	return map[string]string{"a.yaml": openFile(hook("work", "work", "open", "background: true\nconcurrency: 2\ntimeout: 120\ndedup: header:X-Delivery",
		fmt.Sprintf(`subprocess.run({"sh", "-c", "echo $1 >> '%s'", "sh", request.job})
`, runs)+gateCode(gate)))}
}

// enqueueMany queues n jobs on url concurrently and returns their ids.
func enqueueMany(t *testing.T, url string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ids[i] = jobOf(t, do(t, "POST", url, fmt.Sprintf(`{"n": %d}`, i), map[string]string{"X-Delivery": fmt.Sprint("d", i)}))
		}()
	}
	wg.Wait()
	return ids
}

// jobStates returns every job's state from the admin API (paging).
func jobStates(t *testing.T, admin string) map[string]string {
	t.Helper()
	states := map[string]string{}
	cursor := ""
	for {
		var page logs.JobPage
		if code := getJSON(t, admin+"/api/v1/jobs?limit=1000&cursor="+cursor, &page); code != 200 {
			t.Fatalf("GET /api/v1/jobs: %d", code)
		}
		for _, j := range page.Jobs {
			if _, dup := states[j.ID]; dup {
				t.Fatalf("job %s listed twice", j.ID)
			}
			states[j.ID] = j.State
		}
		if page.NextCursor == "" {
			return states
		}
		cursor = page.NextCursor
	}
}

// TestJobsSurviveSIGKILL: the daemon is killed with 100 jobs queued and 2
// running; after a restart every job ends succeeded, none is lost, and
// only the 2 that were running ran twice.
func TestJobsSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	work := t.TempDir()
	dir, data := filepath.Join(work, "defs"), filepath.Join(work, "data")
	runs, gate := filepath.Join(work, "runs"), filepath.Join(work, "gate")
	files := crashFiles(runs, gate)
	writeFiles(t, dir, files)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDaemon$")
	cmd.Env = append(os.Environ(), daemonHelperEnv+"="+dir+" "+data)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	var pub string
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "READY" {
			pub = "http://" + f[1]
			break
		} else if len(f) > 0 && f[0] == "ERR" {
			t.Fatal(sc.Text())
		}
	}
	if pub == "" {
		t.Fatal("the daemon did not start")
	}
	go io.Copy(io.Discard, out)
	ids := enqueueMany(t, pub+DefaultPrefix+"work", 102)
	eventually(t, 60*time.Second, "2 jobs running", func() bool { return len(runLines(t, runs)) == 2 })
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	wasRunning := runLines(t, runs)

	openGate(t, gate)
	d := startDaemon(t, nil, func(o *Options) { o.Dir, o.Data = dir, data })
	eventually(t, 120*time.Second, "every job succeeded", func() bool {
		states := jobStates(t, d.admin)
		for _, id := range ids {
			if states[id] != logs.JobSucceeded {
				return false
			}
		}
		return len(states) == len(ids)
	})
	// The delivery ids survived too: a redelivery gets the same job.
	for _, i := range []int{0, 57, 101} {
		r := do(t, "POST", d.pub+DefaultPrefix+"work", "{}", map[string]string{"X-Delivery": fmt.Sprint("d", i)})
		if jobOf(t, r) != ids[i] || r.Header.Get("X-Towerhook-Duplicate-Of") == "" {
			t.Errorf("redelivery d%d after the restart: %s %v", i, r.Body, r.Header)
		}
	}
	count := map[string]int{}
	for _, id := range runLines(t, runs) {
		count[id]++
	}
	for _, id := range ids {
		want := 1
		if id == wasRunning[0] || id == wasRunning[1] {
			want = 2
		}
		if count[id] != want {
			t.Errorf("job %s ran %d times, want %d", id, count[id], want)
		}
	}
}

// TestJobsShutdown: on shutdown running attempts finish, queued jobs stay
// queued and run at the next start.
func TestJobsShutdown(t *testing.T) {
	work := t.TempDir()
	runs, gate := filepath.Join(work, "runs"), filepath.Join(work, "gate")
	d := startDaemon(t, crashFiles(runs, gate), nil)
	ids := enqueueMany(t, d.pub+DefaultPrefix+"work", 5)
	eventually(t, 60*time.Second, "2 jobs running", func() bool { return len(runLines(t, runs)) == 2 })
	running := runLines(t, runs)
	d.cancel()                        // as SIGTERM
	time.Sleep(50 * time.Millisecond) // let it stop taking jobs (nothing asserts on time)
	openGate(t, gate)
	err := <-d.done
	d.done <- err // for the cleanup's stop
	d2 := startDaemon(t, nil, func(o *Options) { o.Dir, o.Data = d.dir, d.data })
	eventually(t, 60*time.Second, "every job succeeded", func() bool {
		states := jobStates(t, d2.admin)
		for _, id := range ids {
			if states[id] != logs.JobSucceeded {
				return false
			}
		}
		return true
	})
	count := map[string]int{}
	for _, id := range runLines(t, runs) {
		count[id]++
	}
	for _, id := range ids {
		if count[id] != 1 {
			t.Errorf("job %s ran %d times, want once (running ones finished at shutdown: %v)", id, count[id], running)
		}
	}
}
