package definitions

// The decoders of test files (see testfile.go): one method per part of the
// format, each reporting what is wrong with file:line and going on, so one
// pass finds every problem.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// testDecoder decodes one test file, collecting errors.
type testDecoder struct {
	src  *source
	errs Errors
	// tooLarge: a JSON value passed maxJSONSize (reported once).
	tooLarge bool
}

func (d *testDecoder) errf(line int, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.src.name, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// document returns the file's top-level mapping, or nil after an error;
// keys names what the mapping should hold.
func (d *testDecoder) document(keys string) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(d.src.data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errf(1, "file is empty")
			return nil
		}
		d.yamlErr(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errf(extra.Line, "more than one YAML document in a file is not supported")
		return nil
	} else if !errors.Is(err, io.EOF) {
		d.yamlErr(err)
		return nil
	}
	if len(doc.Content) == 0 || resolve(doc.Content[0]).Kind != yaml.MappingNode {
		d.errf(max(doc.Line, 1), "expected a mapping with %s", keys)
		return nil
	}
	return resolve(doc.Content[0])
}

func (d *testDecoder) yamlErr(err error) {
	msg := err.Error()
	if m := yamlErrRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.errf(line, "invalid YAML: %s", m[2])
		return
	}
	d.errf(0, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

func (d *testDecoder) version(v *yaml.Node) {
	var ver int64
	if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&ver) != nil {
		d.errf(v.Line, "towerhook_test_version: expected an integer, got %s", kindName(v))
		return
	}
	if ver < 1 || ver > SupportedTestVersion {
		d.errf(v.Line, "towerhook_test_version: unsupported version %d (this towerhook reads %d)", ver, SupportedTestVersion)
	}
}

// fields walks mapping n: each known key goes to its decoder; duplicate and
// unknown keys are errors. what names the mapping in errors ("" at the top).
func (d *testDecoder) fields(n *yaml.Node, what string, keys map[string]func(k, v *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		d.errf(n.Line, "%sexpected a mapping, got %s", prefixed(what), kindName(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if prev, dup := seen[k.Value]; dup {
			d.errf(k.Line, "%sduplicate key %q (first at line %d)", prefixed(what), k.Value, prev)
			continue
		}
		seen[k.Value] = k.Line
		fn, ok := keys[k.Value]
		if !ok {
			d.errf(k.Line, "%sunknown key %q", prefixed(what), k.Value)
			continue
		}
		fn(k, v)
	}
	return true
}

func prefixed(what string) string {
	if what == "" {
		return ""
	}
	return what + ": "
}

// test decodes one test; nil when it has no usable name.
func (d *testDecoder) test(n *yaml.Node) *Test {
	t := &Test{File: d.src.name, Line: n.Line}
	var nameSeen, hookSeen bool
	ok := d.fields(n, "test", map[string]func(k, v *yaml.Node){
		"name":    func(_, v *yaml.Node) { nameSeen = true; t.Name = d.str(v, "name") },
		"webhook": func(_, v *yaml.Node) { hookSeen = true; t.Webhook, t.WebhookLine = d.str(v, "webhook"), v.Line },
		"now":     func(_, v *yaml.Node) { t.Now = d.now(v) },
		"secrets": func(_, v *yaml.Node) { t.Secrets = d.strMap(v, "secrets") },
		"request": func(_, v *yaml.Node) { d.request(v, &t.Request) },
		"mocks":   func(_, v *yaml.Node) { t.Mocks = d.mocks(v) },
		"expect":  func(_, v *yaml.Node) { d.expect(v, &t.Expect) },
	})
	if !ok {
		return nil
	}
	if !nameSeen || strings.TrimSpace(t.Name) == "" {
		d.errf(n.Line, "test: missing required key \"name\"")
		return nil
	}
	if !hookSeen || t.Webhook == "" {
		d.errf(n.Line, "test %q: missing required key \"webhook\" (the reference of the webhook under test)", t.Name)
	}
	return t
}

// str returns a scalar as text (null: ""), else reports an error.
func (d *testDecoder) str(v *yaml.Node, what string) string {
	if v.Kind != yaml.ScalarNode {
		d.errf(v.Line, "%s: expected a string, got %s", what, kindName(v))
		return ""
	}
	if v.Tag == "!!null" {
		return ""
	}
	return v.Value
}

// strMap decodes a mapping of scalars.
func (d *testDecoder) strMap(v *yaml.Node, what string) map[string]string {
	kvs := d.kvs(v, what)
	if kvs == nil {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// kvs decodes a mapping of scalars in file order.
func (d *testDecoder) kvs(v *yaml.Node, what string) []KV {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		d.errf(v.Line, "%s: expected a mapping, got %s", what, kindName(v))
		return nil
	}
	out := make([]KV, 0, len(v.Content)/2)
	seen := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := resolve(v.Content[i]), resolve(v.Content[i+1])
		if seen[k.Value] {
			d.errf(k.Line, "%s: duplicate key %q", what, k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, KV{k.Value, d.str(val, what+"."+k.Value)})
	}
	return out
}

// strList decodes a list of scalars.
func (d *testDecoder) strList(v *yaml.Node, what string) []string {
	if v.Kind != yaml.SequenceNode {
		d.errf(v.Line, "%s: expected a list, got %s", what, kindName(v))
		return nil
	}
	out := make([]string, 0, len(v.Content))
	for _, item := range v.Content {
		out = append(out, d.str(resolve(item), what))
	}
	return out
}

// integer decodes an integer within lo..hi.
func (d *testDecoder) integer(v *yaml.Node, what string, lo, hi int) int {
	var n int
	if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&n) != nil || n < lo || n > hi {
		d.errf(v.Line, "%s: expected an integer from %d to %d, got %s", what, lo, hi, kindName(v))
		return 0
	}
	return n
}

// now accepts an RFC 3339 time or Unix seconds.
func (d *testDecoder) now(v *yaml.Node) time.Time {
	if v.Kind == yaml.ScalarNode && (v.Tag == "!!int" || v.Tag == "!!float") {
		var secs float64
		if v.Decode(&secs) == nil && !math.IsNaN(secs) && secs > 0 && secs < 1e11 {
			return time.Unix(0, int64(secs*1e9)).UTC()
		}
	}
	if v.Kind == yaml.ScalarNode {
		if t, err := time.Parse(time.RFC3339Nano, v.Value); err == nil {
			return t.UTC()
		}
	}
	d.errf(v.Line, "now: expected an RFC 3339 time such as \"2026-03-01T12:00:00Z\" or Unix seconds, got %s", kindName(v))
	return time.Time{}
}

// method decodes GET or POST (any case), or with anyMethod any method.
func (d *testDecoder) method(v *yaml.Node, what string, anyMethod bool) string {
	m := strings.ToUpper(strings.TrimSpace(d.str(v, what)))
	if m == "GET" || m == "POST" || (anyMethod && m != "") {
		return m
	}
	d.errf(v.Line, "%s: expected GET or POST, got %s", what, kindName(v))
	return ""
}

func (d *testDecoder) request(v *yaml.Node, r *TestRequest) {
	setBody := func(kind string, k *yaml.Node, body []byte) {
		if r.BodyKind != "" {
			d.errf(k.Line, "request: %s and %s: give one body (json, body or form)", r.BodyKind, kind)
			return
		}
		r.BodyKind, r.Body = kind, body
	}
	d.fields(v, "request", map[string]func(k, v *yaml.Node){
		"method":  func(_, v *yaml.Node) { r.Method = d.method(v, "request.method", false) },
		"headers": func(_, v *yaml.Node) { r.Headers = d.kvs(v, "request.headers") },
		"json":    func(k, v *yaml.Node) { setBody("json", k, d.json(v, "request.json")) },
		"body":    func(k, v *yaml.Node) { setBody("body", k, []byte(d.str(v, "request.body"))) },
		"form":    func(k, v *yaml.Node) { setBody("form", k, []byte(encodeKVs(d.kvs(v, "request.form")))) },
		"query":   func(_, v *yaml.Node) { r.Query = d.kvs(v, "request.query") },
		"remote_addr": func(_, v *yaml.Node) {
			r.RemoteAddr = d.str(v, "request.remote_addr")
			if _, ok := parsePrefix(r.RemoteAddr); !ok {
				d.errf(v.Line, "request.remote_addr: expected an IP address, got %s", kindName(v))
			}
		},
		"sign": func(k, v *yaml.Node) {
			r.Sign = d.str(v, "request.sign")
			r.signLine, r.signLines = codeLineMap(d.src, k.Line, v)
			if p := checkLua(r.Sign, d.src.name); p != nil {
				d.errf(r.SignFileLine(p.line), "request.sign: %s", LuaErrorText(p.msg, p.line, nil))
			}
		},
	})
}

// mocks decodes a test's mocks mapping.
func (d *testDecoder) mocks(v *yaml.Node) Mocks {
	var m Mocks
	d.fields(v, "mocks", map[string]func(k, v *yaml.Node){
		"requests": func(_, v *yaml.Node) {
			d.each(v, "mocks.requests", func(n *yaml.Node) { m.Requests = append(m.Requests, d.httpMock(n)) })
		},
		"subprocess": func(_, v *yaml.Node) {
			d.each(v, "mocks.subprocess", func(n *yaml.Node) { m.Subprocess = append(m.Subprocess, d.procMock(n)) })
		},
	})
	return m
}

// each calls fn for every item of list v.
func (d *testDecoder) each(v *yaml.Node, what string, fn func(*yaml.Node)) {
	if v.Kind != yaml.SequenceNode {
		d.errf(v.Line, "%s: expected a list, got %s", what, kindName(v))
		return
	}
	for _, item := range v.Content {
		fn(resolve(item))
	}
}

func (d *testDecoder) httpMock(n *yaml.Node) HTTPMock {
	m := HTTPMock{Line: n.Line, Status: 200}
	d.fields(n, "mocks.requests", map[string]func(k, v *yaml.Node){
		"method":  func(_, v *yaml.Node) { m.Method = d.method(v, "mocks.requests.method", true) },
		"url":     func(_, v *yaml.Node) { m.URL = d.str(v, "mocks.requests.url") },
		"status":  func(_, v *yaml.Node) { m.Status = d.integer(v, "mocks.requests.status", 100, 599) },
		"headers": func(_, v *yaml.Node) { m.Headers = d.strMap(v, "mocks.requests.headers") },
		"body":    func(_, v *yaml.Node) { m.Body = d.str(v, "mocks.requests.body") },
		"json": func(_, v *yaml.Node) {
			m.Body = string(d.json(v, "mocks.requests.json"))
			if m.Headers == nil {
				m.Headers = map[string]string{}
			}
			m.Headers["Content-Type"] = "application/json"
		},
		"error": func(_, v *yaml.Node) { m.Error = d.str(v, "mocks.requests.error") },
	})
	if m.URL == "" {
		d.errf(n.Line, "mocks.requests: missing required key \"url\"")
	}
	return m
}

func (d *testDecoder) procMock(n *yaml.Node) ProcMock {
	m := ProcMock{Line: n.Line}
	d.fields(n, "mocks.subprocess", map[string]func(k, v *yaml.Node){
		"argv":       func(_, v *yaml.Node) { m.Argv = d.strList(v, "mocks.subprocess.argv") },
		"returncode": func(_, v *yaml.Node) { m.ReturnCode = d.integer(v, "mocks.subprocess.returncode", -255, 255) },
		"stdout":     func(_, v *yaml.Node) { m.Stdout = d.str(v, "mocks.subprocess.stdout") },
		"stderr":     func(_, v *yaml.Node) { m.Stderr = d.str(v, "mocks.subprocess.stderr") },
		"error":      func(_, v *yaml.Node) { m.Error = d.str(v, "mocks.subprocess.error") },
	})
	if len(m.Argv) == 0 {
		d.errf(n.Line, "mocks.subprocess: missing required key \"argv\"")
	}
	return m
}

func (d *testDecoder) expect(v *yaml.Node, e *Expect) {
	e.Line, e.lines = v.Line, map[string]int{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k := resolve(v.Content[i])
		e.lines[k.Value] = k.Line
	}
	d.fields(v, "expect", map[string]func(k, v *yaml.Node){
		"status": func(_, v *yaml.Node) { e.Status = d.integer(v, "expect.status", 100, 599) },
		"message": func(_, v *yaml.Node) {
			if v.Kind == yaml.ScalarNode {
				s := d.str(v, "expect.message")
				e.Message = &s
				return
			}
			e.MessageJSON = d.json(v, "expect.message")
		},
		"message_regex": func(_, v *yaml.Node) {
			re, err := regexp.Compile(d.str(v, "expect.message_regex"))
			if err != nil {
				d.errf(v.Line, "expect.message_regex: %v", err)
			}
			e.MessageRegex = re
		},
		"authentication": func(_, v *yaml.Node) {
			switch s := d.str(v, "expect.authentication"); s {
			case "success", "failed", "not_required":
				e.Authentication = s
			default:
				d.errf(v.Line, "expect.authentication: expected success, failed or not_required, got %s", kindName(v))
			}
		},
		"log_lines_contain": func(_, v *yaml.Node) { e.LogLinesContain = d.strList(v, "expect.log_lines_contain") },
		"requests": func(_, v *yaml.Node) {
			e.HasRequests = true
			d.each(v, "expect.requests", func(n *yaml.Node) { e.Requests = append(e.Requests, d.httpExpect(n)) })
		},
		"subprocess": func(_, v *yaml.Node) {
			e.HasSubprocess = true
			d.each(v, "expect.subprocess", func(n *yaml.Node) { e.Subprocess = append(e.Subprocess, d.procExpect(n)) })
		},
	})
	if e.Message != nil && e.MessageRegex != nil || e.MessageJSON != nil && e.MessageRegex != nil {
		d.errf(v.Line, "expect: message and message_regex: give one")
	}
}

func (d *testDecoder) httpExpect(n *yaml.Node) HTTPExpect {
	x := HTTPExpect{Line: n.Line}
	d.fields(n, "expect.requests", map[string]func(k, v *yaml.Node){
		"method":  func(_, v *yaml.Node) { x.Method = d.method(v, "expect.requests.method", true) },
		"url":     func(_, v *yaml.Node) { x.URL = d.str(v, "expect.requests.url") },
		"json":    func(_, v *yaml.Node) { x.JSON = d.json(v, "expect.requests.json") },
		"body":    func(_, v *yaml.Node) { s := d.str(v, "expect.requests.body"); x.Body = &s },
		"headers": func(_, v *yaml.Node) { x.Headers = d.strMap(v, "expect.requests.headers") },
	})
	return x
}

func (d *testDecoder) procExpect(n *yaml.Node) ProcExpect {
	x := ProcExpect{Line: n.Line}
	d.fields(n, "expect.subprocess", map[string]func(k, v *yaml.Node){
		"argv":  func(_, v *yaml.Node) { x.Argv = d.strList(v, "expect.subprocess.argv") },
		"input": func(_, v *yaml.Node) { s := d.str(v, "expect.subprocess.input"); x.Input = &s },
		"env":   func(_, v *yaml.Node) { x.Env = d.strMap(v, "expect.subprocess.env") },
	})
	if len(x.Argv) == 0 {
		d.errf(n.Line, "expect.subprocess: missing required key \"argv\"")
	}
	return x
}
