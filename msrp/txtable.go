package msrp

import "time"

// Transaction-ids we mint are txRandLen random base62 characters (≥ 64 random bits, RFC 4975 §7.1) followed
// by txSlotLen characters naming the slot of the connection's transaction table that tracks the request.
// A response is matched by decoding the slot and comparing the random part, so the table needs neither a
// map nor a string per entry.
const (
	txRandLen = transactionIDLen      // 12 characters, ≈71 bits
	txSlotLen = 4                     // 62^4 ≈ 14.7 million slots per connection
	txIDLen   = txRandLen + txSlotLen // 16 characters, within ident's 4..32 (§9)
	maxTxSlot = 62*62*62*62 - 1       // slots a connection may track at once ("zzzz" means untracked)
	noSlot    = int32(-1)
)

// txSlot is one of our requests awaiting its response (RFC 4975 §7.1.1).
type txSlot struct {
	used    bool
	gen     uint32          // bumped on every allocation, so a stale reference cannot stamp a new occupant
	tid     [txRandLen]byte // random part of the transaction-id
	session *Session
	msg     *outMsg            // the large message this chunk belongs to, if any
	mid     [messageIDLen]byte // Message-ID we minted (midStr == "")
	midStr  string             // Message-ID the caller chose
	foreign string             // transaction-id the caller chose (tracked through txTable.foreign)
	sent    time.Time          // when the last byte was written; zero while still queued
	waiter  chan *Message      // Connect waits for its bodiless SEND
	next    int32              // free list
}

func (t *txSlot) messageID() string {
	if t.midStr != "" {
		return t.midStr
	}
	if t.mid[0] == 0 {
		return ""
	}
	return string(t.mid[:])
}

// txRef names a slot as of one allocation.
type txRef struct {
	slot int32
	gen  uint32
}

var noTx = txRef{slot: noSlot}

// txTable holds a connection's outstanding transactions. It is guarded by the connection's lock. Slots are
// recycled through a free list, so steady-state traffic allocates nothing per transaction.
type txTable struct {
	slots   []txSlot
	free    int32 // head of the free list, noSlot when empty
	n       int   // slots in use
	foreign map[string]int32
}

func (t *txTable) init() { t.free = noSlot }

// alloc returns a fresh slot, or noSlot when the table is full.
func (t *txTable) alloc() int32 {
	var i int32
	if t.free != noSlot {
		i = t.free
		t.free = t.slots[i].next
	} else {
		if len(t.slots) >= maxTxSlot {
			return noSlot
		}
		t.slots = append(t.slots, txSlot{})
		i = int32(len(t.slots) - 1)
	}
	s := &t.slots[i]
	gen := s.gen + 1
	*s = txSlot{used: true, gen: gen, next: noSlot}
	t.n++
	return i
}

// release frees slot i.
func (t *txTable) release(i int32) {
	s := &t.slots[i]
	if !s.used {
		return
	}
	if s.foreign != "" {
		delete(t.foreign, s.foreign)
	}
	gen := s.gen
	*s = txSlot{gen: gen, next: t.free}
	t.free = i
	t.n--
}

// lookup finds the slot of transaction-id tid (a response's), or noSlot.
func (t *txTable) lookup(tid string) int32 {
	if len(tid) == txIDLen {
		if i, ok := decodeSlot(tid[txRandLen:]); ok && int(i) < len(t.slots) {
			s := &t.slots[i]
			if s.used && s.foreign == "" && string(s.tid[:]) == tid[:txRandLen] {
				return i
			}
		}
	}
	if i, ok := t.foreign[tid]; ok {
		return i
	}
	return noSlot
}

// stamp records that the request tracked by r has been written completely (the timeout runs from the last
// byte written, §7.1.1).
func (t *txTable) stamp(r txRef, now time.Time) {
	if r.slot == noSlot || int(r.slot) >= len(t.slots) {
		return
	}
	if s := &t.slots[r.slot]; s.used && s.gen == r.gen {
		s.sent = now
	}
}

// encodeSlot writes slot i as txSlotLen base62 characters into b.
func encodeSlot(b []byte, i int32) {
	for k := txSlotLen - 1; k >= 0; k-- {
		b[k] = base62[i%62]
		i /= 62
	}
}

func decodeSlot(s string) (int32, bool) {
	var i int32
	for k := 0; k < len(s); k++ {
		c := s[k]
		var d int32
		switch {
		case c >= '0' && c <= '9':
			d = int32(c - '0')
		case c >= 'A' && c <= 'Z':
			d = int32(c-'A') + 10
		case c >= 'a' && c <= 'z':
			d = int32(c-'a') + 36
		default:
			return 0, false
		}
		i = i*62 + d
	}
	return i, true
}
