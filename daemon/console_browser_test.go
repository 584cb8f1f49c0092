package daemon

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The console in a real browser: headless Chromium (Debian's chromium
// package; .ci/run installs it) driven over the DevTools protocol. In CI
// (CI=true) a missing browser fails the test; elsewhere it skips.
// TOWERHOOK_SCREENSHOTS=DIR writes the README's screenshots to DIR
// (make screenshots).

// browserPath finds Chromium, or ends the test.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("TOWERHOOK_CHROMIUM"), "chromium", "chromium-browser", "google-chrome-stable", "google-chrome", "headless-shell"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no Chromium found: install it (apt-get install chromium) or set TOWERHOOK_CHROMIUM to its path"
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browserLog collects what the tab requested and complained about.
type browserLog struct {
	mu       sync.Mutex
	requests []string
	problems []string
}

func (b *browserLog) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			b.problems = append(b.problems, string(ev.Entry.Source)+": "+ev.Entry.Text)
		}
	case *runtime.EventExceptionThrown:
		b.problems = append(b.problems, "exception: "+ev.ExceptionDetails.Text)
	}
}

func (b *browserLog) snapshot() (requests, problems []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...), append([]string(nil), b.problems...)
}

// newBrowser starts headless Chromium with a fresh profile and returns a
// tab's context and what it sees.
func newBrowser(t *testing.T) (context.Context, *browserLog) {
	t.Helper()
	path := browserPath(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // as root in containers
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	bl := &browserLog{}
	if err := chromedp.Listen(ctx, bl.listen); err != nil {
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	return ctx, bl
}

// step runs browser actions within a minute.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// load runs an action that leaves the page (a click, a form) and waits
// until the next page has loaded.
func load(t *testing.T, ctx context.Context, what string, a chromedp.Action[chromedp.Void]) {
	t.Helper()
	read(t, ctx, what, chromedp.WaitEvent(page.LoadEventFired, nil, a))
}

func read[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// seedCalls makes a realistic call log for the pages and screenshots.
func seedCalls(t *testing.T, d *testDaemon) (failed string) {
	t.Helper()
	push := func(ref, repo, user string) string {
		return `{"ref":"refs/heads/` + ref + `","repository":{"full_name":"` + repo + `"},"pusher":{"name":"` + user + `"},"head_commit":{"id":"9fceb02d0ae598e95dc970b74767f19372d61af8","message":"Fix checkout totals"}}`
	}
	callHook(t, d, "POST", "deploy/app", "application/json", push("main", "acme/shop", "alice"))
	callHook(t, d, "POST", "notify", "application/json", `{"text":"release 2.4.1 is out"}`)
	callHook(t, d, "GET", "get?q=health", "", "")
	callHook(t, d, "POST", "form", "application/x-www-form-urlencoded", "a=42&channel=ops")
	do(t, "POST", d.pub+"/cetmix_tower_webhooks/deploy/app", push("main", "acme/shop", "mallory"), map[string]string{"X-Api-Key": "wrong"})
	callHook(t, d, "POST", "deploy/app", "application/json", push("release", "acme/api", "bob"))
	// A payload that would run script if it were not escaped.
	callHook(t, d, "POST", "notify", "application/json", `{"text":"<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=1\">"}`)
	do(t, "GET", d.pub+"/cetmix_tower_webhooks/wp-login.php", "", nil)
	failed = callHook(t, d, "POST", "deploy/app", "application/json",
		`{"ref":"refs/heads/main","repository":{"full_name":"acme/shop"},"pusher":{"name":"carol"},"fail":"git pull: could not resolve host github.com"}`)
	callHook(t, d, "POST", "notify", "application/json", `{"text":"nightly backup done","size_gb":41.7}`)
	return failed
}

func TestConsoleInBrowser(t *testing.T) {
	ctx, bl := newBrowser(t)
	d := consoleDaemon(t)
	failed := seedCalls(t, d)
	// The fix lands: a replay now runs the repaired code.
	writeFiles(t, d.dir, map[string]string{"hooks.yaml": strings.Replace(consoleYAML, `if payload.fail then`, `if false then`, 1)})
	do(t, "POST", d.admin+"/-/reload", "", nil)

	shots := os.Getenv("TOWERHOOK_SCREENSHOTS")

	// The calls page, newest first.
	step(t, ctx, "open the console", chromedp.Navigate(d.admin+"/"), chromedp.WaitVisible(chromedp.CSS("table.calls")))
	if n := read(t, ctx, "count rows", chromedp.Evaluate[int](`document.querySelectorAll("table.calls tbody tr").length`)); n != 10 {
		t.Errorf("%d rows, want 10", n)
	}
	if shots != "" {
		screenshot(t, ctx, filepath.Join(shots, "console-calls.png"))
	}

	// Filter by webhook: the select submits the form (console.js); the
	// "Clear" link shows on the filtered page.
	step(t, ctx, "choose a webhook", chromedp.SetValue(chromedp.CSS(`select[name="webhook"]`), "deploy"))
	load(t, ctx, "filter by webhook", chromedp.Submit(chromedp.CSS("form.filters")))
	step(t, ctx, "filtered page", chromedp.WaitVisible(chromedp.CSS("a.reset")))
	if loc := read(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "webhook=deploy") {
		t.Errorf("filtered location %s", loc)
	}
	hooks := read(t, ctx, "webhook cells", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("table.calls tbody tr td:nth-child(2) a")).map(a => a.textContent)`))
	if strings.Join(hooks, ",") != "deploy,deploy,deploy,deploy" {
		t.Errorf("filtered rows %v, want the four deploy calls", hooks)
	}

	// Open the failed call: its error and payload show.
	load(t, ctx, "open the failed call", chromedp.Click(chromedp.CSS("table.calls tr.row-fail td.time a")))
	step(t, ctx, "call page", chromedp.WaitVisible(chromedp.CSS("section.error-box pre")))
	if loc := read(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/calls/"+failed) {
		t.Errorf("opened %s, want the failed call %s", loc, failed)
	}
	if e := read(t, ctx, "error", chromedp.Text(chromedp.CSS("section.error-box pre"))); !strings.Contains(e, "deploy failed: git pull: could not resolve host github.com") {
		t.Errorf("error box %q", e)
	}
	if p := read(t, ctx, "payload", chromedp.TextContent(chromedp.CSS("#payload"))); !strings.Contains(p, `"name": "carol"`) {
		t.Errorf("payload %q, want it pretty-printed", p)
	}
	if shots != "" {
		screenshot(t, ctx, filepath.Join(shots, "console-call.png"))
	}

	// Replay: the form posts and lands on the new call's page, which links
	// back to the replayed call.
	load(t, ctx, "replay", chromedp.Click(chromedp.CSS("section.replay button.primary")))
	step(t, ctx, "new call page", chromedp.WaitVisible(chromedp.CSS(`table.kv a[href="/calls/`+failed+`"]`)))
	newID := newestID(t, d)
	if loc := read(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/calls/"+newID) || newID == failed {
		t.Errorf("after replay at %s, want the new call %s", loc, newID)
	}
	if s := read(t, ctx, "status", chromedp.Text(chromedp.CSS(".pagehead .pill"))); s != "200" {
		t.Errorf("replayed call status %q, want 200", s)
	}

	// The other pages, and a payload that must not run.
	step(t, ctx, "webhooks page", chromedp.Navigate(d.admin+"/webhooks"), chromedp.WaitVisible(chromedp.CSS("#wh-deploy")))
	step(t, ctx, "calls page again", chromedp.Navigate(d.admin+"/?webhook=notify"), chromedp.WaitVisible(chromedp.CSS("table.calls")))
	hostile := read(t, ctx, "hostile call", chromedp.Evaluate[string](
		`Array.from(document.querySelectorAll("table.calls tr td.time a")).map(a => a.getAttribute("href"))[1]`))
	step(t, ctx, "hostile payload", chromedp.Navigate(d.admin+hostile), chromedp.WaitVisible(chromedp.CSS("#payload")))
	if p := read(t, ctx, "payload", chromedp.TextContent(chromedp.CSS("#payload"))); !strings.Contains(p, "<script>window.__pwned=1</script>") {
		t.Errorf("hostile payload shown as %q, want the text", p)
	}
	if pwned := read(t, ctx, "script ran?", chromedp.Evaluate[bool](`window.__pwned === 1`)); pwned {
		t.Error("a payload's script ran in the console")
	}
	if n := read(t, ctx, "images", chromedp.Evaluate[int](`document.images.length`)); n != 0 {
		t.Errorf("%d images on the page, want none (the payload's <img> must be text)", n)
	}

	// Nothing outside the admin listener was requested, and the pages
	// broke no rule of their Content-Security-Policy.
	requests, problems := bl.snapshot()
	if len(requests) < 8 {
		t.Errorf("only %d requests seen: %v", len(requests), requests)
	}
	for _, u := range requests {
		if !strings.HasPrefix(u, d.admin+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("a page requested %s, outside the admin listener %s", u, d.admin)
		}
	}
	for _, p := range problems {
		t.Errorf("browser reported: %s", p)
	}
}

// screenshot writes the whole page as PNG.
func screenshot(t *testing.T, ctx context.Context, file string) {
	t.Helper()
	buf := read(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", file)
}
