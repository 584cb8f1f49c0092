package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// FetchRemote asks a running daemon's admin API (adminURL such as
// "http://127.0.0.1:8081" or "127.0.0.1:8081") for one page of records.
// A transport error (no daemon answering) is returned as is, so the CLI can
// fall back to opening the store read-only.
func FetchRemote(ctx context.Context, client *http.Client, adminURL string, f Filter) (*Page, error) {
	if client == nil {
		client = http.DefaultClient
	}
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("webhook", f.Webhook)
	set("authenticator", f.Authenticator)
	set("status", f.Status)
	set("cursor", f.Cursor)
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	u := adminBase(adminURL) + "/api/v1/logs"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var p Page
	if err := adminDo(ctx, client, http.MethodGet, u, &p); err != nil {
		return nil, err
	}
	if p.Records == nil {
		p.Records = []*Record{}
	}
	return &p, nil
}

// adminDo sends one admin API request and decodes its JSON answer into
// out. A transport error is returned as is; an error answer as its status
// and message.
func adminDo(ctx context.Context, client *http.Client, method, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var m message
		if json.Unmarshal(body, &m) == nil && m.Message != "" {
			return fmt.Errorf("%s: %s: %s", u, resp.Status, m.Message)
		}
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: decoding answer: %w", u, err)
	}
	return nil
}

// maxMessage bounds the MESSAGE column of WriteTable.
const maxMessage = 80

// WriteTable writes recs as an aligned human table with the columns TIME
// (UTC), WEBHOOK, STATUS (success/failed from the HTTP status), CODE (HTTP
// status), DURATION and MESSAGE (the result message the caller got when
// there is one, else the error message, on one line and shortened).
func WriteTable(w io.Writer, recs []*Record) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tWEBHOOK\tSTATUS\tCODE\tDURATION\tMESSAGE")
	for _, r := range recs {
		status := "success"
		if r.HTTPStatus >= 400 {
			status = "failed"
		}
		msg := r.ResultMessage
		if msg == "" {
			msg = r.ErrorMessage
		}
		webhook := r.Webhook
		if webhook == "" {
			webhook = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n",
			r.Time.UTC().Format("2006-01-02 15:04:05"), oneLine(webhook, 40), status, r.HTTPStatus,
			formatDuration(r.DurationSeconds), oneLine(msg, maxMessage))
	}
	return tw.Flush()
}

func formatDuration(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// oneLine replaces control characters (tabs and newlines would break the
// table) and shortens s to n runes.
func oneLine(s string, n int) string {
	r := []rune(strings.Map(func(c rune) rune {
		if c < ' ' || c == 0x7f {
			return ' '
		}
		return c
	}, s))
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}

// WriteJSONLines writes one JSON object per record per line (the --json
// output of towerhook logs).
func WriteJSONLines(w io.Writer, recs []*Record) error { return writeJSONLines(w, recs) }

// writeJSONLines writes one JSON object per item per line.
func writeJSONLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}
