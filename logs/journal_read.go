package logs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// Reading a journal segment (format in journal.go).
//
// A segment holds its current generation's frames from offset 0, one after
// the other, and after them possibly leftovers of older generations. Two
// kinds of bad frames are told apart:
//
//   - a torn tail: a frame that is incomplete or fails its CRC with no
//     valid frame of the generation after it. A crash during a write leaves
//     this; the frame was never acknowledged. Silent.
//   - damage: a bad stretch followed by valid frames of the generation
//     (a flipped bit, a zeroed block). Reading resynchronises on the next
//     frame whose generation matches and whose CRC holds, keeps everything
//     from there on, and reports the stretch (segmentDamage): the store logs
//     an error and counts it in towerhook_log_journal_damaged_frames_total.
//
// Frames longer than maxFrameBytes are never written (journal.append
// refuses them), so one found complete with a valid CRC is reported as
// damage too, never dropped silently.

// segmentDamage is what reading one segment skipped.
type segmentDamage struct {
	// Frames counts the damaged stretches skipped (each held at least one
	// frame) and the frames over maxFrameBytes.
	Frames int
	// Bytes is the length of what was skipped.
	Bytes int
	// Recovered counts the records read after the first damaged stretch.
	Recovered int
}

// damaged reports whether anything was skipped.
func (d segmentDamage) damaged() bool { return d.Frames > 0 }

// String describes the damage in one line.
func (d segmentDamage) String() string {
	return fmt.Sprintf("%d damaged frame(s), %d bytes skipped, %d records after the damage recovered", d.Frames, d.Bytes, d.Recovered)
}

// readSegment reads a whole segment file.
func readSegment(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	n, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return b[:n], nil
}

// frameAt decodes the frame at b[off:]: ok when it is complete, its length
// is within maxFrameBytes and its CRC holds.
func frameAt(b []byte, off int) (r pendingRec, gen uint64, size int, ok bool) {
	if len(b)-off < frameHeaderLen {
		return r, 0, 0, false
	}
	hdr := b[off : off+frameHeaderLen]
	n := int(binary.BigEndian.Uint32(hdr[0:4]))
	if n == 0 || n > maxFrameBytes || n > len(b)-off-frameHeaderLen {
		return r, 0, 0, false
	}
	val := b[off+frameHeaderLen : off+frameHeaderLen+n]
	if !frameCRCOK(hdr, val) {
		return r, 0, 0, false
	}
	copy(r.k[:], hdr[16:])
	r.val = val
	return r, binary.BigEndian.Uint64(hdr[8:16]), frameHeaderLen + n, true
}

// frameCRCOK checks a frame's CRC (over gen, key and value).
func frameCRCOK(hdr, val []byte) bool {
	c := crc32.Update(0, crcTable, hdr[8:])
	return crc32.Update(c, crcTable, val) == binary.BigEndian.Uint32(hdr[4:8])
}

// oversizeAt reports the length of a complete frame of generation gen at
// b[off:] whose length is over maxFrameBytes and whose CRC holds (0 when
// there is none).
func oversizeAt(b []byte, off int, gen uint64) int {
	if len(b)-off < frameHeaderLen {
		return 0
	}
	hdr := b[off : off+frameHeaderLen]
	n := int(binary.BigEndian.Uint32(hdr[0:4]))
	if n <= maxFrameBytes || n > len(b)-off-frameHeaderLen || binary.BigEndian.Uint64(hdr[8:16]) != gen {
		return 0
	}
	if !frameCRCOK(hdr, b[off+frameHeaderLen:off+frameHeaderLen+n]) {
		return 0
	}
	return frameHeaderLen + n
}

// scanFrames returns the records of the segment's current generation (the
// first valid frame's) and what it had to skip.
func scanFrames(b []byte) ([]pendingRec, segmentDamage) {
	var recs []pendingRec
	var d segmentDamage
	var gen uint64
	haveGen := false
	for off := 0; off < len(b); {
		r, g, size, ok := frameAt(b, off)
		if ok && (!haveGen || g == gen) {
			gen, haveGen = g, true
			recs = append(recs, r)
			if d.damaged() {
				d.Recovered++
			}
			off += size
			continue
		}
		if ok {
			break // an older generation's leftovers: the end
		}
		if haveGen {
			if size := oversizeAt(b, off, gen); size > 0 {
				d.Frames++
				d.Bytes += size
				off += size
				continue
			}
		}
		next := resync(b, off+1, gen, haveGen)
		if next < 0 {
			break // a torn tail
		}
		d.Frames++
		d.Bytes += next - off
		off = next
	}
	return recs, d
}

// resync returns the offset of the next valid frame of generation gen at
// or after from, or -1. Without a known generation (the segment's first
// frame is bad) it takes the first valid frame followed by a frame header
// of the same generation, so that bytes inside a frame are not mistaken
// for one.
func resync(b []byte, from int, gen uint64, haveGen bool) int {
	var want [8]byte
	binary.BigEndian.PutUint64(want[:], gen)
	for i := from; len(b)-i >= frameHeaderLen; i++ {
		g := b[i+8 : i+16]
		if haveGen {
			if !bytes.Equal(g, want[:]) {
				continue
			}
		} else {
			n := int(binary.BigEndian.Uint32(b[i : i+4]))
			next := i + frameHeaderLen + n
			if n == 0 || n > maxFrameBytes || len(b)-next < frameHeaderLen || !bytes.Equal(g, b[next+8:next+16]) {
				continue
			}
		}
		if _, _, _, ok := frameAt(b, i); ok {
			return i
		}
	}
	return -1
}
