package daemon

// `towerhook test DIR` (docs/testing.md "Test your definitions"): every test in the
// *_test.yaml files under DIR sends one request through the pipeline that
// serve uses (authenticator, allowlist, payload, webhook code, result rules,
// masking), in process and in parallel. requests and subprocess are answered
// by the test's mocks (lua.WithEffects): nothing is sent, nothing is started.
//
// Exit codes: 0 every test passed; 1 a test failed; 2 the directory, a test
// file or a test (unknown webhook, a sign that raises) could not be used.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"towerhook/definitions"
	"towerhook/logs"
)

// TestOptions configure Test.
type TestOptions struct {
	Dir        string
	SecretsDir string
	// Run selects the tests whose name matches it (empty: all).
	Run string
	// JUnit, when set, is the file the JUnit XML report is written to.
	JUnit string
	// Verbose lists every test, not only failures.
	Verbose bool
	// Timeout is the code time limit of webhooks without one (0: DefaultTimeout).
	Timeout time.Duration
	// Environ is searched for TOWERHOOK_SECRET_* (nil: the process's).
	Environ []string
	// Parallel is the number of tests run at once (0: 4 x GOMAXPROCS).
	Parallel int
}

// Test runs the tests below o.Dir and prints a go test style report.
func Test(ctx context.Context, o TestOptions, stdout, stderr io.Writer) int {
	start := time.Now()
	var run *regexp.Regexp
	if o.Run != "" {
		var err error
		if run, err = regexp.Compile(o.Run); err != nil {
			fmt.Fprintf(stderr, "towerhook test: --run: %v\n", err)
			return 2
		}
	}
	r := newTestRunner(o)
	defer r.close()
	rep := &testReport{dir: o.Dir}
	files, ferrs := definitions.LoadTests(o.Dir)
	rep.addLoadErrors(ferrs)
	if r.base.err != nil {
		rep.addLoadErrors(r.base.err)
	} else {
		rep.results = r.runAll(ctx, selectTests(files, run))
	}
	rep.elapsed = time.Since(start)
	code := rep.print(stdout, stderr, o.Verbose)
	if o.JUnit != "" {
		if err := rep.writeJUnitFile(o.JUnit); err != nil {
			fmt.Fprintf(stderr, "towerhook test: --junit: %v\n", err)
			return 2
		}
	}
	return code
}

// selectTests lists the tests to run, in file order.
func selectTests(files []*definitions.TestFile, run *regexp.Regexp) []*definitions.Test {
	var out []*definitions.Test
	for _, f := range files {
		for _, t := range f.Tests {
			if run == nil || run.MatchString(t.Name) {
				out = append(out, t)
			}
		}
	}
	return out
}

// testRunner holds what the tests of one run share: the loaded directory
// (once per distinct set of test secrets) and the engine of sign code.
type testRunner struct {
	o      TestOptions
	logger *slog.Logger
	base   *testTarget
	sign   *signer

	mu      sync.Mutex
	targets map[string]*testTarget
}

// testTarget is the directory loaded and built as serve does, with one set
// of secrets, and the pipeline that serves it.
type testTarget struct {
	once sync.Once
	set  *definitions.Set
	t    *table
	p    *pipeline
	opts definitions.Options
	err  error
}

func newTestRunner(o TestOptions) *testRunner {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Parallel <= 0 {
		o.Parallel = 4 * runtime.GOMAXPROCS(0)
	}
	r := &testRunner{o: o, logger: slog.New(slog.DiscardHandler), targets: map[string]*testTarget{}}
	r.sign = newSigner(r.logger)
	r.base = r.target(nil)
	return r
}

// close releases every engine.
func (r *testRunner) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, tg := range r.targets {
		if tg.t != nil {
			tg.t.close()
		}
	}
	r.sign.close()
}

// target returns the directory built with secrets (nil: none given),
// loading it on first use. Tests without secrets share one build.
func (r *testRunner) target(secrets map[string]string) *testTarget {
	key := secretsKey(secrets)
	r.mu.Lock()
	tg, ok := r.targets[key]
	if !ok {
		tg = &testTarget{opts: definitions.Options{
			SecretsDir: r.o.SecretsDir, Environ: r.o.Environ, Secrets: secrets,
			AllowMissingSecrets: true,
		}}
		r.targets[key] = tg
	}
	r.mu.Unlock()
	tg.once.Do(func() { tg.load(r) })
	return tg
}

// secretsKey is a canonical text of a secrets map.
func secretsKey(secrets map[string]string) string {
	keys := make([]string, 0, len(secrets))
	for k := range secrets {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%d:%s=%d:%s;", len(k), k, len(secrets[k]), secrets[k])
	}
	return b.String()
}

// load builds the target exactly as serve does (loadSet, buildTable, the
// pipeline), except that run_as users are not resolved: no process starts.
func (tg *testTarget) load(r *testRunner) {
	set, err := loadSet(r.o.Dir, tg.opts)
	if err == nil {
		tg.t, err = buildTable(set, buildOptions{
			Logger: r.logger, DefaultTimeout: r.o.Timeout, SkipUsers: true, PoolSize: r.o.Parallel,
		})
	}
	if err != nil {
		tg.err = err
		return
	}
	tg.set = set
	cur := &atomic.Pointer[table]{}
	cur.Store(tg.t)
	opts := DefaultOptions()
	opts.MaxConcurrent = max(opts.MaxConcurrent, r.o.Parallel)
	tg.p = newPipeline(opts, cur, newMetrics(prometheus.NewRegistry()), r.logger, keepTestRecord)
}

// recordSlot receives the call-log record of one test's request.
type recordSlot struct{ rec *logs.Record }

type recordSlotKey struct{}

// keepTestRecord is the pipeline's append function: the record goes to the
// slot in the request's context (the pipeline keeps its values).
func keepTestRecord(ctx context.Context, rec *logs.Record) error {
	if s, ok := ctx.Value(recordSlotKey{}).(*recordSlot); ok {
		s.rec = rec
	}
	return nil
}

// runAll runs tests on o.Parallel workers; results are in tests' order.
func (r *testRunner) runAll(ctx context.Context, tests []*definitions.Test) []*testResult {
	results := make([]*testResult, len(tests))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(r.o.Parallel, len(tests)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = r.runOne(ctx, tests[i])
			}
		}()
	}
	for i := range tests {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}
