package msrp

import "bytes"

// Outgoing chunking (RFC 4975 §5.1, §7.1.1). A SEND whose body is larger than MaxUninterruptible bytes is not
// queued as one frame: the connection's writer cuts it into chunks with range-end '*' (interruptible), each
// chunk a new transaction, and interrupts the chunk in progress ('+') whenever other frames are waiting, so
// responses, REPORTs and short messages never wait behind it for more than one ChunkQuantum. A chunk that
// meets no other traffic simply runs to the end of the message ('$'); few large chunks is what §7.1.1
// recommends. After a 413 for the message the chunk in progress ends with '#' and nothing more is sent
// (§10.5, §7.3.2).

// MaxUninterruptible is the largest body sent as one ordinary frame; anything larger is chunked and
// interruptible (RFC 4975 §7.1.1: "greater than 2048 octets").
const MaxUninterruptible = 2048

// outMsg is a large SEND being chunked. All fields are guarded by the connection's lock and changed only by
// the writer (planLarge), except stop, which the read goroutine and session close may set.
type outMsg struct {
	s     *Session
	m     Message // template: paths, Message-ID, reports, headers, Content-Type; Body unused
	body  []byte
	base  int64 // Byte-Range position of body[0], minus one
	total int64 // Byte-Range total, -1 for '*'
	last  byte  // flag after the final byte: '$', or '+' when the caller sends the rest later

	off        int  // first unsent byte of body
	noDashes   bool // body holds no "-------", so no transaction-id can collide with it
	stop       bool // a 413 (or a timeout) arrived: interrupt with '#', send nothing more
	open       bool // a chunk's head has been written and its end-line not yet
	chunkBytes int  // body bytes written in the open chunk
	tid        [txIDLen]byte
	tx         txRef
	// then holds later pieces of the same message (SendMessage with the same Message-ID while this one is
	// queued), sent in order after it: pieces of one message never overtake each other on the wire.
	then []*outMsg
}

func newOutMsg(s *Session, m *Message) *outMsg {
	lm := &outMsg{s: s, m: *m, body: m.Body, total: int64(len(m.Body)), last: m.flag(), tx: noTx}
	lm.m.Body = nil
	lm.m.TransactionID = ""
	if br := m.ByteRange; br.Start > 0 {
		lm.base, lm.total = br.Start-1, br.Total
	}
	lm.noDashes = !bytes.Contains(m.Body, dashes)
	return lm
}

// mintTID draws the transaction-id of the next chunk into b: its end-line must not occur in the data that
// chunk may carry (RFC 4975 §7.1), checked against the whole unsent rest.
func (lm *outMsg) mintTID(b []byte) []byte {
	for {
		appendRandomID(b[:0], txRandLen)
		if lm.noDashes || !bodyHasEndLine(lm.body[lm.off:], b[:txRandLen]) {
			break
		}
	}
	copy(b[txRandLen:], "zzzz")
	return b[:txIDLen]
}

// openChunk starts a chunk at the first unsent byte and appends its head to b: new transaction-id, Byte-Range
// start-*/total (§7.1.1).
func (lm *outMsg) openChunk(b, tid []byte, tx txRef) []byte {
	copy(lm.tid[:], tid)
	lm.tx, lm.open, lm.chunkBytes = tx, true, 0
	br := ByteRange{Start: lm.base + int64(lm.off) + 1, End: -1, Total: lm.total}
	return lm.m.appendHeadIDs(b, lm.tid[:], nil, br)
}

// nextPiece returns at most max unsent bytes of the open chunk and counts them as sent.
func (lm *outMsg) nextPiece(max int) []byte {
	n := min(max, len(lm.body)-lm.off)
	p := lm.body[lm.off : lm.off+n]
	lm.off += n
	lm.chunkBytes += n
	return p
}

// done reports whether every byte has been handed to the writer.
func (lm *outMsg) done() bool { return lm.off == len(lm.body) }

// closeChunk appends the end-line of the open chunk with flag ('+' interrupted, '$' last, '#' aborted).
func (lm *outMsg) closeChunk(b []byte, flag byte) []byte {
	lm.open = false
	return appendChunkEnd(b, lm.tid[:], flag)
}
