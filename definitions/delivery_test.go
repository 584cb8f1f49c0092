package definitions

import (
	"reflect"
	"testing"
	"time"
)

// deliveryHook is a file with one webhook, to which tests add keys.
const deliveryHook = `cetmix_tower_yaml_version: 1
records:
- cetmix_tower_model: webhook_authenticator
  reference: open
  name: Open
  code: result = {allowed = true}
- cetmix_tower_model: webhook
  reference: hook
  name: Hook
  authenticator_id: open
  endpoint: e
  code: result = {exit_code = 0}
`

// TestDeliveryKeys: the delivery keys of README "Delivery" load into
// Webhook.Delivery, with their defaults when absent.
func TestDeliveryKeys(t *testing.T) {
	hook := func(keys string) string { return deliveryHook + keys }
	tests := []struct {
		name      string
		keys      string
		retention int
		want      Delivery
	}{
		{"defaults", "", 30, Delivery{DedupWindow: 24 * time.Hour, Queue: QueueAll, RetryDelay: 30 * time.Second}},
		{"deploy recipe", `  dedup: header:X-GitHub-Delivery
  concurrency: 1
  background: true
  queue: latest
  retries: 3
  retry_delay: 1m
`, 30, Delivery{Dedup: Dedup{Source: DedupHeader, Name: "X-GitHub-Delivery"}, DedupWindow: 24 * time.Hour,
			Concurrency: 1, Background: true, Queue: QueueLatest, Retries: 3, RetryDelay: time.Minute}},
		{"payload path, window in seconds", "  dedup: payload:data.object.id\n  dedup_window: 3600\n", 1,
			Delivery{Dedup: Dedup{Source: DedupPayload, Name: "data.object.id", Path: []string{"data", "object", "id"}},
				DedupWindow: time.Hour, Queue: QueueAll, RetryDelay: 30 * time.Second}},
		{"query, long window kept forever", "  dedup: Query:id\n  dedup_window: 9000h\n", 0,
			Delivery{Dedup: Dedup{Source: DedupQuery, Name: "id"}, DedupWindow: 9000 * time.Hour, Queue: QueueAll, RetryDelay: 30 * time.Second}},
		{"nulls are defaults", "  dedup:\n  concurrency:\n  queue:\n", 30, Delivery{DedupWindow: 24 * time.Hour, Queue: QueueAll, RetryDelay: 30 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"defs.yaml": hook(tt.keys)})
			s, err := LoadDir(dir, Options{Environ: noEnv, RetentionDays: tt.retention})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Webhooks()[0].Delivery; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("delivery = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDeliveryChangesHash: a changed delivery setting is a changed set.
func TestDeliveryChangesHash(t *testing.T) {
	base := deliveryHook
	hashOf := func(extra string) string {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"defs.yaml": base + extra})
		s, err := LoadDir(dir, Options{Environ: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		return s.Hash()
	}
	if hashOf("") == hashOf("  concurrency: 1\n") {
		t.Error("concurrency does not change the hash")
	}
}
