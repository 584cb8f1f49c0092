package daemon

import (
	"strings"
	"testing"

	"towerhook/definitions"
)

// The reload path skips LoadDir's stand-in Lua check; buildTable's compile
// must report a Lua error exactly as LoadDir would (file, line, reference,
// Lua line), with secrets masked.
func TestBuildTableLuaErrorsMatchLoadDir(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": openFile(
		hook("bad", "bad", "open", "", "local s = #!cxtower.secret.tok!#\nresult = {exit_code = 0\nlocal x = s s"))})
	env := []string{"TOWERHOOK_SECRET_TOK=very-secret-value"}
	_, want := definitions.LoadDir(dir, definitions.Options{Environ: env})
	if want == nil {
		t.Fatal("LoadDir accepted a Lua syntax error")
	}
	set, err := definitions.LoadDir(dir, definitions.Options{Environ: env, SkipCodeCheck: true})
	if err != nil {
		t.Fatalf("LoadDir with SkipCodeCheck: %v", err)
	}
	_, got := buildTable(set, buildOptions{Logger: discardLogger(), DefaultTimeout: DefaultTimeout})
	if got == nil || got.Error() != want.Error() {
		t.Fatalf("buildTable error\n%v\nwant (as LoadDir)\n%v", got, want)
	}
	if strings.Contains(got.Error(), "very-secret-value") || !strings.Contains(got.Error(), "a.yaml:") {
		t.Errorf("error text %q", got)
	}
}
