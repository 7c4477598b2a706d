package msrp

// Reassembly of chunked SENDs (RFC 4975 §7.3.1, §14.5). One reassembler per connection, owned by its read
// goroutine, so it needs no lock.

// maxReassemblies bounds messages in progress per connection, so memory stays below
// maxReassemblies × MaxMessageSize.
const maxReassemblies = 16

type span struct{ from, to int64 } // [from, to) zero-based

type reassembly struct {
	owner  *Session
	head   *Message // headers of the first chunk seen (prefer range-start 1), no body
	buf    []byte
	total  int64 // -1 until known
	length int64 // -1 until the '$' chunk fixes it (§7.3.1)
	have   []span
}

type reassembler struct {
	maxSize    int64
	inProgress map[string]*reassembly
}

func newReassembler(maxSize int64) *reassembler {
	return &reassembler{maxSize: maxSize, inProgress: make(map[string]*reassembly)}
}

// add takes one chunk of the message key (session-id + Message-ID) of session owner. It returns the whole
// message once every byte has arrived, nil while incomplete, or an error to answer (413, 400). A '#' chunk
// drops the message. Sizes are checked against limit (at most the reassembler's) before any allocation (§14.5).
func (r *reassembler) add(key string, owner *Session, m *Message, limit int64) (*Message, error) {
	if limit <= 0 || limit > r.maxSize {
		limit = r.maxSize
	}
	if m.Flag == FlagAbort {
		delete(r.inProgress, key)
		return nil, nil
	}
	br := m.ByteRange
	if br.Start == 0 {
		br = ByteRange{Start: 1, End: -1, Total: -1}
	}
	from := br.Start - 1
	to := from + int64(len(m.Body))
	if br.Total > limit || to > limit {
		delete(r.inProgress, key)
		return nil, &FrameError{Code: StatusTooLarge, Reason: "message exceeds the size limit"}
	}
	if br.Total >= 0 && to > br.Total {
		return nil, &FrameError{Code: StatusBadRequest, Header: "Byte-Range", Reason: "chunk runs past total"}
	}
	if br.End >= 0 && m.Flag == FlagEnd && br.End != to {
		// A '$' chunk is complete, so its range-end must match its length (§7.1.1).
		return nil, &FrameError{Code: StatusBadRequest, Header: "Byte-Range", Reason: "range-end does not match chunk length"}
	}
	ra := r.inProgress[key]
	if ra == nil {
		if len(r.inProgress) >= maxReassemblies {
			for k, old := range r.inProgress {
				if old.owner != nil && old.owner.isClosed() {
					delete(r.inProgress, k)
				}
			}
		}
		if len(r.inProgress) >= maxReassemblies {
			return nil, &FrameError{Code: StatusTooLarge, Reason: "too many messages in progress"}
		}
		ra = &reassembly{owner: owner, total: -1, length: -1}
		r.inProgress[key] = ra
	}
	if ra.head == nil || br.Start == 1 && ra.head.ByteRange.Start != 1 {
		h := *m
		h.Body = nil
		ra.head = h.Clone()
	}
	if br.Total >= 0 {
		if ra.total >= 0 && ra.total != br.Total || ra.length > br.Total {
			delete(r.inProgress, key)
			return nil, &FrameError{Code: StatusBadRequest, Header: "Byte-Range", Reason: "total changed between chunks"}
		}
		ra.total = br.Total
	}
	if m.Flag == FlagEnd {
		if ra.total >= 0 && to != ra.total || ra.length >= 0 && ra.length != to {
			delete(r.inProgress, key)
			return nil, &FrameError{Code: StatusBadRequest, Header: "Byte-Range", Reason: "last chunk does not end the message"}
		}
		ra.length = to
	}
	if ra.length >= 0 && to > ra.length {
		delete(r.inProgress, key)
		return nil, &FrameError{Code: StatusBadRequest, Header: "Byte-Range", Reason: "chunk past the end of the message"}
	}
	// Grow to the known size once, or incrementally while the total is '*'.
	if need := max(to, ra.total); int64(len(ra.buf)) < need {
		if int64(cap(ra.buf)) >= need {
			ra.buf = ra.buf[:need]
		} else {
			nb := make([]byte, need, max(need, 2*int64(cap(ra.buf))))
			copy(nb, ra.buf)
			ra.buf = nb
		}
	}
	copy(ra.buf[from:to], m.Body) // overlapping data: the most recent chunk wins (§7.3.1)
	ra.have = addSpan(ra.have, span{from, to})
	complete := ra.length == 0 ||
		ra.length > 0 && len(ra.have) == 1 && ra.have[0].from == 0 && ra.have[0].to >= ra.length
	if !complete {
		return nil, nil
	}
	delete(r.inProgress, key)
	whole := ra.head
	whole.Body = ra.buf[:ra.length:ra.length]
	whole.ByteRange = ByteRange{Start: 1, End: ra.length, Total: ra.length}
	whole.Flag = FlagEnd
	whole.TransactionID = m.TransactionID
	return whole, nil
}

// addSpan inserts s into a sorted list of disjoint spans, merging overlaps and neighbours.
func addSpan(have []span, s span) []span {
	if s.to <= s.from {
		return have
	}
	out := have[:0:0]
	placed := false
	for _, h := range have {
		switch {
		case h.to < s.from:
			out = append(out, h)
		case s.to < h.from:
			if !placed {
				out = append(out, s)
				placed = true
			}
			out = append(out, h)
		default:
			s = span{min(s.from, h.from), max(s.to, h.to)}
		}
	}
	if !placed {
		out = append(out, s)
	}
	return out
}
