package daemon

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"towerhook/definitions"
)

// testReport is the outcome of a `towerhook test` run, printed in the style
// of `go test` and written as JUnit XML (docs/testing.md "Test your definitions").
type testReport struct {
	dir        string
	results    []*testResult
	loadErrors []*definitions.Error
	elapsed    time.Duration
}

// addLoadErrors records problems that kept files (or the directory) from
// being used; err may be definitions.Errors or any error.
func (rep *testReport) addLoadErrors(err error) {
	var es definitions.Errors
	if !errors.As(err, &es) && err != nil {
		es = definitions.Errors{{Msg: err.Error()}}
	}
	for _, e := range es {
		// The directory's own errors (it cannot be read) come from the test
		// files' scan and from the definitions' load alike: say them once.
		if !slices.ContainsFunc(rep.loadErrors, func(x *definitions.Error) bool { return x.Error() == e.Error() }) {
			rep.loadErrors = append(rep.loadErrors, e)
		}
	}
}

// where is file:line of a test file line, the file named as the user
// named the directory.
func (rep *testReport) where(file string, line int) string {
	p := filepath.ToSlash(filepath.Join(rep.dir, file))
	if line > 0 {
		return fmt.Sprintf("%s:%d", p, line)
	}
	return p
}

// counts returns the passed, failed and broken tests.
func (rep *testReport) counts() (passed, failed, broken int) {
	for _, r := range rep.results {
		switch {
		case r.broken:
			broken++
			failed++
		case len(r.failures) > 0:
			failed++
		default:
			passed++
		}
	}
	return passed, failed, broken
}

// print writes the report and returns the exit code: 2 when something did
// not load (or a test was unusable), else 1 when a test failed, else 0.
func (rep *testReport) print(stdout, stderr io.Writer, verbose bool) int {
	for _, e := range rep.loadErrors {
		fmt.Fprintln(stderr, prefixPath(rep.dir, e.Error()))
	}
	for _, r := range rep.results {
		failed := len(r.failures) > 0
		if !failed && !verbose {
			continue
		}
		status := "PASS"
		if failed {
			status = "FAIL"
		}
		fmt.Fprintf(stdout, "--- %s: %s (%.3fs)\n", status, r.test.Name, r.duration.Seconds())
		for _, f := range r.failures {
			fmt.Fprintf(stdout, "    %s: %s\n", rep.where(r.test.File, f.line), f.msg)
		}
	}
	passed, failed, broken := rep.counts()
	code := 0
	switch {
	case len(rep.loadErrors) > 0 || broken > 0:
		code = 2
	case failed > 0:
		code = 1
	}
	verdict := "ok  "
	if code != 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(stdout, "%s\t%s\t%.3fs\n", verdict, rep.dir, rep.elapsed.Seconds())
	if n := len(rep.loadErrors); n > 0 {
		fmt.Fprintf(stdout, "%d load error(s), see above\n", n)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	return code
}

// JUnit XML, the subset GitLab, GitHub test reporters and Jenkins read.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Time     string      `xml:"time,attr"`
		Cases    []junitCase `xml:"testcase"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		File      string        `xml:"file,attr,omitempty"`
		Line      int           `xml:"line,attr,omitempty"`
		Time      string        `xml:"time,attr"`
		Failure   *junitProblem `xml:"failure,omitempty"`
		Error     *junitProblem `xml:"error,omitempty"`
	}
	junitProblem struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
)

// junit builds the XML document: a suite per test file, a test case per
// test, and a case "load" with an error for every file that did not load.
func (rep *testReport) junit() junitSuites {
	doc := junitSuites{Name: "towerhook test " + rep.dir, Time: seconds(rep.elapsed)}
	index := map[string]int{}
	suite := func(file string) *junitSuite {
		name := rep.where(file, 0)
		i, ok := index[name]
		if !ok {
			i = len(doc.Suites)
			index[name] = i
			doc.Suites = append(doc.Suites, junitSuite{Name: name, Time: "0"})
		}
		return &doc.Suites[i]
	}
	for _, e := range rep.loadErrors {
		s := suite(e.File)
		s.Tests++
		s.Errors++
		text := prefixPath(rep.dir, e.Error())
		s.Cases = append(s.Cases, junitCase{Name: "load", Classname: s.Name, Time: "0",
			Error: &junitProblem{Message: text, Type: "load", Text: text}})
	}
	for _, r := range rep.results {
		s := suite(r.test.File)
		c := junitCase{Name: r.test.Name, Classname: s.Name, File: rep.where(r.test.File, 0), Line: r.test.Line,
			Time: seconds(r.duration)}
		if len(r.failures) > 0 {
			lines := make([]string, len(r.failures))
			for i, f := range r.failures {
				lines[i] = rep.where(r.test.File, f.line) + ": " + f.msg
			}
			p := &junitProblem{Message: r.failures[0].msg, Type: "failure", Text: strings.Join(lines, "\n")}
			if r.broken {
				p.Type = "error"
				c.Error = p
				s.Errors++
			} else {
				c.Failure = p
				s.Failures++
			}
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	for _, s := range doc.Suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
	}
	return doc
}

// writeJUnit writes the JUnit XML report to w.
func (rep *testReport) writeJUnit(w io.Writer) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(rep.junit()); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// writeJUnitFile writes the report to path (replaced whole).
func (rep *testReport) writeJUnitFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.writeJUnit(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
