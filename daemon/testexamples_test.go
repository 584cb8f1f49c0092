package daemon

import (
	"os"
	"slices"
	"strings"
	"testing"

	"towerhook/definitions"
)

// TestExamplesTests: the recipes' test files pass, with placeholders and
// with the example secrets, and every example webhook has tests.
func TestExamplesTests(t *testing.T) {
	for _, dir := range []string{examplesDir, examplesRunAs} {
		for _, secrets := range []string{"", examplesSecrets} {
			code, out, errOut := runTests(t, TestOptions{Dir: dir, SecretsDir: secrets})
			if code != 0 || strings.Contains(out, "\n0 passed") {
				t.Errorf("%s, secrets dir %q: exit %d\n%s%s", dir, secrets, code, out, errOut)
			}
		}
	}
	files, errs := definitions.LoadTests(examplesDir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tested := map[string]bool{}
	for _, f := range files {
		if !strings.HasPrefix(f.File, "webhooks/") {
			t.Errorf("%s: keep the recipes' tests beside them in webhooks/", f.File)
		}
		for _, tt := range f.Tests {
			tested[tt.Webhook] = true
		}
	}
	for _, ref := range exampleWebhooks {
		if !tested[ref] {
			t.Errorf("example webhook %s has no test in examples/webhooks/webhooks/*_test.yaml", ref)
		}
	}
	for ref := range tested {
		if !slices.Contains(exampleWebhooks, ref) {
			t.Errorf("tests name %s, which is not an example webhook", ref)
		}
	}
}

// TestReadmeTestExample: the complete example of docs/testing.md "Test your
// definitions" (the webhook and its tests) passes as printed.
func TestReadmeTestExample(t *testing.T) {
	readme, err := os.ReadFile("../docs/testing.md")
	if err != nil {
		t.Fatal(err)
	}
	block := func(first string) string {
		text := string(readme)
		i := strings.Index(text, first)
		if i < 0 {
			t.Fatalf("docs/testing.md has no block starting %q", first)
		}
		return text[i : i+strings.Index(text[i:], "```")]
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"webhooks/deploy.yaml":      block("# webhooks/deploy.yaml\n"),
		"webhooks/deploy_test.yaml": block("# webhooks/deploy_test.yaml"),
	})
	if code, out, errOut := runTests(t, TestOptions{Dir: dir}); code != 0 || !strings.HasSuffix(out, "2 passed, 0 failed\n") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}
