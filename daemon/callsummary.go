package daemon

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"towerhook/definitions"
	"towerhook/logs"
)

// callMocks reads call's --mock file (none: nil). A file that does not
// decode is reported with file:line errors and exit code 2.
func callMocks(file string, stderr io.Writer) (*mockEffects, int) {
	if file == "" {
		return nil, 0
	}
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "--mock: %v\n", err)
		return nil, 2
	}
	mocks, errs := definitions.DecodeMockFile(file, data)
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, e.Error())
		}
		return nil, 2
	}
	return newMockEffects(mocks), 0
}

// printCallSummary tells what call matched (webhook and authenticator with
// their file:line), the authentication result, the duration and the calls
// that found no mock.
func printCallSummary(w io.Writer, dir string, set *definitions.Set, rec *logs.Record, eff *mockEffects) {
	where := func(file string, line int) string {
		return fmt.Sprintf("%s:%d", filepath.ToSlash(filepath.Join(dir, file)), line)
	}
	if wh := findWebhook(set, rec.Webhook); wh != nil {
		fmt.Fprintf(w, "webhook: %s (%s)\n", wh.Reference, where(wh.File, wh.Line))
	} else {
		fmt.Fprintln(w, "webhook: none matched")
	}
	if a, ok := set.Authenticator(rec.Authenticator); ok {
		fmt.Fprintf(w, "authenticator: %s (%s)\n", a.Reference, where(a.File, a.Line))
	}
	fmt.Fprintf(w, "authentication: %s\n", rec.AuthenticationStatus)
	fmt.Fprintf(w, "duration: %s\n", time.Duration(rec.DurationSeconds*float64(time.Second)).Round(time.Microsecond))
	if eff != nil {
		_, _, unmatched := eff.calls()
		mask := definitions.SecretMasker(set.SecretValues())
		for _, u := range unmatched {
			fmt.Fprintf(w, "mock: %s\n", mask.Mask(u))
		}
	}
}
