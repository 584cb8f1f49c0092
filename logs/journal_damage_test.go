package logs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// journalRecs are n records of one webhook, a second apart.
func journalRecs(n int) []*Record {
	recs := make([]*Record, n)
	for i := range recs {
		recs[i] = rec(fmt.Sprint("j", i), 200)
		recs[i].Time = t0.Add(time.Duration(i-100) * time.Second)
	}
	return recs
}

// frameOffsets returns where each frame of b starts.
func frameOffsets(b []byte) []int {
	var offs []int
	for off := 0; len(b)-off >= frameHeaderLen; {
		offs = append(offs, off)
		off += frameHeaderLen + int(binary.BigEndian.Uint32(b[off:]))
	}
	return offs
}

// A crashed writer's journal, damaged on disk, replayed by the real store:
// a torn tail is silent; damage with valid frames after it is skipped, the
// frames after it are kept, an error is logged and the metric counts it.
func TestJournalDamageOnDisk(t *testing.T) {
	const n = 40
	tests := []struct {
		name   string
		damage func(b []byte, offs []int) []byte
		lost   []int // indexes of records lost
		frames int   // damaged frames reported (0: silent)
	}{
		{"intact", func(b []byte, _ []int) []byte { return b }, nil, 0},
		{"one flipped byte in a value", func(b []byte, offs []int) []byte {
			b[offs[10]+frameHeaderLen+20] ^= 0x01
			return b
		}, []int{10}, 1},
		{"one flipped byte in a length", func(b []byte, offs []int) []byte {
			b[offs[10]+2] ^= 0x40
			return b
		}, []int{10}, 1},
		{"a zeroed block over several frames", func(b []byte, offs []int) []byte {
			clear(b[offs[5]+7 : offs[9]+3])
			return b
		}, []int{5, 6, 7, 8, 9}, 1},
		{"two damaged stretches", func(b []byte, offs []int) []byte {
			b[offs[3]+frameHeaderLen] ^= 0xff
			b[offs[30]+5] ^= 0xff
			return b
		}, []int{3, 30}, 2},
		{"the first frame damaged", func(b []byte, offs []int) []byte {
			b[offs[0]+frameHeaderLen+1] ^= 0x01
			return b
		}, []int{0}, 1},
		{"torn tail: the last frame cut short", func(b []byte, offs []int) []byte {
			return b[:len(b)-30]
		}, []int{n - 1}, 0},
		{"torn tail: the last frame bad, an older generation after it", func(b []byte, offs []int) []byte {
			b[len(b)-5] ^= 0x01
			old := (&journal{gen: 7}).encode([]*op{{k: makeKey(1, 1), val: []byte(`{"stale":1}`)}})
			return append(append(b, 0, 0, 0), old...)
		}, []int{n - 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			recs := journalRecs(n)
			b := writeJournal(t, path, recs...)
			b = tt.damage(b, frameOffsets(b))
			if err := os.WriteFile(segmentPaths(path)[0], b, 0o600); err != nil {
				t.Fatal(err)
			}
			var logBuf bytes.Buffer
			reg := prometheus.NewRegistry()
			s := openTest(t, path, Options{Sync: true, Registerer: reg,
				Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
			lost := map[int]bool{}
			for _, i := range tt.lost {
				lost[i] = true
			}
			for i, r := range recs {
				_, err := s.Get(r.ID)
				if lost[i] != (err != nil) {
					t.Errorf("record %d: Get = %v, lost want %v", i, err, lost[i])
				}
			}
			if got := metricValue(s.metrics.journalDamaged); got != float64(tt.frames) {
				t.Errorf("damaged frames metric = %v, want %d", got, tt.frames)
			}
			logged := strings.Contains(logBuf.String(), "level=ERROR msg=\"call log journal: damaged frames skipped")
			if logged != (tt.frames > 0) {
				t.Errorf("error logged = %v, want %v:\n%s", logged, tt.frames > 0, logBuf.String())
			}
			if tt.frames > 0 {
				want := fmt.Sprintf("damaged_frames=%d", tt.frames)
				if !strings.Contains(logBuf.String(), want) || !strings.Contains(logBuf.String(), "records_recovered=") {
					t.Errorf("log lacks %s and records_recovered:\n%s", want, logBuf.String())
				}
			}
			// Replayed once: the journal starts over.
			if st, err := os.Stat(segmentPaths(path)[0]); err != nil || st.Size() != 0 {
				t.Errorf("journal not reset after the replay")
			}
		})
	}
}

// The case: one flipped byte early in a long segment lost every
// record after it. Now only the damaged one is lost.
func TestJournalFlippedByteKeepsTheRest(t *testing.T) {
	recs := journalRecs(2000)
	var ops []*op
	for i, r := range recs {
		k := makeKey(r.Time.UnixNano(), uint64(i+1))
		v, _ := encodeValue(r)
		ops = append(ops, &op{k: k, val: v})
	}
	b := bytes.Clone((&journal{gen: 9}).encode(ops))
	offs := frameOffsets(b)
	b[offs[281]+frameHeaderLen+100] ^= 0x04
	got, d := scanFrames(b)
	if len(got) != 1999 || d.Frames != 1 || d.Recovered != 2000-282 || d.Bytes != offs[282]-offs[281] {
		t.Fatalf("%d records, damage %+v", len(got), d)
	}
}

// A complete frame over the limit with a valid CRC (as an older version
// wrote them) is reported as damage, never skipped silently, and the frames
// after it are kept.
func TestJournalFrameOverTheLimit(t *testing.T) {
	j := &journal{gen: 42}
	small := func(seq uint64) []byte {
		return bytes.Clone(j.encode([]*op{{k: makeKey(1, seq), val: []byte(`{"a":1}`)}}))
	}
	// Built in place: a value of zeros over the limit.
	head, tail := small(1), small(3)
	n := maxFrameBytes + 1
	b := make([]byte, len(head)+frameHeaderLen+n+len(tail))
	copy(b, head)
	hdr := b[len(head) : len(head)+frameHeaderLen]
	binary.BigEndian.PutUint32(hdr[0:4], uint32(n))
	binary.BigEndian.PutUint64(hdr[8:16], j.gen)
	k := makeKey(1, 2)
	copy(hdr[16:], k[:])
	c := crc32.Update(0, crcTable, hdr[8:])
	binary.BigEndian.PutUint32(hdr[4:8], crc32.Update(c, crcTable, b[len(head)+frameHeaderLen:len(head)+frameHeaderLen+n]))
	copy(b[len(head)+frameHeaderLen+n:], tail)
	big := frameHeaderLen + n
	recs, d := scanFrames(b)
	if len(recs) != 2 || d.Frames != 1 || d.Bytes != big || d.Recovered != 1 {
		t.Fatalf("%d records, damage %+v", len(recs), d)
	}
}

// Any bytes read as a journal segment: no panic, and what is returned is
// made of whole frames with valid CRCs.
func FuzzScanFrames(f *testing.F) {
	j := &journal{gen: 5}
	good := bytes.Clone(j.encode([]*op{{k: makeKey(1, 1), val: []byte("one")}, {k: makeKey(2, 2), val: []byte("two")}}))
	f.Add(good)
	f.Add(append(bytes.Clone(good[:10]), good...))
	f.Add([]byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, d := scanFrames(b)
		if d.Bytes < 0 || d.Bytes > len(b) || d.Recovered > len(recs) {
			t.Fatalf("damage %+v for %d bytes, %d records", d, len(b), len(recs))
		}
		for _, r := range recs {
			if len(r.val) == 0 || len(r.val) > maxFrameBytes {
				t.Fatalf("a record of %d bytes", len(r.val))
			}
		}
	})
}
