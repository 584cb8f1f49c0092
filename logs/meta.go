package logs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Delivery state (background jobs and dedup claims, README "Delivery")
// lives in the call log's own file and journal: one store, one writer, so
// a job and the record of the call that queued it commit in the same
// group (one journal write and fdatasync).
//
// Such state travels as meta frames. A meta frame is an ordinary journal
// frame whose key starts with metaMark (0xFF, a time no record key can
// have: record keys start with a positive int64 of nanoseconds), followed
// by 7 zero bytes and the writer sequence; its value is a list of bucket
// operations:
//
//	byte bucket | uvarint len(key) | key | byte op (0 put, 1 delete) | uvarint len(val) | val
//
// A journal written before meta frames existed has none and replays as
// before; meta frames sort after every record in a checkpoint and are
// applied in sequence order. Meta buckets are top-level bbolt buckets whose
// names start with "~", after every day bucket ("YYYY-MM-DD"): day pruning
// never touches them and record scans skip them (isDayBucket).
//
// Until a checkpoint puts journaled meta frames into bbolt, the overlay
// holds their newest values, so reads see every acknowledged write.
const metaMark = 0xFF

// Meta buckets, by the byte that names them in a meta frame.
const (
	metaJobs    byte = 1 // job id key -> job JSON
	metaJobReqs byte = 2 // job id key -> request JSON
	metaPending byte = 3 // webhook 0x00 job id key -> empty (queued or retrying)
	metaClaims  byte = 4 // webhook 0x00 dedup id -> claim JSON
)

var metaBucketNames = map[byte][]byte{
	metaJobs:    []byte("~jobs"),
	metaJobReqs: []byte("~jobreqs"),
	metaPending: []byte("~pending"),
	metaClaims:  []byte("~claims"),
}

var errBadMeta = errors.New("corrupt meta frame")

// metaOp is one bucket operation.
type metaOp struct {
	bucket byte
	key    []byte
	val    []byte
	del    bool
}

// isMetaKey reports whether k is a meta frame's key.
func isMetaKey(k key) bool { return k[0] == metaMark }

// makeMetaKey is the key of a meta frame written with sequence seq.
func makeMetaKey(seq uint64) key {
	var k key
	k[0] = metaMark
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

// isDayBucket reports whether a top-level bucket holds records.
func isDayBucket(name []byte) bool { return len(name) == 10 && name[4] == '-' && name[0] != '~' }

// encodeMeta encodes ops as a meta frame value.
func encodeMeta(ops []metaOp) []byte {
	n := 0
	for _, o := range ops {
		n += 2 + 2*binary.MaxVarintLen64 + len(o.key) + len(o.val)
	}
	b := make([]byte, 0, n)
	for _, o := range ops {
		b = append(b, o.bucket)
		b = binary.AppendUvarint(b, uint64(len(o.key)))
		b = append(b, o.key...)
		if o.del {
			b = append(b, 1)
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = append(b, 0)
		b = binary.AppendUvarint(b, uint64(len(o.val)))
		b = append(b, o.val...)
	}
	return b
}

// decodeMeta decodes a meta frame value; slices alias v.
func decodeMeta(v []byte) ([]metaOp, error) {
	var ops []metaOp
	for len(v) > 0 {
		var o metaOp
		o.bucket = v[0]
		if metaBucketNames[o.bucket] == nil {
			return nil, errBadMeta
		}
		if o.key, v = readBytes(v[1:]); v == nil || len(v) < 1 {
			return nil, errBadMeta
		}
		o.del = v[0] == 1
		if o.val, v = readBytes(v[1:]); v == nil {
			return nil, errBadMeta
		}
		ops = append(ops, o)
	}
	return ops, nil
}

// applyMeta performs a meta frame's operations in tx.
func applyMeta(tx *bolt.Tx, v []byte) error {
	ops, err := decodeMeta(v)
	if err != nil {
		return err
	}
	for _, o := range ops {
		b, err := tx.CreateBucketIfNotExists(metaBucketNames[o.bucket])
		if err != nil {
			return err
		}
		if o.del {
			err = b.Delete(o.key)
		} else {
			err = b.Put(o.key, o.val)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// overlay holds journaled meta values not yet checkpointed into bbolt.
type overlay struct {
	mu sync.RWMutex
	m  map[string]overlayEntry // bucket byte + key
}

type overlayEntry struct {
	frame key // the meta frame that wrote it
	val   []byte
	del   bool
}

func overlayKey(bucket byte, k []byte) string {
	return string(append([]byte{bucket}, k...))
}

// journaled records the operations of a meta frame now in the journal.
func (ov *overlay) journaled(frame key, meta []byte) {
	ops, err := decodeMeta(meta)
	if err != nil {
		return
	}
	ov.mu.Lock()
	defer ov.mu.Unlock()
	if ov.m == nil {
		ov.m = map[string]overlayEntry{}
	}
	for _, o := range ops {
		if o.bucket == metaClaims {
			continue // read back only at start-up (Claims), after replay
		}
		ov.m[overlayKey(o.bucket, o.key)] = overlayEntry{frame: frame, val: o.val, del: o.del}
	}
}

// committed drops what checkpointed frames wrote, unless a newer frame
// wrote the same key since.
func (ov *overlay) committed(recs []pendingRec) {
	ov.mu.Lock()
	defer ov.mu.Unlock()
	for _, r := range recs {
		if !isMetaKey(r.k) {
			continue
		}
		ops, _ := decodeMeta(r.val)
		for _, o := range ops {
			if o.bucket == metaClaims {
				continue
			}
			k := overlayKey(o.bucket, o.key)
			if e, ok := ov.m[k]; ok && e.frame == r.k {
				delete(ov.m, k)
			}
		}
	}
}

// get returns an overlay value: found says the overlay knows the key (a
// deleted key is found with a nil value).
func (ov *overlay) get(bucket byte, k []byte) (val []byte, found bool) {
	ov.mu.RLock()
	defer ov.mu.RUnlock()
	e, ok := ov.m[overlayKey(bucket, k)]
	if !ok {
		return nil, false
	}
	if e.del {
		return nil, true
	}
	return e.val, true
}

// kv is one key and value of a meta bucket.
type kv struct {
	k, v []byte
	del  bool
}

// scan returns the overlay's entries of bucket whose keys start with
// prefix, sorted by key.
func (ov *overlay) scan(bucket byte, prefix []byte) []kv {
	ov.mu.RLock()
	var out []kv
	for k, e := range ov.m {
		if k[0] == bucket && bytes.HasPrefix([]byte(k[1:]), prefix) {
			out = append(out, kv{k: []byte(k[1:]), v: e.val, del: e.del})
		}
	}
	ov.mu.RUnlock()
	slices.SortFunc(out, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	return out
}

// metaGet reads one key of a meta bucket (overlay first).
func (s *Store) metaGet(bucket byte, k []byte) ([]byte, error) {
	if v, found := s.overlay.get(bucket, k); found {
		if v == nil {
			return nil, ErrNotFound
		}
		return v, nil
	}
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(metaBucketNames[bucket])
		if b == nil {
			return ErrNotFound
		}
		v := b.Get(k)
		if v == nil {
			return ErrNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}

// metaScan calls fn for the keys of bucket starting with prefix, merged
// from bbolt and the overlay, ascending (or descending with desc), starting
// after (before, with desc) from when from is set. fn returns false to stop.
// Values passed to fn are only valid during the call.
func (s *Store) metaScan(bucket byte, prefix, from []byte, desc bool, fn func(k, v []byte) bool) error {
	ov := s.overlay.scan(bucket, prefix)
	if desc {
		slices.Reverse(ov)
	}
	after := func(k []byte) bool { // k is past from in scan order
		if from == nil {
			return true
		}
		if desc {
			return bytes.Compare(k, from) < 0
		}
		return bytes.Compare(k, from) > 0
	}
	before := func(a, b []byte) bool { // a comes first in scan order
		if desc {
			return bytes.Compare(a, b) > 0
		}
		return bytes.Compare(a, b) < 0
	}
	shadowed := make(map[string]bool, len(ov))
	for _, e := range ov {
		shadowed[string(e.k)] = true
	}
	i := 0
	// emitOverlay sends overlay entries that come before k (all when k is nil).
	emitOverlay := func(k []byte) bool {
		for ; i < len(ov) && (k == nil || before(ov[i].k, k)); i++ {
			if ov[i].del || !after(ov[i].k) {
				continue
			}
			if !fn(ov[i].k, ov[i].v) {
				return false
			}
		}
		return true
	}
	stopped := false
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(metaBucketNames[bucket])
		if b == nil {
			return nil
		}
		c := b.Cursor()
		var k, v []byte
		switch {
		case !desc && from != nil:
			k, v = c.Seek(from)
			if k != nil && bytes.Equal(k, from) {
				k, v = c.Next()
			}
		case !desc:
			k, v = c.Seek(prefix)
		case from != nil:
			k, v = c.Seek(from)
			if k == nil {
				k, v = c.Last()
			}
			for k != nil && bytes.Compare(k, from) >= 0 {
				k, v = c.Prev()
			}
		default:
			k, v = seekLastPrefix(c, prefix)
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = step(c, desc) {
			if !emitOverlay(k) {
				stopped = true
				return nil
			}
			if shadowed[string(k)] {
				continue
			}
			if !fn(k, v) {
				stopped = true
				return nil
			}
		}
		return nil
	})
	if err != nil || stopped {
		return err
	}
	emitOverlay(nil)
	return nil
}

func step(c *bolt.Cursor, desc bool) ([]byte, []byte) {
	if desc {
		return c.Prev()
	}
	return c.Next()
}

// seekLastPrefix positions c on the last key starting with prefix.
func seekLastPrefix(c *bolt.Cursor, prefix []byte) ([]byte, []byte) {
	if len(prefix) == 0 {
		return c.Last()
	}
	end := append(bytes.Clone(prefix), 0xFF, 0xFF, 0xFF, 0xFF)
	k, _ := c.Seek(end)
	if k == nil {
		return c.Last()
	}
	return c.Prev()
}
