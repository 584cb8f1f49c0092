package lua

import "testing"

// TestResultFieldRules checks how http_code, exit_code and message values
// of each type are read, for webhooks and authenticators alike.
func TestResultFieldRules(t *testing.T) {
	e := testEngine(t, Options{})
	type want struct {
		httpCode    int
		hasExit     bool
		exitCode    int
		message     string
		messageJSON bool
		hasMessage  bool
		err         string
	}
	for _, tc := range []struct {
		name string
		kind Kind
		code string
		want want
	}{
		// http_code: integers in 200..599 only.
		{"http 200", KindWebhook, `result.http_code = 200`, want{httpCode: 200, hasExit: true}},
		{"http 599", KindWebhook, `result.http_code = 599`, want{httpCode: 599, hasExit: true}},
		{"http 100 ignored", KindWebhook, `result.http_code = 100`, want{hasExit: true}},
		{"http 101 ignored", KindWebhook, `result.http_code = 101`, want{hasExit: true}},
		{"http 103 ignored", KindWebhook, `result.http_code = 103`, want{hasExit: true}},
		{"http 199 ignored", KindWebhook, `result.http_code = 199`, want{hasExit: true}},
		{"http 600 ignored", KindWebhook, `result.http_code = 600`, want{hasExit: true}},
		{"http 200.5 ignored", KindWebhook, `result.http_code = 200.5`, want{hasExit: true}},
		{"http nan ignored", KindWebhook, `result.http_code = 0/0`, want{hasExit: true}},
		{"http string ignored", KindWebhook, `result.http_code = "404"`, want{hasExit: true}},
		{"auth http 401", KindAuthenticator, `result.http_code = 401`, want{httpCode: 401}},
		{"auth http 102 ignored", KindAuthenticator, `result.http_code = 102`, want{}},
		{"auth http 401.5 ignored", KindAuthenticator, `result.http_code = 401.5`, want{}},
		// exit_code: integers below 2^31 in magnitude only.
		{"exit 0", KindWebhook, `result = {exit_code = 0}`, want{hasExit: true}},
		{"exit 0.0", KindWebhook, `result = {exit_code = 0.0}`, want{hasExit: true}},
		{"exit -1", KindWebhook, `result = {exit_code = -1}`, want{hasExit: true, exitCode: -1}},
		{"exit 0.5 missing", KindWebhook, `result = {exit_code = 0.5}`, want{}},
		{"exit -0.5 missing", KindWebhook, `result = {exit_code = -0.5}`, want{}},
		{"exit 1.5 missing", KindWebhook, `result = {exit_code = 1.5}`, want{}},
		{"exit 2^31-1", KindWebhook, `result = {exit_code = 2^31 - 1}`, want{hasExit: true, exitCode: 1<<31 - 1}},
		{"exit 2^31 missing", KindWebhook, `result = {exit_code = 2^31}`, want{}},
		{"exit inf missing", KindWebhook, `result = {exit_code = 1/0}`, want{}},
		{"exit nan missing", KindWebhook, `result = {exit_code = 0/0}`, want{}},
		{"exit string missing", KindWebhook, `result = {exit_code = "0"}`, want{}},
		// message: strings as text; tables, numbers, booleans and null as JSON.
		{"message string", KindWebhook, `result.message = "42"`, want{hasExit: true, message: "42", hasMessage: true}},
		{"message int", KindWebhook, `result.message = 42`, want{hasExit: true, message: "42", messageJSON: true, hasMessage: true}},
		{"message float", KindWebhook, `result.message = 1.5`, want{hasExit: true, message: "1.5", messageJSON: true, hasMessage: true}},
		{"message big", KindWebhook, `result.message = 2^53`, want{hasExit: true, message: "9007199254740992", messageJSON: true, hasMessage: true}},
		{"message true", KindWebhook, `result.message = true`, want{hasExit: true, message: "true", messageJSON: true, hasMessage: true}},
		{"message false is no message", KindWebhook, `result.message = false`, want{hasExit: true}},
		{"message null", KindWebhook, `result.message = json.null`, want{hasExit: true, message: "null", messageJSON: true, hasMessage: true}},
		{"message table", KindWebhook, `result.message = {a = 1}`, want{hasExit: true, message: `{"a":1}`, messageJSON: true, hasMessage: true}},
		{"message nan", KindWebhook, `result.message = 0/0`, want{hasExit: true, err: "result.message: out of range float values are not JSON compliant"}},
		{"message function", KindWebhook, `result.message = print or function() end`, want{hasExit: true, err: "result.message: cannot be a function"}},
		{"message userdata", KindWebhook, `result.message = hashlib.sha256()`, want{hasExit: true, err: "result.message: cannot be a userdata"}},
		{"message in table function", KindWebhook, `result.message = {f = function() end}`, want{hasExit: true, err: "result.message: object of type function is not JSON serializable"}},
		{"auth message int", KindAuthenticator, `result.message = 7`, want{message: "7", messageJSON: true, hasMessage: true}},
		{"auth message false is no message", KindAuthenticator, `result = {allowed = false, message = false}`, want{}},
		{"auth message string", KindAuthenticator, `result.message = "no"`, want{message: "no", hasMessage: true}},
		{"auth message function", KindAuthenticator, `result.message = function() end`, want{err: "result.message: cannot be a function"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, e, tc.kind, tc.code, nil)
			errText := ""
			if r.Err != nil {
				errText = r.Err.Error()
			}
			got := want{r.HTTPCode, r.HasExitCode, r.ExitCode, r.Message, r.MessageJSON, r.HasMessage, errText}
			if tc.want.err != "" {
				// On a message error only the error and the fields read before it count.
				got = want{httpCode: r.HTTPCode, hasExit: r.HasExitCode, exitCode: r.ExitCode, err: errText}
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestTableErrorObjects: error({...}) reads as JSON, not a table address.
func TestTableErrorObjects(t *testing.T) {
	e := testEngine(t, Options{})
	for _, tt := range []struct{ code, want string }{
		{`error({code = 42})`, `{"code":42}`},
		{`error({"a", "b"})`, `["a","b"]`},
		{`error("plain")`, "line 1: plain"},
	} {
		r := run(t, e, KindWebhook, tt.code, nil)
		if r.Err == nil || r.Err.Error() != tt.want {
			t.Errorf("%s: error %v, want %s", tt.code, r.Err, tt.want)
		}
	}
}
