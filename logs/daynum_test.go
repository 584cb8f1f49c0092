package logs

import (
	"testing"
	"time"
)

// TestKeyDayNum: keys share a day number exactly when they share a day
// bucket name, around midnight and before the epoch too.
func TestKeyDayNum(t *testing.T) {
	midnight := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	times := []time.Time{
		midnight.Add(-time.Nanosecond), midnight, midnight.Add(time.Nanosecond),
		midnight.Add(24*time.Hour - time.Nanosecond), midnight.Add(24 * time.Hour),
		time.Unix(0, -1), time.Unix(0, 0), time.Unix(-86400, 0), time.Unix(-86400, -1),
		time.Date(1969, 12, 30, 12, 0, 0, 0, time.UTC),
	}
	for _, a := range times {
		for _, b := range times {
			ka, kb := makeKey(a.UnixNano(), 1), makeKey(b.UnixNano(), 2)
			if same := ka.dayNum() == kb.dayNum(); same != (ka.day() == kb.day()) {
				t.Errorf("%v (%s, %d) and %v (%s, %d)", a, ka.day(), ka.dayNum(), b, kb.day(), kb.dayNum())
			}
		}
	}
}
