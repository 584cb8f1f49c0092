package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// asyncBlock is how long an asynchronous Append waits on a full queue
// before it drops the record.
const asyncBlock = 100 * time.Millisecond

// asyncLinger is how long the writer gathers records in asynchronous mode
// before committing them. Measured on the loopback benchmark: at ~5k req/s
// it turns ~850 commits/s of ~8 records into ~70 commits/s, and the daemon's
// async throughput went from 5.7k to 10.8k req/s (trivial Lua), because the
// fsyncs no longer take the CPU.
const asyncLinger = 10 * time.Millisecond

// syncLinger is how long a loaded writer (its last group held more than
// one record) gathers synchronous records before journaling them. When
// records are announced (Expect: requests being processed that will log),
// it sleeps that long and takes everything queued: on the durable loopback
// benchmark (32 clients, Lua authenticator and webhook) that gave +15% in
// paired runs, 0.7-1.3 ms all alike, as fewer, larger groups leave the CPU
// to the requests (an fdatasync costs ~0.1 ms of CPU here). With
// nothing announced it waits at most that long for as many records as the
// last group had, so callers that come straight back complete a group at
// once (32 appenders: ~36k records/s). A lone caller never waits.
const syncLinger = time.Millisecond

// pruneCheckInterval is how often the pruner checks whether a day boundary
// passed (the check itself is a string comparison).
const pruneCheckInterval = time.Hour

// boltOptions are the bbolt settings, chosen with BenchmarkBoltOptions and
// BenchmarkPrune (bench_test.go) on the shared 2-core machine (medians of
// -count 5, ~1 KB records): async appends 75k rec/s with these options vs
// 62k with 4 KiB pages and 53k with bbolt's defaults; durable commits are
// fsync-bound (two fdatasyncs per commit) and within noise for all three
// (~10-12k rec/s as bbolt commits; durable appends now go through the
// journal, journal.go, at ~30k rec/s); durable write latency right after pruning 1M records is
// 0.7 ms with these options vs 3.7 ms with the defaults (1.1 ms before the
// prune for both); the prune itself 83 ms vs 102 ms.
//
//   - FreelistType map: after a prune frees hundreds of thousands of pages,
//     the array freelist makes every allocation a linear scan and the
//     commit that follows a prune gets slow; the hashmap freelist keeps
//     allocation O(1) so write latency after a prune is unchanged.
//   - NoFreelistSync: the freelist is not written on every commit (it is
//     rebuilt by scanning at open). Writes after a prune of 1M records would
//     otherwise rewrite a freelist of ~300k page ids per commit.
//   - InitialMmapSize 256 MiB: address space only (the file still grows on
//     demand); read transactions (queries) never block the writer's remap
//     until the store outgrows it.
//   - NoGrowSync false (the default): bbolt grows the file in 16 MiB steps,
//     so the extra fsync is rare and the size change is always durable.
//   - PageSize 16 KiB (for new files): ~1 KB records fill 4 KiB pages with
//     three records each; 16 KiB pages need a quarter of the page writes
//     and branch entries (bulk commits ~1.6x faster, BenchmarkBoltOptions),
//     and a prune frees a quarter of the pages.
//   - FillPercent 1.0, set per bucket in each write transaction: keys are
//     time-ordered, so day buckets are append-only and half-empty split pages
//     would only double the file size.
func boltOptions(timeout time.Duration, readOnly bool) *bolt.Options {
	return &bolt.Options{
		Timeout:         timeout,
		ReadOnly:        readOnly,
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  true,
		InitialMmapSize: 256 << 20,
		PageSize:        16 << 10,
	}
}

// Store is the call log. Its methods are safe for concurrent use.
type Store struct {
	db      *bolt.DB
	path    string
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics

	seq atomic.Uint64
	// expected counts records announced by Expect and not yet withdrawn.
	expected atomic.Int64
	// failing is set while the last group could not be committed (a full
	// disk), cleared by the next group that could.
	failing atomic.Bool

	mu     sync.RWMutex // guards closed and sends on queue
	closed bool
	queue  chan *op

	stop     chan struct{}
	wg       sync.WaitGroup
	closeErr error
	once     sync.Once

	pruneMu    sync.Mutex
	haveOldest atomic.Bool
	// overBudget wakes the pruner when a commit found the data in use over
	// MaxSizeBytes (buffered 1); sizeStuckDay is the day (days since the
	// epoch) on which only that day's records were left over it.
	overBudget   chan struct{}
	sizeStuckDay atomic.Int64

	// j is the durable-append journal (sync mode), or, read-only, the
	// records a crashed writer left in it; nil otherwise.
	j *journal
	// cpReq hands sealed journal records from the writer to the
	// checkpointer, which answers on cpDone (sync mode; both buffered 1).
	cpReq  chan []pendingRec
	cpDone chan error
	// running is set once the writer goroutine started.
	running atomic.Bool
	// ops recycles queue entries (each with its answer channel).
	ops sync.Pool
	// overlay holds journaled delivery state not yet in bbolt (meta.go).
	overlay overlay
}

// op is one queued record.
type op struct {
	k   key
	val []byte
	// meta, when set, is a meta frame (delivery state, meta.go) written
	// with key mk in the same group as the record (val may then be nil).
	meta  []byte
	mk    key
	flush bool       // no record: commit the journal to bbolt, then answer
	wait  bool       // sync append: the writer answers on done
	done  chan error // buffered (1)
}

// Open opens or creates path (e.g. <data>/towerhook.db), prunes expired days
// and starts the writer and the daily pruner. With opts.ReadOnly it opens
// the file for queries only, starting nothing. When another process holds
// the file, Open fails after opts.OpenTimeout with an error wrapping
// ErrLocked. A damaged file (checked before bbolt maps it, check.go) is a
// *DamageError wrapping ErrDamaged, unless opts.Recover moves it aside.
func Open(path string, opts Options) (*Store, error) {
	return open(path, opts, nil)
}

func open(path string, opts Options, bo *bolt.Options) (*Store, error) {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.MaxPayloadBytes <= 0 {
		opts.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	opts.MaxPayloadBytes = min(opts.MaxPayloadBytes, maxPayloadJSON)
	if opts.OpenTimeout <= 0 {
		opts.OpenTimeout = DefaultOpenTimeout
	}
	if opts.RetentionDays < 0 {
		opts.RetentionDays = 0
	}
	s := &Store{
		ops:  sync.Pool{New: func() any { return &op{done: make(chan error, 1)} }},
		path: path,
		opts: opts,
		log:  opts.Logger,
		now:  opts.Now,
		stop: make(chan struct{}),

		overBudget: make(chan struct{}, 1),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if bo == nil {
		bo = boltOptions(opts.OpenTimeout, opts.ReadOnly)
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("call log: %w", err)
		}
	}
	// bbolt trusts its file: check it first (check.go).
	if err := s.checkBeforeOpen(); err != nil {
		return nil, err
	}
	db, err := openBolt(path, bo)
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, lockedError(path)
	}
	var damage *DamageError
	if err != nil && !errors.As(err, &damage) {
		err = fmt.Errorf("call log %s: %w", path, err)
	}
	if err != nil {
		return nil, err
	}
	s.db = db
	if !opts.ReadOnly {
		s.queue = make(chan *op, opts.QueueSize)
	}
	q := s.queue
	s.metrics = newMetrics(func() float64 { return float64(len(q)) })
	if err := s.metrics.register(opts.Registerer); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("call log metrics: %w", err)
	}
	if err := s.openJournal(path); err != nil {
		s.metrics.unregister(opts.Registerer)
		_ = db.Close()
		return nil, err
	}
	// Sequence: unique per key time even across restarts and clock steps:
	// start above both the wall clock and the newest stored key.
	last, _ := s.lastKey()
	s.seq.Store(max(uint64(time.Now().UnixNano()), last.seq()))
	if err := db.View(func(tx *bolt.Tx) error { s.updateGauges(tx); return nil }); err != nil {
		s.log.Warn("call log: reading stats", "err", err)
	}
	s.metrics.maxSize.Set(float64(max(opts.MaxSizeBytes, 0)))
	s.measureUsed()
	if opts.ReadOnly {
		s.closed = true
		return s, nil
	}
	if _, err := s.Prune(); err != nil {
		s.metrics.unregister(opts.Registerer)
		_ = db.Close()
		return nil, fmt.Errorf("call log %s: prune: %w", path, err)
	}
	if _, err := s.PruneDelivery(); err != nil {
		s.log.Warn("call log: pruning jobs and delivery ids", "err", err)
	}
	s.wg.Add(2)
	s.running.Store(true)
	if s.j != nil {
		s.cpReq, s.cpDone = make(chan []pendingRec, 1), make(chan error, 1)
		s.wg.Add(1)
		go s.checkpointer()
	}
	go s.writer()
	go s.pruner()
	return s, nil
}

// lastKey returns the newest key in the store (zero when empty).
func (s *Store) lastKey() (key, error) {
	var k key
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Cursor()
		for name, _ := c.Last(); name != nil; name, _ = c.Prev() {
			b := tx.Bucket(name)
			if b == nil || !isDayBucket(name) {
				continue
			}
			if kk, _ := b.Cursor().Last(); len(kk) == keyLen {
				copy(k[:], kk)
				return nil
			}
		}
		return nil
	})
	return k, err
}

// Expect announces n call-log records on their way (a negative n withdraws
// them): requests being processed that will Append. Under load the durable
// writer then waits a moment for them, so that they share an fdatasync with
// the records already queued (see syncLinger). Callers withdraw each
// announcement before its Append, or when they will not Append.
func (s *Store) Expect(n int) { s.expected.Add(int64(n)) }

// Failing reports whether the last group of records could not be committed
// (a full or failing disk). The next group that commits clears it.
func (s *Store) Failing() bool { return s.failing.Load() }

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Append stores rec. ID and Time are filled when empty (Time from
// Options.Now; ID is a sortable 32-hex-digit key that embeds Time); a
// non-empty ID must be one this package issued. Known credential headers
// are redacted, and the payload and every other field are capped (README
// "Call log and retention", Limits; Truncated is then set in the stored
// record); rec itself is only changed in ID and Time. In sync mode Append returns once rec is committed (or the
// commit's error); otherwise once queued, or ErrDropped when the queue
// stayed full for 100 ms. After Close it returns ErrClosed.
func (s *Store) Append(ctx context.Context, rec *Record) error {
	return s.appendOp(ctx, rec, nil, s.opts.Sync)
}

// appendOp queues rec (may be nil when meta is set) and the meta frame
// meta as one op; with wait it returns once both are committed.
func (s *Store) appendOp(ctx context.Context, rec *Record, meta []byte, wait bool) error {
	if s.opts.ReadOnly {
		return ErrReadOnly
	}
	o := s.ops.Get().(*op)
	o.meta, o.val = nil, nil
	if meta != nil {
		o.meta, o.mk = meta, makeMetaKey(s.seq.Add(1))
	}
	if rec != nil {
		if err := s.encodeRecord(rec, o); err != nil {
			s.ops.Put(o)
			return err
		}
	}
	o.wait = wait
	done := o.done
	if err := s.enqueue(ctx, o); err != nil {
		o.val, o.meta = nil, nil
		s.ops.Put(o)
		return err
	}
	if !wait {
		return nil
	}
	select {
	case err := <-done:
		o.val, o.meta = nil, nil
		s.ops.Put(o)
		return err
	case <-ctx.Done():
		// The writer still owns o (done is buffered): do not pool it.
		// The record may still be committed.
		return ctx.Err()
	}
}

// encodeRecord fills rec's ID and Time and sets o's key and value.
func (s *Store) encodeRecord(rec *Record, o *op) error {
	if rec.Time.IsZero() {
		rec.Time = s.now()
	}
	var k key
	if rec.ID == "" {
		k = makeKey(rec.Time.UnixNano(), s.seq.Add(1))
		rec.ID = k.id()
	} else {
		var err error
		if k, err = parseID(rec.ID); err != nil {
			return err
		}
	}
	stored := *rec
	stored.RequestHeaders = redactCredentialMap(rec.RequestHeaders)
	p, trunc := capPayload(rec.RequestPayload, s.opts.MaxPayloadBytes)
	stored.RequestPayload, stored.Truncated = p, rec.Truncated || trunc
	if limitRecord(&stored) {
		stored.Truncated = true
	}
	val, err := encodeValue(&stored)
	if err != nil {
		return fmt.Errorf("call log: encoding record: %w", err)
	}
	if len(val) > MaxRecordBytes { // limitRecord makes this impossible
		return fmt.Errorf("call log: record of %d bytes over the %d-byte limit", len(val), MaxRecordBytes)
	}
	o.k, o.val = k, val
	return nil
}

func (s *Store) enqueue(ctx context.Context, o *op) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	select {
	case s.queue <- o:
		return nil
	default:
	}
	if s.opts.Sync {
		select {
		case s.queue <- o:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t := time.NewTimer(asyncBlock)
	defer t.Stop()
	select {
	case s.queue <- o:
		return nil
	case <-t.C:
		s.metrics.dropped.Inc()
		return ErrDropped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writer is the single writer goroutine: each round takes everything
// queued (group commit), so batches grow with load and a lone record is
// written at once. In sync mode a round is one journal write and fdatasync
// (see journal.go) and bbolt gets the journaled records at checkpoints; in
// async mode a round is one bbolt transaction.
func (s *Store) writer() {
	defer s.wg.Done()
	batch := make([]*op, 0, 64)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	cp := time.NewTimer(time.Hour)
	cp.Stop()
	lastBatch := 0
	cpBusy := false       // the checkpointer holds sealed records
	var cpRetry time.Time // after a failed checkpoint, not before this
	for {
		var o *op
		var ok bool
		var cpTick <-chan time.Time
		var cpDone <-chan error
		if cpBusy {
			cpDone = s.cpDone
		} else if s.j != nil && s.j.hasPending() {
			cp.Reset(checkpointEvery)
			cpTick = cp.C
		}
		select {
		case o, ok = <-s.queue:
		case <-cpTick:
			cpBusy = s.startCheckpoint()
			continue
		case err := <-cpDone:
			cpBusy = false
			if err != nil { // logged by the checkpointer
				cpRetry = time.Now().Add(checkpointEvery)
			}
			continue
		}
		cp.Stop()
		if !ok {
			if cpBusy {
				<-s.cpDone
			}
			if s.cpReq != nil {
				close(s.cpReq)
			}
			_ = s.checkpoint() // logged; the journal keeps what failed
			return
		}
		batch = s.drain(append(batch[:0], o))
		if s.opts.Sync && lastBatch > 1 {
			// Under load, gather more records first (see syncLinger).
			if s.expected.Load() > 0 {
				linger.Reset(syncLinger)
				<-linger.C
				batch = s.drain(batch)
			} else {
				batch = s.collect(batch, lastBatch, syncLinger, linger)
			}
		}
		if !s.opts.Sync {
			// Nobody waits on an asynchronous commit: gather for a while so a
			// busy daemon pays one commit (two fsyncs) per many records, not
			// per few. Close still drains everything (the queue is closed).
			batch = s.collect(batch, cap(s.queue)/2, asyncLinger, linger)
		}
		// Flush requests (Prune) carry no record: they wait for a checkpoint.
		var flushes []*op
		records := batch[:0]
		for _, o := range batch {
			if o.flush {
				flushes = append(flushes, o)
			} else {
				records = append(records, o)
			}
		}
		clear(batch[len(records):])
		if len(records) > 0 {
			s.writeRound(records)
			lastBatch = len(records)
		}
		if len(flushes) > 0 {
			if cpBusy {
				<-s.cpDone
				cpBusy = false
			}
			err := s.checkpoint()
			for _, o := range flushes {
				o.done <- err
			}
		} else if now := time.Now(); !cpBusy && s.j != nil && now.After(cpRetry) && s.j.due(now) {
			cpBusy = s.startCheckpoint()
		}
	}
}

// startCheckpoint seals the journal's records and hands them to the
// checkpointer; it reports whether it did.
func (s *Store) startCheckpoint() bool {
	recs := s.j.seal()
	if len(recs) == 0 {
		return false
	}
	s.cpReq <- recs
	return true
}

// checkpointer commits sealed journal records to bbolt, one request at a
// time, while the writer goes on journaling.
func (s *Store) checkpointer() {
	defer s.wg.Done()
	for recs := range s.cpReq {
		s.cpDone <- s.commitSealed(recs)
	}
}

// writeRound makes one group of records durable (journal or bbolt) and
// answers their callers.
func (s *Store) writeRound(batch []*op) {
	var err error
	if s.j != nil {
		start := time.Now()
		if err = s.j.append(batch); err != nil {
			// The journal failed (a full disk?): commit to bbolt directly
			// (commitRecs times that commit), so every caller learns its
			// own record's fate.
			s.log.Error("call log: journal write failed; committing directly", "records", len(batch), "err", err)
			err = s.commit(opRecs(batch))
		} else {
			s.metrics.commit.Observe(time.Since(start).Seconds())
			s.noteJournaled(batch)
		}
	} else {
		err = s.commit(opRecs(batch))
	}
	if err != nil {
		s.log.Error("call log: commit failed", "records", len(batch), "err", err)
		s.metrics.dropped.Add(float64(len(batch)))
	}
	s.failing.Store(err != nil)
	for i, o := range batch {
		if o.wait {
			o.done <- err
		} else {
			o.val, o.meta = nil, nil
			s.ops.Put(o)
		}
		batch[i] = nil
	}
}

// flush commits journaled records to bbolt now (through the writer).
func (s *Store) flush() error {
	if s.j == nil || s.opts.ReadOnly {
		return nil
	}
	o := &op{flush: true, wait: true, done: make(chan error, 1)}
	if err := s.enqueue(context.Background(), o); err != nil {
		return err
	}
	return <-o.done
}

// drain adds every op queued now to batch.
func (s *Store) drain(batch []*op) []*op {
	for {
		select {
		case o, ok := <-s.queue:
			if !ok {
				return batch
			}
			batch = append(batch, o)
		default:
			return batch
		}
	}
}

// collect adds queued ops to batch until it holds n, or wait has passed
// since the call, or the queue is closed.
func (s *Store) collect(batch []*op, n int, wait time.Duration, t *time.Timer) []*op {
	t.Reset(wait)
	defer t.Stop()
	for len(batch) < n {
		select {
		case o, ok := <-s.queue:
			if !ok {
				return batch
			}
			batch = append(batch, o)
		case <-t.C:
			return batch
		}
	}
	return batch
}

// opRecs turns queued ops into records (and meta frames) to commit.
func opRecs(batch []*op) []pendingRec {
	recs := make([]pendingRec, 0, len(batch))
	for _, o := range batch {
		if o.meta != nil {
			recs = append(recs, pendingRec{k: o.mk, val: o.meta})
		}
		if o.val != nil {
			recs = append(recs, pendingRec{k: o.k, val: o.val})
		}
	}
	return recs
}

// noteJournaled counts a journaled group and shows its meta frames to
// readers until they are checkpointed.
func (s *Store) noteJournaled(batch []*op) {
	n := 0
	for _, o := range batch {
		if o.meta != nil {
			s.overlay.journaled(o.mk, o.meta)
		}
		if o.val != nil {
			n++
			if !s.haveOldest.Load() {
				s.metrics.oldest.Set(float64(o.k.nanos()) / 1e9)
			}
		}
	}
	s.metrics.written.Add(float64(n))
}

// checkpoint commits every journaled record to bbolt now, in the writer
// goroutine while no checkpointer request is out (flushes and Close). On
// failure the records stay journaled and pending, and a later checkpoint
// tries again.
func (s *Store) checkpoint() error {
	if s.j == nil {
		return nil
	}
	for range 2 { // sealed records left by a failed checkpoint, then pending
		recs := s.j.seal()
		if len(recs) == 0 {
			return nil
		}
		if err := s.commitSealed(recs); err != nil {
			return err
		}
	}
	return nil
}

// commitSealed commits the journal's sealed records to bbolt and drops
// them from the journal.
func (s *Store) commitSealed(recs []pendingRec) error {
	if err := s.commitRecs(recs, false); err != nil {
		s.log.Error("call log: checkpoint failed; records stay in the journal", "records", len(recs), "err", err)
		return err
	}
	s.j.committed()
	s.overlay.committed(recs)
	return nil
}

// commit stores records in bbolt and counts them as written.
func (s *Store) commit(recs []pendingRec) error { return s.commitRecs(recs, true) }

func (s *Store) commitRecs(recs []pendingRec, count bool) error {
	// Sorting keeps inserts append-only within a bucket even when callers
	// raced between taking the time and queueing.
	sorted := make([]pendingRec, len(recs))
	copy(sorted, recs)
	slices.SortFunc(sorted, func(a, b pendingRec) int { return bytes.Compare(a.k[:], b.k[:]) })
	start := time.Now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		var b *bolt.Bucket
		var cur int64 // the day of b; its name is formatted once per bucket
		for _, r := range sorted {
			if isMetaKey(r.k) { // sorted after every record, in write order
				if err := applyMeta(tx, r.val); err != nil {
					return err
				}
				continue
			}
			if day := r.k.dayNum(); b == nil || day != cur {
				var err error
				if b, err = tx.CreateBucketIfNotExists([]byte(r.k.day())); err != nil {
					return err
				}
				b.FillPercent = 1.0
				cur = day
			}
			if err := b.Put(r.k[:], r.val); err != nil {
				return err
			}
		}
		s.metrics.size.Set(float64(tx.Size()))
		return nil
	})
	if count {
		s.metrics.commit.Observe(time.Since(start).Seconds())
	} else {
		s.metrics.cp.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		return fmt.Errorf("call log commit: %w", err)
	}
	if count {
		n := 0
		for _, r := range recs {
			if !isMetaKey(r.k) {
				n++
			}
		}
		s.metrics.written.Add(float64(n))
	}
	s.checkBudget(s.measureUsed())
	if !s.haveOldest.Load() {
		_ = s.db.View(func(tx *bolt.Tx) error { s.updateGauges(tx); return nil })
	}
	return nil
}

// updateGauges sets the size and oldest-record gauges from tx.
func (s *Store) updateGauges(tx *bolt.Tx) {
	s.metrics.size.Set(float64(tx.Size()))
	c := tx.Cursor()
	for name, _ := c.First(); name != nil; name, _ = c.Next() {
		b := tx.Bucket(name)
		if b == nil || !isDayBucket(name) {
			continue
		}
		if k, _ := b.Cursor().First(); len(k) == keyLen {
			s.metrics.oldest.Set(float64(key(k).nanos()) / 1e9)
			s.haveOldest.Store(true)
			return
		}
	}
	s.metrics.oldest.Set(0)
	s.haveOldest.Store(false)
}

// pruner checks hourly whether a day boundary passed and prunes then.
func (s *Store) pruner() {
	defer s.wg.Done()
	t := time.NewTicker(pruneCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.overBudget:
			if _, err := s.pruneSize(); err != nil {
				s.log.Error("call log: pruning to --log-max-size failed", "err", err)
			}
		case <-t.C:
			if n, err := s.Prune(); err != nil {
				s.log.Error("call log: prune failed", "err", err)
			} else if n > 0 {
				s.log.Info("call log: pruned expired days", "days", n)
			}
			if n, err := s.PruneDelivery(); err != nil {
				s.log.Error("call log: pruning jobs and delivery ids failed", "err", err)
			} else if n > 0 {
				s.log.Info("call log: pruned ended jobs and expired delivery ids", "entries", n)
			}
		}
	}
}

// cutoff is the oldest day bucket that retention keeps ("" keeps all).
func (s *Store) cutoff() string {
	if s.opts.RetentionDays <= 0 {
		return ""
	}
	return dayName(s.now().UTC().AddDate(0, 0, -s.opts.RetentionDays))
}

// Prune deletes whole day buckets older than RetentionDays (bucket date <
// today - RetentionDays, UTC), then, with MaxSizeBytes, the oldest days
// while the data in use is over it (never today's; prune_size.go), and
// returns how many days it deleted. When nothing expired (checked by
// reading the oldest bucket name) it takes no write transaction, so the
// hourly check is cheap; otherwise it deletes the expired buckets in one
// short write transaction of its own. Open calls it.
func (s *Store) Prune() (int, error) {
	n, err := s.pruneAge()
	if err != nil {
		return n, err
	}
	m, err := s.pruneSize()
	return n + m, err
}

// pruneAge deletes the day buckets older than RetentionDays.
func (s *Store) pruneAge() (int, error) {
	cut := s.cutoff()
	if cut == "" || s.opts.ReadOnly {
		return 0, nil
	}
	if err := s.flushBeforePrune(); err != nil {
		return 0, err
	}
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	first, err := s.oldestDay()
	if err != nil || first == nil || string(first) >= cut {
		return 0, err
	}
	n := 0
	err = s.db.Update(func(tx *bolt.Tx) error {
		var names [][]byte
		c := tx.Cursor()
		for name, _ := c.First(); name != nil && string(name) < cut; name, _ = c.Next() {
			names = append(names, bytes.Clone(name))
		}
		for _, name := range names {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		n = len(names)
		if n > 0 {
			s.updateGauges(tx)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.metrics.pruned.WithLabelValues(pruneAge).Add(float64(n))
	s.measureUsed()
	return n, nil
}

// Close stops accepting records (Append then returns ErrClosed), drains the
// queue, commits it and closes the file. It is idempotent.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		wasClosed := s.closed
		s.closed = true
		if s.queue != nil && !wasClosed {
			close(s.queue)
		}
		s.mu.Unlock()
		close(s.stop)
		s.wg.Wait()
		s.metrics.unregister(s.opts.Registerer)
		s.closeErr = errors.Join(s.j.close(), s.db.Close())
	})
	return s.closeErr
}

// openJournal replays what a previous writer left in the journal into bbolt
// (or, read-only, keeps it in memory for queries) and, in sync mode, keeps
// the journal open for appends. Damaged frames it had to skip are logged
// and counted.
func (s *Store) openJournal(path string) error {
	j, recs, damage, err := openJournal(path, s.opts.ReadOnly)
	if err != nil || j == nil {
		return err
	}
	damaged := s.reportJournalDamage(path, damage)
	if s.opts.ReadOnly {
		j.close()
		j.pending = recs
		s.j = j
		return nil
	}
	if len(recs) > 0 || damaged {
		if err := s.commitRecs(recs, false); err != nil {
			j.close()
			return fmt.Errorf("call log %s: replaying %d journaled records: %w", path, len(recs), err)
		}
		s.log.Info("call log: replayed journaled records", "records", len(recs))
		// Start the files over so they are not replayed again (if this
		// fails they are replayed again next time, which is harmless).
		if err := j.reset(); err != nil {
			s.log.Warn("call log: resetting the journal", "err", err)
		}
	}
	if !s.opts.Sync {
		return j.close()
	}
	s.j = j
	return nil
}

// reportJournalDamage logs and counts what reading the journal segments
// had to skip; it reports whether there was any.
func (s *Store) reportJournalDamage(path string, damage [2]segmentDamage) bool {
	any := false
	for i, d := range damage {
		if !d.damaged() {
			continue
		}
		any = true
		s.metrics.journalDamaged.Add(float64(d.Frames))
		s.log.Error("call log journal: damaged frames skipped; the records after them were recovered",
			"file", segmentPaths(path)[i], "damaged_frames", d.Frames, "skipped_bytes", d.Bytes,
			"records_recovered", d.Recovered)
	}
	return any
}
