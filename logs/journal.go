package logs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"
	"sync"
	"time"
)

// The journal makes durable appends cost one fsync instead of bbolt's two.
//
// In sync mode the writer appends each group of records to <db>-wal and
// fdatasyncs it, answers the callers (their records are now durable), and
// keeps the records in memory (pending) where Query and Get see them. Every
// checkpointEvery, or sooner when pending grows large, it commits pending to
// bbolt as one ordinary, fully synced transaction and starts a new journal
// generation. bbolt's own crash safety is untouched (every bbolt commit still
// syncs data before meta); the journal only holds records bbolt does not have
// yet. After a crash, Open replays the journal into bbolt; putting a record
// that is already there is harmless (same key, same value).
//
// Frames are written from offset 0 of the file for every generation (the
// file is overwritten in place, so its blocks exist and an fdatasync only
// flushes data):
//
//	len uint32 | crc32c uint32 | gen uint64 | key [16]byte | value [len]byte
//
// with the CRC over gen, key and value. Replay reads frames from offset 0
// while they are whole, their CRC holds and their generation equals the first
// frame's: older generations' leftovers past the end never count.
const (
	journalSuffix   = "-wal"
	frameHeaderLen  = 4 + 4 + 8 + keyLen
	checkpointEvery = 200 * time.Millisecond
	checkpointMax   = 2048     // records
	checkpointBytes = 16 << 20 // journal bytes
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// pendingRec is a journaled record not yet committed to bbolt.
type pendingRec struct {
	k   key
	val []byte
}

// journal is the write-ahead file. Only the writer goroutine writes it;
// pending is shared with readers under mu.
type journal struct {
	f     *os.File
	gen   uint64
	off   int64
	buf   []byte
	since time.Time // when the oldest pending record was journaled

	mu      sync.RWMutex
	pending []pendingRec // in journal order
}

// openJournal opens (creating) the journal next to the store and returns the
// records it holds from its current generation.
func openJournal(path string, readOnly bool) (*journal, []pendingRec, error) {
	flag := os.O_RDWR | os.O_CREATE
	if readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if readOnly && errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("call log journal: %w", err)
	}
	recs, err := readFrames(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("call log journal %s: %w", path, err)
	}
	j := &journal{f: f, gen: uint64(time.Now().UnixNano())}
	return j, recs, nil
}

// readFrames returns the valid frames of the generation at offset 0.
func readFrames(r io.ReaderAt) ([]pendingRec, error) {
	var recs []pendingRec
	var gen uint64
	var off int64
	hdr := make([]byte, frameHeaderLen)
	for {
		if _, err := r.ReadAt(hdr, off); err != nil {
			if errors.Is(err, io.EOF) {
				return recs, nil
			}
			return nil, err
		}
		n := binary.BigEndian.Uint32(hdr[0:4])
		sum := binary.BigEndian.Uint32(hdr[4:8])
		g := binary.BigEndian.Uint64(hdr[8:16])
		if n == 0 || n > 64<<20 || (len(recs) > 0 && g != gen) {
			return recs, nil
		}
		val := make([]byte, n)
		if _, err := r.ReadAt(val, off+frameHeaderLen); err != nil {
			if errors.Is(err, io.EOF) {
				return recs, nil // torn tail
			}
			return nil, err
		}
		c := crc32.Update(0, crcTable, hdr[8:])
		if crc32.Update(c, crcTable, val) != sum {
			return recs, nil
		}
		gen = g
		var k key
		copy(k[:], hdr[16:])
		recs = append(recs, pendingRec{k: k, val: val})
		off += frameHeaderLen + int64(n)
	}
}

// append journals ops durably (one write, one fdatasync) and adds them to
// pending.
func (j *journal) append(ops []*op) error {
	if _, err := j.f.WriteAt(j.encode(ops), j.off); err != nil {
		return err
	}
	if err := fdatasync(j.f); err != nil {
		return err
	}
	j.off += int64(len(j.buf))
	if len(j.buf) > 256<<10 {
		j.buf = nil // do not keep a burst's buffer
	}
	j.mu.Lock()
	if len(j.pending) == 0 {
		j.since = time.Now()
	}
	for _, o := range ops {
		j.pending = append(j.pending, pendingRec{k: o.k, val: o.val})
	}
	j.mu.Unlock()
	return nil
}

// encode frames ops of the current generation into j.buf.
func (j *journal) encode(ops []*op) []byte {
	j.buf = j.buf[:0]
	for _, o := range ops {
		var hdr [frameHeaderLen]byte
		binary.BigEndian.PutUint32(hdr[0:4], uint32(len(o.val)))
		binary.BigEndian.PutUint64(hdr[8:16], j.gen)
		copy(hdr[16:], o.k[:])
		c := crc32.Update(0, crcTable, hdr[8:])
		binary.BigEndian.PutUint32(hdr[4:8], crc32.Update(c, crcTable, o.val))
		j.buf = append(j.buf, hdr[:]...)
		j.buf = append(j.buf, o.val...)
	}
	return j.buf
}

// due reports whether pending should be committed to bbolt now.
func (j *journal) due(now time.Time) bool {
	j.mu.RLock()
	defer j.mu.RUnlock()
	return len(j.pending) > 0 && (len(j.pending) >= checkpointMax || j.off >= checkpointBytes || now.Sub(j.since) >= checkpointEvery)
}

// hasPending reports whether records wait for a checkpoint.
func (j *journal) hasPending() bool {
	j.mu.RLock()
	defer j.mu.RUnlock()
	return len(j.pending) > 0
}

// snapshot returns the pending records (shared, read-only).
func (j *journal) snapshot() []pendingRec {
	if j == nil {
		return nil
	}
	j.mu.RLock()
	defer j.mu.RUnlock()
	return j.pending[:len(j.pending):len(j.pending)]
}

// checkpointed drops the first n pending records (now in bbolt) and starts
// a new generation at offset 0 once nothing is pending.
func (j *journal) checkpointed(n int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	rest := make([]pendingRec, len(j.pending)-n)
	copy(rest, j.pending[n:])
	j.pending = rest
	if len(rest) == 0 {
		j.gen++
		j.off = 0
	} else {
		j.since = time.Now()
	}
}

// lookup returns a pending record's value.
func (j *journal) lookup(k key) []byte {
	if j == nil {
		return nil
	}
	for _, p := range j.snapshot() {
		if p.k == k {
			return p.val
		}
	}
	return nil
}

// newestFirst returns the pending records below upper (when set) and at or
// above lower, newest first.
func newestFirst(recs []pendingRec, upper key, haveUpper bool, lower key) []pendingRec {
	out := make([]pendingRec, 0, len(recs))
	for _, p := range recs {
		if haveUpper && string(p.k[:]) >= string(upper[:]) {
			continue
		}
		if string(p.k[:]) < string(lower[:]) {
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(a, b int) bool { return string(out[a].k[:]) > string(out[b].k[:]) })
	return out
}

func (j *journal) close() error {
	if j == nil || j.f == nil {
		return nil
	}
	return j.f.Close()
}
