package definitions

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// SupportedYAMLVersion is the highest cetmix_tower_yaml_version accepted.
const SupportedYAMLVersion = 1

// endpointRe is Tower's endpoint constraint.
var endpointRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_/-]*[A-Za-z0-9])?$`)

// yamlErrRe extracts the line from yaml.v3 syntax errors.
var yamlErrRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// hintNoRecords tells how to write a file that has no records on purpose.
const hintNoRecords = `(write "records: []" for a file with no records on purpose)`

// Keys Tower exports (or Odoo adds) that towerhook accepts and ignores.
var (
	ignoredCommonKeys = map[string]bool{
		"id": true, "display_name": true, "create_date": true, "create_uid": true,
		"write_date": true, "write_uid": true, "access_level": true, "user_ids": true,
		"manager_ids": true, "note": true, "variable_ids": true, "secret_ids": true,
		"log_ids": true, "log_count": true,
	}
	ignoredWebhookKeys = map[string]bool{"user_id": true, "full_url": true}
	ignoredTopKeys     = map[string]bool{"manifest": true}
)

// rawRecord is one decoded record before cross-file validation.
type rawRecord struct {
	model    string
	file     string
	line     int
	ref      string // explicit reference; "" until generated
	refLine  int
	name     string
	code     string // secrets substituted
	codeLine int
	// codeLines, when set, is the file line each Lua line starts on (see
	// codeLineMap); nil maps Lua line n to codeLine+n-1.
	codeLines []int
	secrets   []string
	values    []string // resolved secret values
	missing   []string // unresolved secret refs (placeholders)

	// authenticator
	allowed []netip.Prefix
	proxies []netip.Prefix

	// webhook
	active       bool
	endpoint     string
	endpointLine int
	endpointOK   bool
	method       string
	contentType  string
	runAs        string
	timeout      time.Duration
	authRef      string // pointer form
	authLine     int
	nested       *rawRecord // nested authenticator definition
	delivery     Delivery
	// deliveryLines is the line of each delivery key given (delivery.go).
	deliveryLines map[string]int

	errs []*Error
	// codePending: the code's syntax check was skipped while decoding
	// (Options.SkipCodeCheck); its error belongs at errs[codeErrAt].
	codePending bool
	codeErrAt   int

	// set by the cross-file phase
	canonical *rawRecord // the record this one duplicates, or itself
	auth      *rawRecord // webhook: resolved authenticator
}

// fileResult is the outcome of decoding one file.
type fileResult struct {
	records []*rawRecord // top-level records in file order (nested ones hang off webhooks)
	errs    []*Error     // file-level errors
}

// source is one file being decoded.
type source struct {
	name  string
	data  []byte
	split []string // data's lines, split on first use
}

// lines returns the file's lines without their line breaks.
func (s *source) lines() []string {
	if s.split == nil {
		s.split = strings.Split(string(s.data), "\n")
		for i, l := range s.split {
			s.split[i] = strings.TrimSuffix(l, "\r")
		}
	}
	return s.split
}

// decoder decodes the files of one load.
type decoder struct {
	secrets  *secretResolver
	skipCode bool
	// maxWindow is the longest dedup_window (the retention; 0 = no limit).
	maxWindow time.Duration
}

func (d *decoder) fileErr(res *fileResult, file string, line int, format string, args ...any) {
	res.errs = append(res.errs, &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (r *rawRecord) errf(line int, format string, args ...any) {
	if line <= 0 {
		line = r.line
	}
	r.errs = append(r.errs, &Error{File: r.file, Line: line, Reference: r.ref, Msg: fmt.Sprintf(format, args...)})
}

// decodeFile decodes one Tower export. It never panics.
func (d *decoder) decodeFile(file string, data []byte) (res fileResult) {
	defer func() {
		if r := recover(); r != nil {
			res = fileResult{errs: []*Error{{File: file, Msg: fmt.Sprintf("cannot decode YAML: %v", r)}}}
		}
	}()
	src := &source{name: file, data: data}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			// No YAML document at all (nothing, blanks or comments): most
			// likely a write or sync that was cut short. Loading it as "no
			// records" would silently drop every webhook it held.
			d.fileErr(&res, file, 1, "file is empty")
			return res
		}
		d.yamlErr(&res, file, err)
		return res
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.fileErr(&res, file, extra.Line, "more than one YAML document in a file is not supported")
		return res
	} else if !errors.Is(err, io.EOF) {
		d.yamlErr(&res, file, err)
		return res
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 ||
		(resolve(doc.Content[0]).Kind == yaml.ScalarNode && resolve(doc.Content[0]).Tag == "!!null") {
		d.fileErr(&res, file, max(doc.Line, 1), "records: missing %s", hintNoRecords)
		return res
	}
	top := resolve(doc.Content[0])
	if top.Kind != yaml.MappingNode {
		d.fileErr(&res, file, top.Line, "expected a mapping with cetmix_tower_yaml_version and records, got %s", kindName(top))
		return res
	}
	var recordsNode *yaml.Node
	recordsLine := 0
	single := false
	seen := map[string]int{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := resolve(top.Content[i]), resolve(top.Content[i+1])
		key := k.Value
		if prev, dup := seen[key]; dup {
			d.fileErr(&res, file, k.Line, "duplicate key %q (first at line %d)", key, prev)
			continue
		}
		seen[key] = k.Line
		switch {
		case key == "cetmix_tower_yaml_version":
			d.checkVersion(&res, file, v)
		case key == "records":
			recordsNode, recordsLine = v, k.Line
		case key == "cetmix_tower_model":
			single = true
		case ignoredTopKeys[key]:
		}
	}
	if single {
		// A single-record export: the record's fields sit at the top level.
		if recordsNode != nil {
			d.fileErr(&res, file, top.Line, "a file has either records or a single top-level record, not both")
			return res
		}
		if r := d.decodeRecord(src, top, "", true); r != nil {
			res.records = append(res.records, r)
		}
		return res
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k := resolve(top.Content[i])
		switch k.Value {
		case "cetmix_tower_yaml_version", "records":
		default:
			if !ignoredTopKeys[k.Value] && !ignoredCommonKeys[k.Value] {
				d.fileErr(&res, file, k.Line, "unknown key %q", k.Value)
			}
		}
	}
	// A file without records is an error unless it says so with
	// "records: []": an empty file must not silently remove webhooks.
	if recordsNode == nil {
		d.fileErr(&res, file, top.Line, "records: missing %s", hintNoRecords)
		return res
	}
	if recordsNode.Kind == yaml.ScalarNode && recordsNode.Tag == "!!null" {
		d.fileErr(&res, file, recordsLine, "records: empty %s", hintNoRecords)
		return res
	}
	if recordsNode.Kind != yaml.SequenceNode {
		d.fileErr(&res, file, recordsNode.Line, "records: expected a list, got %s", kindName(recordsNode))
		return res
	}
	for _, item := range recordsNode.Content {
		item = resolve(item)
		if item.Kind != yaml.MappingNode {
			d.fileErr(&res, file, item.Line, "record: expected a mapping, got %s", kindName(item))
			continue
		}
		if r := d.decodeRecord(src, item, "", false); r != nil {
			res.records = append(res.records, r)
		}
	}
	return res
}

func (d *decoder) yamlErr(res *fileResult, file string, err error) {
	msg := err.Error()
	if m := yamlErrRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.fileErr(res, file, line, "invalid YAML: %s", m[2])
		return
	}
	d.fileErr(res, file, 0, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

func (d *decoder) checkVersion(res *fileResult, file string, v *yaml.Node) {
	var ver int64
	if v.Kind != yaml.ScalarNode || v.Tag != "!!int" {
		d.fileErr(res, file, v.Line, "cetmix_tower_yaml_version: expected an integer, got %q", v.Value)
		return
	}
	if err := v.Decode(&ver); err != nil {
		d.fileErr(res, file, v.Line, "cetmix_tower_yaml_version: expected an integer, got %q", v.Value)
		return
	}
	if ver > SupportedYAMLVersion {
		d.fileErr(res, file, v.Line, "YAML version is higher than version supported by your Cetmix Tower instance. %d > %d", ver, SupportedYAMLVersion)
	} else if ver < 1 {
		d.fileErr(res, file, v.Line, "cetmix_tower_yaml_version: unsupported version %d", ver)
	}
}

// decodeRecord decodes one record mapping. wantModel, when set, is the model
// the record must have (a nested authenticator may omit its model key).
// top says the record is the file's top-level mapping (version keys allowed).
func (d *decoder) decodeRecord(src *source, n *yaml.Node, wantModel string, top bool) *rawRecord {
	r := &rawRecord{file: src.name, line: n.Line, active: true, method: MethodPost, contentType: ContentJSON, delivery: defaultDelivery()}
	// First pass: model and reference, so later errors can name the record.
	model := wantModel
	modelLine := n.Line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		switch k.Value {
		case "cetmix_tower_model":
			s, ok := scalarString(v)
			if !ok {
				r.errf(v.Line, "cetmix_tower_model: expected a string, got %s", kindName(v))
				return r.finishBad()
			}
			modelLine = v.Line
			if wantModel != "" && s != wantModel {
				r.errf(v.Line, "authenticator_id: nested record has cetmix_tower_model %q, want %q", s, wantModel)
				return r.finishBad()
			}
			model = s
		case "reference":
			s, ok := scalarString(v)
			if !ok {
				r.errf(v.Line, "reference: expected a string, got %s", kindName(v))
				continue
			}
			s = strings.TrimSpace(s)
			r.refLine = v.Line
			if s != "" && fixReference(s) != s {
				r.errf(v.Line, "reference %q is not valid: use lower-case letters, digits and \"_\" (Tower would store %q)", s, fixReference(s))
			}
			r.ref = s
		}
	}
	if r.ref != "" {
		for _, e := range r.errs {
			e.Reference = r.ref
		}
	}
	switch model {
	case ModelWebhook, ModelAuthenticator:
	case "":
		r.errf(n.Line, "missing cetmix_tower_model (webhook or webhook_authenticator)")
		return r.finishBad()
	default:
		r.errf(modelLine, "unsupported model %q (towerhook reads webhook and webhook_authenticator)", model)
		return r.finishBad()
	}
	r.model = model
	seen := map[string]int{}
	var nameSeen, codeSeen, endpointSeen, authSeen bool
	var codeNode *yaml.Node
	codeKeyLine := 0
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		key := k.Value
		if prev, dup := seen[key]; dup {
			r.errf(k.Line, "duplicate key %q (first at line %d)", key, prev)
			continue
		}
		seen[key] = k.Line
		switch key {
		case "cetmix_tower_model", "reference":
			continue
		case "name":
			nameSeen = true
			s, ok := scalarString(v)
			if !ok {
				r.errf(v.Line, "name: expected a string, got %s", kindName(v))
				continue
			}
			r.name = strings.TrimSpace(s)
			continue
		case "code":
			codeSeen = true
			s, ok := scalarString(v)
			if !ok {
				r.errf(v.Line, "code: expected a string, got %s", kindName(v))
				continue
			}
			r.code = s
			codeNode, codeKeyLine = v, k.Line
			continue
		}
		if top && (key == "cetmix_tower_yaml_version" || ignoredTopKeys[key]) {
			continue
		}
		if ignoredCommonKeys[key] {
			continue
		}
		if model == ModelWebhook {
			if ignoredWebhookKeys[key] {
				continue
			}
			switch key {
			case "active":
				if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
					continue
				}
				var b bool
				if v.Kind != yaml.ScalarNode || v.Decode(&b) != nil {
					r.errf(v.Line, "active: expected true or false, got %s", valueDesc(v))
					continue
				}
				r.active = b
			case "endpoint":
				endpointSeen = true
				s, ok := scalarString(v)
				if !ok {
					r.errf(v.Line, "endpoint: expected a string, got %s", kindName(v))
					continue
				}
				r.endpoint, r.endpointLine = s, v.Line
			case "method":
				s, ok := scalarString(v)
				switch m := strings.ToLower(strings.TrimSpace(s)); {
				case !ok:
					r.errf(v.Line, "method: expected post or get, got %s", kindName(v))
				case m == "post" || m == "":
					r.method = MethodPost
				case m == "get":
					r.method = MethodGet
				default:
					r.errf(v.Line, "method: expected post or get, got %q", s)
				}
			case "content_type":
				s, ok := scalarString(v)
				switch c := strings.ToLower(strings.TrimSpace(s)); {
				case !ok:
					r.errf(v.Line, "content_type: expected json or form, got %s", kindName(v))
				case c == "json" || c == "":
					r.contentType = ContentJSON
				case c == "form":
					r.contentType = ContentForm
				default:
					r.errf(v.Line, "content_type: expected json or form, got %q", s)
				}
			case "run_as":
				s, ok := scalarString(v)
				if !ok {
					r.errf(v.Line, "run_as: expected a user name, got %s", kindName(v))
					continue
				}
				r.runAs = strings.TrimSpace(s)
			case "timeout":
				t, err := parseTimeout(v)
				if err != "" {
					r.errf(v.Line, "timeout: %s", err)
					continue
				}
				r.timeout = t
			case "authenticator_id":
				authSeen = d.decodeAuthRef(src, r, v)
			default:
				if !decodeDeliveryKey(r, key, k, v) {
					r.errf(k.Line, "unknown key %q", key)
				}
			}
			continue
		}
		switch key {
		case "allowed_ip_addresses":
			r.allowed = parseIPList(r, key, v)
		case "trusted_proxy_ips":
			r.proxies = parseIPList(r, key, v)
		default:
			r.errf(k.Line, "unknown key %q", key)
		}
	}
	if !nameSeen || r.name == "" {
		r.errf(n.Line, "missing required key \"name\"")
	}
	if !codeSeen || strings.TrimSpace(r.code) == "" {
		r.errf(n.Line, "missing required key \"code\"")
	} else {
		d.prepareCode(src, r, codeKeyLine, codeNode)
	}
	if model == ModelWebhook {
		switch {
		case !endpointSeen || r.endpoint == "":
			r.errf(n.Line, "missing required key \"endpoint\"")
		case !endpointRe.MatchString(r.endpoint):
			r.errf(r.endpointLine, "endpoint %q: must start and end with a letter or digit and contain only letters, digits, \"_\", \"-\" and \"/\"", r.endpoint)
		case strings.Contains(r.endpoint, "//"):
			r.errf(r.endpointLine, "endpoint %q: must not contain \"//\"", r.endpoint)
		default:
			r.endpointOK = true
		}
		if !authSeen {
			r.errf(n.Line, "missing required key \"authenticator_id\"")
		}
		checkDelivery(r, d.maxWindow)
	}
	return r
}

// finishBad returns r as a record of no model that only carries errors.
func (r *rawRecord) finishBad() *rawRecord {
	r.model = ""
	return r
}

// decodeAuthRef decodes a webhook's authenticator_id: a reference string, a
// {reference: x} pointer, or a nested authenticator record. It reports
// whether a usable value was present.
func (d *decoder) decodeAuthRef(src *source, r *rawRecord, v *yaml.Node) bool {
	r.authLine = v.Line
	switch v.Kind {
	case yaml.ScalarNode:
		s, _ := scalarString(v)
		r.authRef = strings.TrimSpace(s)
		return r.authRef != ""
	case yaml.MappingNode:
		pointer := true
		ref := ""
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, val := resolve(v.Content[i]), resolve(v.Content[i+1])
			switch k.Value {
			case "reference":
				s, _ := scalarString(val)
				ref = strings.TrimSpace(s)
			case "cetmix_tower_model":
			default:
				if !ignoredCommonKeys[k.Value] {
					pointer = false
				}
			}
		}
		if pointer {
			if ref == "" {
				r.errf(v.Line, "authenticator_id: a pointer needs a non-empty reference")
				return true
			}
			r.authRef = ref
			return true
		}
		r.nested = d.decodeRecord(src, v, ModelAuthenticator, false)
		return true
	default:
		r.errf(v.Line, "authenticator_id: expected a reference or an authenticator record, got %s", kindName(v))
		return true
	}
}

// prepareCode substitutes secrets and syntax-checks the code. keyLine is
// the line of the code key, n its value.
func (d *decoder) prepareCode(src *source, r *rawRecord, keyLine int, n *yaml.Node) {
	r.codeLine, r.codeLines = codeLineMap(src, keyLine, n)
	sub := d.secrets.substitute(r.code)
	r.code, r.secrets, r.values, r.missing = sub.code, sub.refs, sub.values, sub.missing
	for _, msg := range sub.errs {
		r.errf(r.codeLine, "%s", msg)
	}
	if d.skipCode {
		// Checked by build only if the load fails anyway (Options.SkipCodeCheck).
		r.codePending, r.codeErrAt = true, len(r.errs)
		return
	}
	if e := r.codeError(); e != nil {
		r.errs = append(r.errs, e)
	}
}

// codeError syntax-checks the record's code: nil, or the error that names
// the file line and the Lua line.
func (r *rawRecord) codeError() *Error {
	p := checkLua(r.code, r.file)
	if p == nil {
		return nil
	}
	return &Error{File: r.file, Line: codeFileLine(r.code, r.codeLine, r.codeLines, p.line), Reference: r.ref,
		Msg: LuaErrorText(p.msg, p.line, r.values)}
}

// checkPendingCode runs the code checks that decoding skipped, putting
// each error where decoding would have (so the errors and their order are
// the same as a load without SkipCodeCheck).
func (r *rawRecord) checkPendingCode() {
	if !r.codePending {
		return
	}
	r.codePending = false
	if e := r.codeError(); e != nil {
		r.errs = slices.Insert(r.errs, r.codeErrAt, e)
	}
}

// parseTimeout accepts a positive number of seconds or a Go duration.
func parseTimeout(v *yaml.Node) (time.Duration, string) {
	if v.Kind != yaml.ScalarNode {
		return 0, "expected seconds or a duration such as \"30s\", got " + kindName(v)
	}
	if v.Tag == "!!null" {
		return 0, ""
	}
	var secs float64
	switch v.Tag {
	case "!!int", "!!float":
		if err := v.Decode(&secs); err != nil {
			return 0, fmt.Sprintf("expected seconds or a duration such as \"30s\", got %q", v.Value)
		}
	case "!!str":
		s := strings.TrimSpace(v.Value)
		if d, err := time.ParseDuration(s); err == nil {
			if d <= 0 {
				return 0, fmt.Sprintf("must be positive, got %q", v.Value)
			}
			return d, ""
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Sprintf("expected seconds or a duration such as \"30s\", got %q", v.Value)
		}
		secs = f
	default:
		return 0, fmt.Sprintf("expected seconds or a duration such as \"30s\", got %q", v.Value)
	}
	if math.IsNaN(secs) || math.IsInf(secs, 0) || secs > float64(math.MaxInt64)/1e9 {
		return 0, fmt.Sprintf("out of range: %q", v.Value)
	}
	d := time.Duration(secs * 1e9)
	if d <= 0 {
		return 0, fmt.Sprintf("must be positive, got %q", v.Value)
	}
	return d, ""
}

// parseIPList parses a comma-separated (or YAML list of) IPs and CIDRs.
// false, null and empty mean no entries.
func parseIPList(r *rawRecord, key string, v *yaml.Node) []netip.Prefix {
	var entries []string
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" || (v.Tag == "!!bool" && strings.EqualFold(v.Value, "false")) {
			return nil
		}
		if v.Tag == "!!bool" {
			r.errf(v.Line, "%s: expected comma-separated IPs or CIDRs or false, got %q", key, v.Value)
			return nil
		}
		entries = strings.Split(v.Value, ",")
	case yaml.SequenceNode:
		for _, item := range v.Content {
			s, ok := scalarString(resolve(item))
			if !ok {
				r.errf(item.Line, "%s: expected IPs or CIDRs, got %s", key, kindName(item))
				continue
			}
			entries = append(entries, strings.Split(s, ",")...)
		}
	default:
		r.errf(v.Line, "%s: expected comma-separated IPs or CIDRs, got %s", key, kindName(v))
		return nil
	}
	var out []netip.Prefix
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		p, ok := parsePrefix(e)
		if !ok {
			r.errf(v.Line, "%s: invalid IP or CIDR %q", key, e)
			continue
		}
		out = append(out, p)
	}
	return out
}

// parsePrefix parses an IP (as a /32 or /128) or a CIDR (host bits
// cleared); IPv4-mapped IPv6 is unmapped.
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if a := p.Addr(); a.Is4In6() {
			if p.Bits() < 96 {
				return p.Masked(), true
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// fixReference is Tower's reference generation: spaces to "_", drop
// everything but [A-Za-z0-9_], lower-case.
func fixReference(s string) string {
	s = strings.TrimSpace(s)
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			b = append(b, '_')
		case c >= 'A' && c <= 'Z':
			b = append(b, c-'A'+'a')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			b = append(b, c)
		}
	}
	return string(b)
}

// resolve follows aliases (bounded, so cyclic documents cannot hang).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 16 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// scalarString returns a scalar's text; null and false (Odoo's empty
// value) read as "". Non-scalars report false.
func scalarString(n *yaml.Node) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	switch {
	case n.Tag == "!!null":
		return "", true
	case n.Tag == "!!bool" && strings.EqualFold(n.Value, "false"):
		return "", true
	}
	return n.Value, true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func valueDesc(n *yaml.Node) string { return kindName(n) }
