package lua

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

// TestModules checks each expression against its expected string value.
func TestModules(t *testing.T) {
	e := testEngine(t, Options{})
	for _, tc := range []struct{ expr, want string }{
		// hmac / hashlib (GitHub's documented vector)
		{`hmac.new("It's a Secret to Everybody", "Hello, World!", "sha256"):hexdigest()`, "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
		{`hmac.new("It's a Secret to Everybody", "Hello, World!", hashlib.sha256):hexdigest()`, "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
		{`(function() local h = hmac.new("It's a Secret to Everybody", nil, "sha256"); h:update("Hello, "); h:update("World!"); return h:hexdigest() end)()`, "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
		{`binascii.hexlify(hmac.new("key", "The quick brown fox jumps over the lazy dog", "md5"):digest())`, "80070713463e7749b90c2dc24911e275"},
		{`hmac.new("key", "The quick brown fox jumps over the lazy dog", "sha1"):hexdigest()`, "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"},
		{`tostring(hmac.compare_digest("abc", "abc"))`, "true"},
		{`tostring(hmac.compare_digest("abc", "abd"))`, "false"},
		{`tostring(hmac.compare_digest("abc", "ab"))`, "false"},
		{`hashlib.md5("abc"):hexdigest()`, "900150983cd24fb0d6963f7d28e17f72"},
		{`hashlib.sha1("abc"):hexdigest()`, "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{`hashlib.sha224("abc"):hexdigest()`, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"},
		{`hashlib.sha256("abc"):hexdigest()`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{`hashlib.sha384(""):hexdigest():sub(1, 16)`, "38b060a751ac9638"},
		{`hashlib.sha512("abc"):hexdigest():sub(1, 16)`, "ddaf35a193617aba"},
		{`hashlib.sha3_256(""):hexdigest()`, "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"},
		{`hashlib.sha3_512(""):hexdigest():sub(1, 16)`, "a69f73cca23a9ac5"},
		{`(function() local h = hashlib.sha256(); h:update("a"); local c = h:copy(); c:update("bc"); return c:hexdigest() .. h:hexdigest():sub(1,4) end)()`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adca97"},
		{`hashlib.new("sha256", "abc"):hexdigest():sub(1, 8)`, "ba7816bf"},
		// base64 / binascii
		{`base64.b64encode("hello?>")`, "aGVsbG8/Pg=="},
		{`base64.urlsafe_b64encode("hello?>")`, "aGVsbG8_Pg=="},
		{`base64.b64decode("aGVsbG8/Pg==")`, "hello?>"},
		{`base64.b64decode("aGVs\nbG8/Pg==")`, "hello?>"},
		{`base64.urlsafe_b64decode("aGVsbG8_Pg==")`, "hello?>"},
		{`select(2, pcall(base64.b64decode, "abc")):match("Incorrect padding")`, "Incorrect padding"},
		{`binascii.hexlify("\001\255")`, "01ff"},
		{`binascii.unhexlify("01FF") == "\001\255" and "y"`, "y"},
		{`select(2, pcall(binascii.unhexlify, "0")):match("Odd%-length string")`, "Odd-length string"},
		// json
		{`json.dumps({b = 1, a = {1, 2.5, "x"}, c = json.null, d = true})`, `{"a":[1,2.5,"x"],"b":1,"c":null,"d":true}`},
		{`json.dumps({})`, `{}`},
		{`json.dumps(json.loads("[]"))`, `[]`},
		{`json.dumps(json.loads('{"a":[],"b":{}}'))`, `{"a":[],"b":{}}`},
		{`json.dumps(12345678901234)`, `12345678901234`},
		{`json.dumps(1e20)`, `100000000000000000000`},
		{`json.dumps(0.1)`, `0.1`},
		{`json.dumps("\255a\n\"")`, `"\ufffda\n\""`},
		{`json.dumps({[1] = "a", [3] = "c"})`, `{"1":"a","3":"c"}`},
		{`json.encode(json.decode('{"k":"\\u00e9\\ud83d\\ude00"}'))`, `{"k":"é😀"}`},
		{`json.dumps({1, 2}, {indent = 2})`, "[\n  1,\n  2\n]"},
		{`tostring(json.loads("9007199254740993") == 2^53)`, "true"},
		{`tostring(json.loads("null") == json.null)`, "true"},
		{`select(2, pcall(json.dumps, 0/0)):match("not JSON compliant")`, "not JSON compliant"},
		{`select(2, pcall(json.dumps, {f = print or function() end})):match("not JSON serializable")`, "not JSON serializable"},
		{`select(2, pcall(json.loads, "{bad")):match("json.loads")`, "json.loads"},
		{`(function() local t = {} t.t = t return select(2, pcall(json.dumps, t)):match("circular") end)()`, "circular"},
		// re
		{`re.match("(\\w+)@(\\w+)", "joe@host rest"):group(2)`, "host"},
		{`tostring(re.match("host", "joe@host"))`, "nil"},
		{`re.search("host", "joe@host"):group()`, "host"},
		{`re.search("(?P<user>\\w+)@", "joe@host"):group("user")`, "joe"},
		{`tostring(re.fullmatch("\\d+", "123a"))`, "nil"},
		{`re.fullmatch("\\d+", "123"):group(0)`, "123"},
		{`table.concat(re.search("(a)(b)?", "ac"):groups() and {re.search("(a)(b)", "ab"):groups()[2]}, ",")`, "b"},
		{`table.concat(re.findall("\\d+", "a1b22c333"), ",")`, "1,22,333"},
		{`table.concat(re.findall("(\\w)=(\\d)", "a=1 b=2")[2], ",")`, "b,2"},
		{`re.sub("(\\w+)@(\\w+)", "\\2 at \\g<1>", "joe@host, ann@box")`, "host at joe, box at ann"},
		{`re.sub("a", "b", "aaa", 2)`, "bba"},
		{`re.sub("\\d", function(m) return "<" .. m:group() .. ">" end, "a1b2")`, "a<1>b<2>"},
		{`table.concat(re.split(",\\s*", "a, b,c"), "|")`, "a|b|c"},
		{`re.escape("a.b*c")`, `a\.b\*c`},
		{`re.search("ABC", "xabc", re.I):group()`, "abc"},
		{`re.search("b", "abc"):start() .. "-" .. re.search("b", "abc"):end_()`, ""},
		// time
		{`time.strftime("%Y-%m-%dT%H:%M:%S%z %Z %a %b %j %s", 86400 * 365)`, "1971-01-01T00:00:00+0000 UTC Fri Jan 001 31536000"},
		{`tostring(time.time() > 1.6e9)`, "true"},
		// urllib_parse
		{`urllib_parse.quote("a b/c?d=é")`, "a%20b/c%3Fd%3D%C3%A9"},
		{`urllib_parse.quote("a/b", "")`, "a%2Fb"},
		{`urllib_parse.unquote("a%20b%zz%C3%A9")`, "a b%zzé"},
		{`urllib_parse.urlencode({b = "x y", a = "1&"})`, "a=1%26&b=x+y"},
		{`urllib_parse.urlencode({b = {"1", "2"}, a = 1, c = json.null})`, "a=1&b=1&b=2&c=None"}, // mapping: sorted, doseq
		{`urllib_parse.urlencode({{"b", "1"}, {"a", "x y"}, {"b", 2}})`, "b=1&a=x+y&b=2"},        // pairs: in order
		{`urllib_parse.urlencode({{"a", "1"}, {"a", "2"}})`, "a=1&a=2"},                          // pairs: repeated key
		{`urllib_parse.urlencode({{"k", {"1", "2"}}})`, "k=1&k=2"},                               // pairs: a table value expands
		{`urllib_parse.urlencode({{"a", "1"}, {"b", "2", "3"}})`, "1=a&1=1&2=b&2=2&2=3"},         // not all pairs: mapping
		{`urllib_parse.urlencode({{"a", "1"}, x = "y"})`, "1=a&1=1&x=y"},                         // extra key: mapping
		{`urllib_parse.urlencode({{"a", "1", z = 1}})`, "1=a&1=1"},                               // pair with extra key: mapping
		{`urllib_parse.urlencode({[1] = {"a", "1"}, [3] = {"b", "2"}})`, "1=a&1=1&3=b&3=2"},      // hole: mapping
		{`urllib_parse.urlencode({"a", "b"})`, "1=a&2=b"},                                        // sequence of strings: mapping
		{`urllib_parse.urlencode({})`, ""},
		{`urllib_parse.urlparse("https://u:p@Example.com:8443/p/a;x?q=1#frag").hostname`, "example.com"},
		{`(function() local u = urllib_parse.urlparse("https://u:p@Example.com:8443/p/a;x?q=1#frag") return u.scheme .. "|" .. u.netloc .. "|" .. u.path .. "|" .. u.params .. "|" .. u.query .. "|" .. u.fragment .. "|" .. u.port end)()`, "https|u:p@Example.com:8443|/p/a|x|q=1|frag|8443"},
		{`(function() local q = urllib_parse.parse_qs("a=1&a=2&b=x+y&c=") return q.a[1] .. q.a[2] .. q.b[1] .. tostring(q.c) end)()`, "12x ynil"},
		// string safety wrappers keep Lua semantics
		{`string.rep("ab", 3, ",")`, "ab,ab,ab"},
		{`select(2, string.find("hello world", "o w"))`, "7"},
		{`string.match("key=val", "(%w+)=(%w+)")`, "key"},
		{`(string.gsub("hello world", "o", "0"))`, "hell0 w0rld"},
		{`(string.gsub("abc", "%w", "%0%0"))`, "aabbcc"},
		{`(string.gsub("$name is $age", "%$(%w+)", {name = "joe", age = 3}))`, "joe is 3"},
		{`(function() local t = {} for w in string.gmatch("one two", "%a+") do t[#t+1] = w end return table.concat(t, ",") end)()`, "one,two"},
		{`string.format("%5.2f|%d|%s", 3.14159, 42, "x")`, " 3.14|42|x"},
	} {
		code := "result.message = " + tc.expr
		if strings.Contains(tc.expr, "end_()") {
			code = `local m = re.search("b", "abc"); result.message = m:start() .. "-" .. m["end"](m)`
			tc.want = "1-2"
		}
		r := run(t, e, KindWebhook, code, nil)
		if r.Err != nil || r.Message != tc.want {
			t.Errorf("%s\n got %q (err %v)\nwant %q", tc.expr, r.Message, r.Err, tc.want)
		}
	}
}

func TestLogger(t *testing.T) {
	e := testEngine(t, Options{})
	r := run(t, e, KindWebhook, `_logger.info("a", 1); log.warning("w"); _logger.error("e"); _logger.debug("d")`, nil)
	if got := strings.Join(r.LogLines, "|"); got != "INFO: a 1|WARNING: w|ERROR: e|DEBUG: d" {
		t.Errorf("%q", got)
	}
	r = run(t, e, KindWebhook, `for i = 1, 2000 do log.info("x") end`, nil)
	if len(r.LogLines) != MaxLogLines+1 {
		t.Errorf("%d lines", len(r.LogLines))
	}
}

// FuzzJSONBridge: JSON text -> Lua -> JSON text keeps the meaning.
func FuzzJSONBridge(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `null`, `1`, `-0.5e10`, `"a\u0000\ud800x"`, `{"a":[1,{"b":null}],"c":"\u00e9"}`,
		`[1e400]`, `{"1":1,"2":2}`, `[[],[{}]]`, "\"\xff\"", `9007199254740993`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	e := NewEngine(Options{PoolSize: 1})
	defer e.Close()
	st := e.newState()
	defer st.L.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := st.decodeJSON(in)
		var want any
		stdErr := json.Unmarshal(in, &want)
		if err != nil {
			if stdErr == nil && !strings.Contains(err.Error(), "nesting") {
				t.Fatalf("decode %q: %v (std accepts)", in, err)
			}
			return
		}
		out, err := st.encodeJSON(v, "")
		if err != nil {
			if stdErr != nil || strings.Contains(err.Error(), "not JSON compliant") {
				return
			}
			t.Fatalf("encode %q: %v", in, err)
		}
		if stdErr != nil || len(in) == 0 {
			return
		}
		var got any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q -> invalid %q: %v", in, out, err)
		}
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(got)
		if string(a) != string(b) {
			t.Fatalf("%q -> %q: %s != %s", in, out, a, b)
		}
	})
}

// TestPyPercent checks the Python-style % formatter used by _logger.
func TestPyPercent(t *testing.T) {
	e := testEngine(t, Options{})
	st := e.newState()
	defer st.L.Close()
	S := func(s string) glua.LValue { return glua.LString(s) }
	N := func(f float64) glua.LValue { return glua.LNumber(f) }
	for _, tc := range []struct {
		format string
		args   []glua.LValue
		limit  int
		want   string
		ok     bool
	}{
		{"%s is %d", []glua.LValue{S("x"), N(5)}, 0, "x is 5", true},
		{"%s|%s|%s|%s|%s", []glua.LValue{glua.LNil, glua.LTrue, glua.LFalse, st.null, N(1.5)}, 0, "None|True|False|None|1.5", true},
		{"%r %r %r %r", []glua.LValue{S("it's"), S("a\nb"), glua.LNil, N(42)}, 0, `"it's" 'a\nb' None 42`, true},
		{"%r", []glua.LValue{S("a\"b'c\\\x01é")}, 0, `'a"b\'c\\\x01é'`, true},
		{"%d %i %d", []glua.LValue{N(3.7), N(-3.7), N(1e20)}, 0, "3 -3 100000000000000000000", true},
		{"%5.1f|%-6.2e|%g", []glua.LValue{N(3.14159), N(1234.5), N(1234567)}, 0, "  3.1|1.23e+03|1.23457e+06", true},
		{"%10.4f|%-+8.2f|%08.3f", []glua.LValue{N(3.14159), N(2.5), N(-1.5)}, 0, "    3.1416|+2.50   |-001.500", true},
		{"%E %G %F %f", []glua.LValue{N(12345.678), N(0.00001234), N(1.5), N(math.Inf(-1))}, 0, "1.234568E+04 1.234E-05 1.500000 -inf", true},
		{"%x %X %#o %#x %#X", []glua.LValue{N(255), N(255), N(8), N(255), N(255)}, 0, "ff FF 0o10 0xff 0XFF", true},
		{"%05d|%+d|% d|%-4d|%.3d", []glua.LValue{N(42), N(5), N(5), N(7), N(7)}, 0, "00042|+5| 5|7   |007", true},
		{"%5s|%-5s|%.2s|%05s", []glua.LValue{S("ab"), S("ab"), S("abc"), S("ab")}, 0, "   ab|ab   |ab|   ab", true},
		{"100%% done %s", []glua.LValue{S("ok")}, 0, "100% done ok", true},
		{"%ld", []glua.LValue{N(5)}, 0, "5", true},
		{"%s%s%d", []glua.LValue{S("aaaa"), S("bbbb"), N(1)}, 3, "aaaa", true}, // past limit: checked, not rendered
		// Python would raise: the caller falls back.
		{"%s %s", []glua.LValue{S("a")}, 0, "", false},
		{"%s", []glua.LValue{S("a"), S("b")}, 0, "", false},
		{"no directive", []glua.LValue{S("a")}, 0, "", false},
		{"100%%", []glua.LValue{S("a")}, 0, "", false},
		{"%d", []glua.LValue{S("5")}, 0, "", false},
		{"%f", []glua.LValue{glua.LTrue}, 0, "", false},
		{"%d", []glua.LValue{N(math.NaN())}, 0, "", false},
		{"%x", []glua.LValue{N(1.5)}, 0, "", false},
		{"%q", []glua.LValue{S("a")}, 0, "", false},
		{"%(k)s", []glua.LValue{S("a")}, 0, "", false},
		{"%*d", []glua.LValue{N(3), N(1)}, 0, "", false},
		{"abc %", []glua.LValue{S("a")}, 0, "", false},
		{"%5%", []glua.LValue{S("a")}, 0, "", false},
		{"%70000s", []glua.LValue{S("a")}, 0, "", false},
		{"%s%s%d", []glua.LValue{S("aaaa"), S("bbbb"), S("x")}, 3, "", false},
	} {
		limit := tc.limit
		if limit == 0 {
			limit = maxLogMsg
		}
		got, ok := pyPercent(st.L, st.null, tc.format, tc.args, limit)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: got %q, %v; want %q, %v", tc.format, got, ok, tc.want, tc.ok)
		}
	}
}

// TestLoggerFormat checks msg % args in _logger calls and the fallbacks.
func TestLoggerFormat(t *testing.T) {
	e := testEngine(t, Options{Secrets: []string{"s3cr3t"}})
	for _, tc := range []struct{ code, want string }{
		{`_logger.info("push to %s: %d commits", "main", 3)`, "INFO: push to main: 3 commits"},
		{`_logger.warning("%r is %s", "x", nil)`, "WARNING: 'x' is None"},
		{`_logger.info("ratio %.2f%%", 0.5 * 100)`, "INFO: ratio 50.00%"},
		{`_logger.info("100% done")`, "INFO: 100% done"},        // no args: as is
		{`_logger.info("100%% %s")`, "INFO: 100%% %s"},          // no args: as is
		{`_logger.info("%s and %s", "a")`, "INFO: %s and %s a"}, // too few: joined
		{`_logger.info("%s", "a", "b")`, "INFO: %s a b"},        // too many: joined
		{`_logger.info("%d", "x")`, "INFO: %d x"},               // not a number: joined
		{`_logger.info("a", 1)`, "INFO: a 1"},                   // no directive: joined
		{`_logger.info(5, "%s")`, "INFO: 5 %s"},                 // not a string: joined
		{`_logger.info("key %s", "s3cr3t")`, "INFO: key *****"}, // masked
		{`_logger.info("%s", string.rep("x", 70000))`, "INFO: " + strings.Repeat("x", 64<<10) + "...(truncated)"},
	} {
		r := run(t, e, KindWebhook, tc.code, nil)
		if r.Err != nil || len(r.LogLines) != 1 || r.LogLines[0] != tc.want {
			got := strings.Join(r.LogLines, "|")
			if len(got) > 200 {
				got = got[:200] + "..."
			}
			t.Errorf("%s: got %q (err %v)", tc.code, got, r.Err)
		}
	}
}
