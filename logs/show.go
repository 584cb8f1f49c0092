package logs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// WriteRecord writes one record for a person (`towerhook logs show ID`):
// one field a line, then the request headers, the payload (indented JSON)
// and the code's log lines. Times are in loc (nil: UTC), zone named.
func WriteRecord(w io.Writer, r *Record, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	var b strings.Builder
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%-16s %s\n", name+":", oneLine(value, 10000))
		}
	}
	field("ID", r.ID)
	field("Time", r.Time.In(loc).Format("2006-01-02 15:04:05.000 MST"))
	webhook := r.Webhook
	if r.WebhookName != "" {
		webhook += " (" + r.WebhookName + ")"
	}
	field("Webhook", webhook)
	field("Endpoint", strings.TrimSpace(strings.ToUpper(r.Method)+" "+r.Endpoint))
	auth := r.Authenticator
	if r.AuthenticationStatus != "" {
		auth = strings.TrimSpace(auth + " " + r.AuthenticationStatus)
	}
	field("Authenticator", auth)
	field("Code status", r.CodeStatus)
	field("HTTP status", fmt.Sprint(r.HTTPStatus))
	field("Duration", formatDuration(r.DurationSeconds))
	field("Result message", r.ResultMessage)
	field("Error message", r.ErrorMessage)
	field("IP address", r.IPAddress)
	field("Run as", r.RunAs)
	field("Request ID", r.RequestID)
	field("Config hash", r.ConfigHash)
	if len(r.RequestHeaders) > 0 {
		b.WriteString("Request headers:\n")
		keys := make([]string, 0, len(r.RequestHeaders))
		for k := range r.RequestHeaders {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s: %s\n", k, oneLine(r.RequestHeaders[k], 10000))
		}
	}
	if len(r.RequestPayload) > 0 && string(r.RequestPayload) != "null" {
		b.WriteString("Request payload:")
		if r.Truncated {
			b.WriteString(" (truncated)")
		}
		b.WriteString("\n")
		var pretty bytes.Buffer
		if json.Indent(&pretty, r.RequestPayload, "  ", "  ") == nil {
			b.WriteString("  " + pretty.String() + "\n")
		} else {
			b.WriteString("  " + oneLine(string(r.RequestPayload), 100000) + "\n")
		}
	}
	if len(r.LogLines) > 0 {
		b.WriteString("Log lines:\n")
		for _, l := range r.LogLines {
			fmt.Fprintf(&b, "  %s\n", oneLine(l, 10000))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
