package logs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
)

// Checking the store file before bbolt maps it (README "Call log and
// retention", A damaged store).
//
// bbolt trusts its file: a file cut short makes it read past the end of
// its memory map (SIGBUS), a zeroed or overwritten page fails an assertion
// in a goroutine of its own (a panic no caller can recover), and both kill
// the daemon at start-up, again at every restart. So Open first reads the
// file with plain reads, the way bbolt would use it, and refuses a damaged
// one with a DamageError:
//
//   - the meta pages (bbolt keeps two: magic, version and an FNV-64a
//     checksum each) and the one bbolt would use, the newest valid one;
//   - the file's size against the page size and that meta's high-water
//     mark (the pages bbolt may touch);
//   - the tree: every page reachable from the root bucket, through nested
//     and inline buckets, lies below the high-water mark, names its own id,
//     is a branch or leaf page, is reached once, and holds its elements,
//     keys and values inside itself, with keys in order (what bbolt's own
//     consistency check, tx.Check, checks of the tree);
//   - the freelist page, when the file has one, and its page ids.
//
// The layout read here is bbolt's file format (version 2), in the byte
// order of the machine that wrote it.

// bbolt's on-disk constants.
const (
	boltMagic          = 0xED0CDAED
	boltVersion        = 2
	boltPageHeaderLen  = 16 // id u64, flags u16, count u16, overflow u32
	boltElementLen     = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	boltMetaLen        = 64 // magic, version, pageSize, flags u32; root, sequence, freelist, pgid, txid, checksum u64
	boltBucketLen      = 16 // a bucket value: root u64, sequence u64, then an inline page when root is 0
	boltBranchPage     = 0x01
	boltLeafPage       = 0x02
	boltFreelistPage   = 0x10
	boltBucketLeafFlag = 0x01
	boltNoFreelist     = ^uint64(0)
	boltMaxDepth       = 64
)

var ne = binary.NativeEndian

// ErrDamaged is wrapped by Open's error (a *DamageError) when the store
// file is damaged.
var ErrDamaged = errors.New("call log file is damaged")

// DamageError is a damaged store file: Path and what is wrong with it.
type DamageError struct {
	Path    string
	Problem string
}

// Error is one line naming the file, the damage and the way out.
func (e *DamageError) Error() string {
	return fmt.Sprintf("call log %s is damaged (%s); to move it aside and start a new log, run towerhook serve once with --log-recover (README \"Call log and retention\")", e.Path, e.Problem)
}

// Unwrap makes errors.Is(err, ErrDamaged) hold.
func (e *DamageError) Unwrap() error { return ErrDamaged }

// FileReport is what checking a store file found.
type FileReport struct {
	// Problem is the damage found ("" when the file is sound).
	Problem string
	// Notes are harmless findings (one meta page invalid: bbolt uses the
	// other).
	Notes    []string
	Size     int64 // bytes
	PageSize int
	Pages    uint64 // the high-water mark
	Used     int64  // bytes in reachable pages
	Buckets  int    // day buckets (and any nested ones)
	Records  int
}

// boltMeta is one decoded meta page.
type boltMeta struct {
	pageSize           uint32
	root, freelist, hw uint64
	txid               uint64
	err                string // why it is invalid ("" when valid)
}

// readMeta decodes the meta at b[0:boltMetaLen] (a page's body).
func readMeta(b []byte) boltMeta {
	m := boltMeta{
		pageSize: ne.Uint32(b[8:]), root: ne.Uint64(b[16:]),
		freelist: ne.Uint64(b[32:]), hw: ne.Uint64(b[40:]), txid: ne.Uint64(b[48:]),
	}
	h := fnv.New64a()
	h.Write(b[:56])
	switch {
	case ne.Uint32(b[0:]) != boltMagic:
		m.err = "no bbolt magic number"
	case ne.Uint32(b[4:]) != boltVersion:
		m.err = fmt.Sprintf("bbolt format version %d, want %d", ne.Uint32(b[4:]), boltVersion)
	case ne.Uint64(b[56:]) != h.Sum64():
		m.err = "checksum mismatch"
	}
	return m
}

// metaAt reads the meta page at byte offset off ("" error text when it
// cannot be read: the file is too short).
func metaAt(f io.ReaderAt, off int64) (boltMeta, error) {
	buf := make([]byte, boltPageHeaderLen+boltMetaLen)
	if _, err := f.ReadAt(buf, off); err != nil {
		return boltMeta{err: "cut off"}, err
	}
	return readMeta(buf[boltPageHeaderLen:]), nil
}

// findPageSize returns the page size as bbolt finds it: from the first
// meta page, else from the second one, looked for at 1 KiB .. 16 MiB.
func findPageSize(f io.ReaderAt, size int64) (int, bool) {
	if m, err := metaAt(f, 0); err == nil && m.err == "" {
		return int(m.pageSize), true
	}
	for i := 0; i <= 14; i++ {
		pos := int64(1024) << i
		if pos >= size-1024 {
			break
		}
		if m, err := metaAt(f, pos); err == nil && m.err == "" {
			return int(m.pageSize), true
		}
	}
	return 0, false
}

// checkFile checks the bbolt file f of size bytes (which must not be 0).
// It returns the report; an error only when f cannot be read.
func checkFile(f io.ReaderAt, size int64) (*FileReport, error) {
	r := &FileReport{Size: size}
	ps, ok := findPageSize(f, size)
	if !ok {
		r.Problem = "neither meta page is valid: not a bbolt file, or its first pages are overwritten"
		return r, nil
	}
	r.PageSize = ps
	switch {
	case ps < 1024 || ps > 16<<20 || ps&(ps-1) != 0:
		r.Problem = fmt.Sprintf("page size %d is not a power of two between 1 KiB and 16 MiB", ps)
		return r, nil
	case size < 2*int64(ps):
		r.Problem = fmt.Sprintf("%d bytes is shorter than the two meta pages (%d bytes each)", size, ps)
		return r, nil
	case size%int64(ps) != 0:
		r.Problem = fmt.Sprintf("%d bytes is not a whole number of %d-byte pages: the file was cut short or extended", size, ps)
		return r, nil
	}
	m, problem, notes := chooseMeta(f, int64(ps))
	r.Notes = notes
	if problem != "" {
		r.Problem = problem
		return r, nil
	}
	r.Pages = m.hw
	if problem := checkBounds(m, size, int64(ps)); problem != "" {
		r.Problem = problem
		return r, nil
	}
	c := &treeChecker{f: f, ps: ps, hw: m.hw, seen: make([]uint64, (m.hw+63)/64)}
	err := c.tree(m.root, nil, nil, 0)
	if err == nil && m.freelist != boltNoFreelist {
		err = c.freelist(m.freelist)
	}
	var pe *pageError
	if errors.As(err, &pe) {
		r.Problem = pe.msg
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	r.Used = int64(c.pages+2) * int64(ps)
	r.Buckets, r.Records = c.buckets, c.records
	return r, nil
}

// chooseMeta decodes both meta pages and returns the one bbolt would use
// (the valid one with the higher transaction id), a problem when neither
// is valid, and a note when one is not.
func chooseMeta(f io.ReaderAt, ps int64) (m boltMeta, problem string, notes []string) {
	var metas [2]boltMeta
	for i := range metas {
		metas[i], _ = metaAt(f, int64(i)*ps)
		if metas[i].err == "" && int64(metas[i].pageSize) != ps {
			metas[i].err = fmt.Sprintf("page size %d differs from %d", metas[i].pageSize, ps)
		}
	}
	a, b := 0, 1
	if metas[1].txid > metas[0].txid {
		a, b = 1, 0
	}
	switch {
	case metas[a].err == "" && metas[b].err == "":
		return metas[a], "", nil
	case metas[a].err == "":
		return metas[a], "", []string{fmt.Sprintf("meta page %d is invalid (%s); bbolt uses meta page %d", b, metas[b].err, a)}
	case metas[b].err == "":
		return metas[b], "", []string{fmt.Sprintf("meta page %d is invalid (%s); bbolt uses meta page %d, one transaction older", a, metas[a].err, b)}
	}
	return m, fmt.Sprintf("both meta pages are invalid (%s; %s)", metas[0].err, metas[1].err), nil
}

// checkBounds checks the meta's page ids against the file's size.
func checkBounds(m boltMeta, size, ps int64) string {
	switch {
	case m.hw < 2 || m.hw > uint64(size/ps):
		return fmt.Sprintf("the file was cut short: %d bytes, but its last transaction uses %d pages of %d bytes", size, m.hw, ps)
	case m.root < 2 || m.root >= m.hw:
		return fmt.Sprintf("the root page %d is outside the file's pages 2..%d", m.root, m.hw-1)
	case m.freelist != boltNoFreelist && (m.freelist < 2 || m.freelist >= m.hw):
		return fmt.Sprintf("the freelist page %d is outside the file's pages 2..%d", m.freelist, m.hw-1)
	}
	return ""
}

// pageError is damage found in the page tree.
type pageError struct{ msg string }

func (e *pageError) Error() string { return e.msg }

func damagef(format string, a ...any) error { return &pageError{fmt.Sprintf(format, a...)} }

// treeChecker walks bbolt's page tree with plain reads.
type treeChecker struct {
	f                       io.ReaderAt
	ps                      int
	hw                      uint64
	seen                    []uint64 // bit per page id below hw
	pages, buckets, records int
	// bufs holds a page buffer per tree depth: a page's keys stay in use
	// while its children are read.
	bufs [][]byte
}

// buffer returns the page buffer of depth, of n bytes.
func (c *treeChecker) buffer(depth, n int) []byte {
	for len(c.bufs) <= depth {
		c.bufs = append(c.bufs, nil)
	}
	if cap(c.bufs[depth]) < n {
		c.bufs[depth] = make([]byte, n)
	}
	return c.bufs[depth][:n]
}

// page reads page id with its overflow pages into the buffer of depth,
// checks its header and marks its pages seen.
func (c *treeChecker) page(id uint64, depth int) ([]byte, error) {
	if id < 2 || id >= c.hw {
		return nil, damagef("a reference to page %d, outside the file's pages 2..%d", id, c.hw-1)
	}
	p := c.buffer(depth, c.ps)
	if _, err := c.f.ReadAt(p, int64(id)*int64(c.ps)); err != nil {
		return nil, err
	}
	if got := ne.Uint64(p); got != id {
		return nil, damagef("page %d names itself page %d (overwritten or zeroed)", id, got)
	}
	overflow := uint64(ne.Uint32(p[12:]))
	if overflow >= c.hw-id {
		return nil, damagef("page %d runs %d pages past the file's last page %d", id, overflow, c.hw-1)
	}
	for i := id; i <= id+overflow; i++ {
		if c.seen[i/64]&(1<<(i%64)) != 0 {
			return nil, damagef("page %d is used twice", i)
		}
		c.seen[i/64] |= 1 << (i % 64)
	}
	c.pages += int(overflow) + 1
	if overflow > 0 {
		p = c.buffer(depth, (int(overflow)+1)*c.ps)
		if _, err := c.f.ReadAt(p, int64(id)*int64(c.ps)); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// tree checks the subtree at page id, whose keys must lie in [min, max)
// (nil: unbounded).
func (c *treeChecker) tree(id uint64, min, max []byte, depth int) error {
	if depth > boltMaxDepth {
		return damagef("the tree is deeper than %d levels at page %d", boltMaxDepth, id)
	}
	p, err := c.page(id, depth)
	if err != nil {
		return err
	}
	switch flags := ne.Uint16(p[8:]); flags {
	case boltBranchPage:
		return c.branch(p, id, min, max, depth)
	case boltLeafPage:
		return c.leaf(p, id, min, max, depth, false)
	default:
		return damagef("page %d has type %#x where a branch or leaf page belongs", id, flags)
	}
}

// elementField returns the n bytes at off in p, checked to lie inside it.
func elementField(p []byte, off, n uint64) ([]byte, bool) {
	if off > uint64(len(p)) || n > uint64(len(p))-off {
		return nil, false
	}
	return p[off : off+n], true
}

// elements returns the page's element count, checked to fit in p.
func elements(p []byte, id uint64) (int, error) {
	n := int(ne.Uint16(p[10:]))
	if boltPageHeaderLen+n*boltElementLen > len(p) {
		return 0, damagef("page %d claims %d elements, more than fit in it", id, n)
	}
	return n, nil
}

// keyOrder checks that k follows prev (strictly) and lies in [min, max).
func keyOrder(k, prev, min, max []byte, i int, id uint64) error {
	if (i > 0 && bytes.Compare(prev, k) >= 0) || (i == 0 && min != nil && bytes.Compare(k, min) < 0) ||
		(max != nil && bytes.Compare(k, max) >= 0) {
		return damagef("page %d: key %d is out of order", id, i)
	}
	return nil
}

// branch checks a branch page and the subtrees it points to.
func (c *treeChecker) branch(p []byte, id uint64, min, max []byte, depth int) error {
	n, err := elements(p, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return damagef("branch page %d is empty", id)
	}
	keys := make([][]byte, n)
	children := make([]uint64, n)
	for i := range n {
		e := uint64(boltPageHeaderLen + i*boltElementLen)
		k, ok := elementField(p, e+uint64(ne.Uint32(p[e:])), uint64(ne.Uint32(p[e+4:])))
		if !ok {
			return damagef("page %d: key %d lies outside the page", id, i)
		}
		if err := keyOrder(k, keys[max0(i-1)], min, max, i, id); err != nil {
			return err
		}
		keys[i], children[i] = k, ne.Uint64(p[e+8:])
	}
	for i, child := range children {
		upper := max
		if i+1 < n {
			upper = keys[i+1]
		}
		if err := c.tree(child, keys[i], upper, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func max0(i int) int { return max(i, 0) }

// leaf checks a leaf page (or an inline bucket's page) and the buckets it
// holds.
func (c *treeChecker) leaf(p []byte, id uint64, min, max []byte, depth int, inline bool) error {
	n, err := elements(p, id)
	if err != nil {
		return err
	}
	var prev []byte
	for i := range n {
		e := uint64(boltPageHeaderLen + i*boltElementLen)
		flags := ne.Uint32(p[e:])
		kv, ok := elementField(p, e+uint64(ne.Uint32(p[e+4:])), uint64(ne.Uint32(p[e+8:]))+uint64(ne.Uint32(p[e+12:])))
		if !ok || flags&^boltBucketLeafFlag != 0 {
			return damagef("page %d: element %d is damaged", id, i)
		}
		k, v := kv[:ne.Uint32(p[e+8:])], kv[ne.Uint32(p[e+8:]):]
		if err := keyOrder(k, prev, min, max, i, id); err != nil {
			return err
		}
		prev = k
		if flags&boltBucketLeafFlag == 0 {
			c.records++
			continue
		}
		if inline {
			return damagef("page %d: an inline bucket holds a bucket", id)
		}
		if err := c.bucket(v, id, depth); err != nil {
			return err
		}
	}
	return nil
}

// bucket checks a bucket value found on page id: its own pages, or its
// inline page.
func (c *treeChecker) bucket(v []byte, id uint64, depth int) error {
	if len(v) < boltBucketLen {
		return damagef("page %d: a bucket value of %d bytes", id, len(v))
	}
	c.buckets++
	if root := ne.Uint64(v); root != 0 {
		return c.tree(root, nil, nil, depth+1)
	}
	p := v[boltBucketLen:]
	if len(p) < boltPageHeaderLen || ne.Uint16(p[8:]) != boltLeafPage {
		return damagef("page %d: an inline bucket's page is damaged", id)
	}
	return c.leaf(p, id, nil, nil, depth+1, true)
}

// freelist checks the freelist page: its type and that it lists page ids
// of the file that the tree does not use.
func (c *treeChecker) freelist(id uint64) error {
	p, err := c.page(id, 0)
	if err != nil {
		return err
	}
	if flags := ne.Uint16(p[8:]); flags != boltFreelistPage {
		return damagef("freelist page %d has type %#x", id, flags)
	}
	n, start := uint64(ne.Uint16(p[10:])), uint64(boltPageHeaderLen)
	if n == 0xFFFF { // the count did not fit: it is the first element
		if len(p) < boltPageHeaderLen+8 {
			return damagef("freelist page %d is damaged", id)
		}
		n, start = ne.Uint64(p[boltPageHeaderLen:]), start+8
	}
	ids, ok := []byte(nil), n <= uint64(len(p))
	if ok {
		ids, ok = elementField(p, start, n*8)
	}
	if !ok {
		return damagef("freelist page %d claims %d free pages, more than fit in it", id, n)
	}
	for i := uint64(0); i < n; i++ {
		free := ne.Uint64(ids[i*8:])
		if free < 2 || free >= c.hw {
			return damagef("freelist page %d lists page %d, outside the file's pages 2..%d", id, free, c.hw-1)
		}
		if c.seen[free/64]&(1<<(free%64)) != 0 {
			return damagef("freelist page %d lists page %d, which is in use", id, free)
		}
	}
	return nil
}
