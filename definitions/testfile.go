package definitions

// Test files (docs/testing.md "Test your definitions"): *_test.yaml / *_test.yml under
// the definitions directory hold tests, never definitions. This file decodes
// them with the same rules as definitions: every problem is an Error with
// file and line, and unknown keys are errors (a typo must not turn a check
// off silently). Running the tests is the daemon's job.

import (
	"cmp"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// SupportedTestVersion is the highest towerhook_test_version accepted.
const SupportedTestVersion = 1

// IsTestFile reports whether name (a file name or a slash path) is a test
// file: it ends in _test.yaml or _test.yml.
func IsTestFile(name string) bool {
	base := path.Base(name)
	return strings.HasSuffix(base, "_test.yaml") || strings.HasSuffix(base, "_test.yml")
}

// TestFile is one decoded test file.
type TestFile struct {
	// File is the path relative to the definitions directory.
	File string
	// Tests in file order.
	Tests []*Test
}

// Test is one request and what must come of it.
type Test struct {
	// File and Line locate the test (Line: its first key).
	File string
	Line int
	// Name identifies the test in reports; unique within its file.
	Name string
	// Webhook is the reference of the webhook under test.
	Webhook     string
	WebhookLine int
	// Now is what time.time() and time.strftime see (zero: the real clock).
	Now time.Time
	// Secrets win over --secrets-dir, the environment and placeholders.
	Secrets map[string]string
	Request TestRequest
	Mocks   Mocks
	Expect  Expect
}

// KV is one key and value, in file order.
type KV struct {
	// Key and Value as written.
	Key, Value string
}

// TestRequest is the request a test sends.
type TestRequest struct {
	// Method is "GET" or "POST"; "" is the webhook's own.
	Method  string
	Headers []KV
	// Body is the exact body; BodyKind says where it came from: "json",
	// "body", "form" or "" (none).
	Body     []byte
	BodyKind string
	Query    []KV
	// RemoteAddr is the TCP peer ("" is 127.0.0.1).
	RemoteAddr string
	// Sign is Lua run before the request is sent (see SignFileLine).
	Sign string

	signLine  int
	signLines []int
}

// SignFileLine is the file line that Lua line luaLine of Sign is on.
func (r *TestRequest) SignFileLine(luaLine int) int {
	return codeFileLine(r.Sign, r.signLine, r.signLines, luaLine)
}

// Mocks answer the calls the code makes instead of the outside world.
type Mocks struct {
	Requests   []HTTPMock
	Subprocess []ProcMock
}

// HTTPMock answers requests.* calls with this method and URL.
type HTTPMock struct {
	// Line is the entry's line in the test file.
	Line int
	// Method is upper-case; "" matches any.
	Method string
	// URL matches the request's URL without its query, or the whole URL
	// (params included) when it has a query itself.
	URL     string
	Status  int
	Headers map[string]string
	Body    string
	// Error, when set, makes the call raise it (a connection failure).
	Error string
}

// ProcMock answers subprocess.run calls with exactly this argv.
type ProcMock struct {
	// Line is the entry's line in the test file.
	Line       int
	Argv       []string
	ReturnCode int
	Stdout     string
	Stderr     string
	// Error, when set, makes the call raise it (the program cannot start).
	Error string
}

// Expect is what a test checks; a zero field is not checked.
type Expect struct {
	// Line is the line of the expect mapping.
	Line  int
	lines map[string]int // key -> line
	// Status is the answer's HTTP status.
	Status int
	// Message is the exact answer message; MessageJSON (when the test gives
	// a mapping or a list) is compared as JSON; MessageRegex must match.
	Message         *string
	MessageJSON     []byte
	MessageRegex    *regexp.Regexp
	Authentication  string
	LogLinesContain []string
	// Requests and Subprocess, when HasRequests / HasSubprocess, are every
	// call made, in order.
	Requests      []HTTPExpect
	HasRequests   bool
	Subprocess    []ProcExpect
	HasSubprocess bool
}

// LineOf is the line of key in the expect mapping (else the mapping's).
func (e *Expect) LineOf(key string) int {
	if l, ok := e.lines[key]; ok {
		return l
	}
	return e.Line
}

// HTTPExpect is one requests.* call the code must make.
type HTTPExpect struct {
	// Line is the entry's line in the test file.
	Line int
	// Method and URL (matched as HTTPMock.URL) of the call; "" is any.
	Method string
	URL    string
	// JSON is a subset of the JSON body sent (nil: not checked).
	JSON []byte
	// Body is the exact body sent (nil: not checked).
	Body *string
	// Headers must be among the request's headers (names case-insensitive).
	Headers map[string]string
}

// ProcExpect is one subprocess.run call the code must make.
type ProcExpect struct {
	// Line is the entry's line in the test file.
	Line int
	// Argv must be the call's exactly.
	Argv []string
	// Input is stdin (nil: not checked); Env must be among the variables set.
	Input *string
	Env   map[string]string
}

// DecodeTestFile decodes one test file named file (for errors). It returns
// the tests it could read and every problem found; it never panics.
func DecodeTestFile(file string, data []byte) (tf *TestFile, errs Errors) {
	tf = &TestFile{File: file}
	defer func() {
		if r := recover(); r != nil {
			tf, errs = &TestFile{File: file}, Errors{{File: file, Msg: fmt.Sprintf("cannot decode YAML: %v", r)}}
		}
	}()
	d := &testDecoder{src: &source{name: file, data: data}}
	top := d.document("towerhook_test_version and tests")
	if top == nil {
		return tf, d.errs
	}
	var tests *yaml.Node
	version := false
	d.fields(top, "", map[string]func(k, v *yaml.Node){
		"towerhook_test_version": func(_, v *yaml.Node) { version = true; d.version(v) },
		"tests":                  func(_, v *yaml.Node) { tests = v },
	})
	if !version {
		d.errf(top.Line, "missing towerhook_test_version (write \"towerhook_test_version: %d\")", SupportedTestVersion)
	}
	if tests == nil || tests.Kind != yaml.SequenceNode || len(tests.Content) == 0 {
		line := top.Line
		if tests != nil {
			line = tests.Line
		}
		d.errf(line, "tests: expected a non-empty list of tests")
		return tf, d.errs
	}
	names := map[string]int{}
	for _, n := range tests.Content {
		t := d.test(resolve(n))
		if t == nil {
			continue
		}
		if prev, dup := names[t.Name]; dup {
			d.errf(t.Line, "test %q: the name is already used at line %d", t.Name, prev)
			continue
		}
		names[t.Name] = t.Line
		tf.Tests = append(tf.Tests, t)
	}
	slices.SortStableFunc(d.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	return tf, d.errs
}

// DecodeMockFile decodes a `call --mock` file: a mapping whose one key,
// mocks, has the shape of a test's mocks.
func DecodeMockFile(file string, data []byte) (m Mocks, errs Errors) {
	defer func() {
		if r := recover(); r != nil {
			m, errs = Mocks{}, Errors{{File: file, Msg: fmt.Sprintf("cannot decode YAML: %v", r)}}
		}
	}()
	d := &testDecoder{src: &source{name: file, data: data}}
	if top := d.document("mocks"); top != nil {
		d.fields(top, "", map[string]func(k, v *yaml.Node){"mocks": func(_, v *yaml.Node) { m = d.mocks(v) }})
	}
	return m, d.errs
}

// encodeKVs is kvs as an urlencoded form or query string, in order.
func encodeKVs(kvs []KV) string {
	var b strings.Builder
	for i, kv := range kvs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv.Key))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv.Value))
	}
	return b.String()
}

// EncodeQuery is kvs as a query string, in order.
func EncodeQuery(kvs []KV) string { return encodeKVs(kvs) }

// LoadTests reads every test file below dir (IsTestFile; names starting
// with "." are skipped, as LoadDir skips them). It returns the files that
// decoded, each with the tests it could read, and every problem found; a
// file with errors is still returned with its good tests, so that other
// tests run and are reported.
func LoadTests(dir string) ([]*TestFile, Errors) {
	root, files, errs := scanDir(dir, true)
	if len(errs) > 0 {
		return nil, errs
	}
	out := make([]*TestFile, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			errs = append(errs, &Error{File: f, Msg: "cannot read file: " + pathErrText(err)})
			continue
		}
		tf, ferrs := DecodeTestFile(f, data)
		if len(ferrs) > 0 {
			errs = append(errs, ferrs...)
			continue
		}
		out = append(out, tf)
	}
	return out, errs
}
