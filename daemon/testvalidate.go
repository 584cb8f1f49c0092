package daemon

import (
	"fmt"

	"towerhook/definitions"
)

// checkTests is validate's look at the test files below dir (docs/testing.md
// "Test your definitions"): they must decode and name webhooks of set, so that
// a broken test fails CI early. It returns the number of tests and files.
func checkTests(dir string, set *definitions.Set) (tests, files int, errs definitions.Errors) {
	tfs, errs := definitions.LoadTests(dir)
	for _, f := range tfs {
		for _, t := range f.Tests {
			if findWebhook(set, t.Webhook) == nil {
				errs = append(errs, &definitions.Error{File: t.File, Line: t.WebhookLine,
					Msg: fmt.Sprintf("test %q: unknown webhook %q", t.Name, t.Webhook)})
			}
		}
		tests += len(f.Tests)
	}
	return tests, len(tfs), errs
}
