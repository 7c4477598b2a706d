package msrp

// The streaming delivery of large incoming messages (ChunkHandler) and the size limits of incoming
// messages.

// SetMaxSize sets the a=max-size we advertised for this session (RFC 4975 §8.6): incoming messages whose
// Byte-Range total or data go beyond it get 413. Zero or less means MaxMessageSize only.
func (s *Session) SetMaxSize(n int64) {
	s.mu.Lock()
	s.maxSize = n
	s.mu.Unlock()
}

// SetStreamLimit lets a message streamed to the session's ChunkHandler (see ChunkHandler) be up to n bytes,
// beyond MaxMessageSize and the session's max-size, which still bound reassembled messages and every single
// chunk: a handler that writes each chunk through (a switch relaying a file, a file store) holds none of it.
// Zero or less means the same limit as reassembled messages.
func (s *Session) SetStreamLimit(n int64) {
	s.mu.Lock()
	s.streamLimit = n
	s.mu.Unlock()
}

func (s *Session) streamSizeLimit() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streamLimit
}

func (s *Session) sizeLimit() int64 {
	s.mu.Lock()
	n := s.maxSize
	s.mu.Unlock()
	if lim := s.e.cfg().MaxMessageSize; n <= 0 || n > lim {
		return lim
	}
	return n
}

// inStream tracks a chunked message streamed to a ChunkHandler: which bytes arrived, nothing of the data.
type inStream struct {
	owner  *Session
	total  int64 // -1 until known
	length int64 // -1 until the '$' chunk fixes it
	have   []span
}

// stream hands one chunk to the ChunkHandler after the same Byte-Range checks reassembly makes.
func (c *conn) stream(s *Session, ch ChunkHandler, key string, m *Message, limit int64) {
	st := c.streams[key]
	if m.Flag == FlagAbort {
		delete(c.streams, key)
		cl := m.Clone()
		cl.ByteRange = chunkRange(m)
		code, comment := CodeOf(ch.HandleChunk(s, cl))
		c.respond(m, s, code, comment)
		return
	}
	if st == nil {
		if len(c.streams) >= maxReassemblies {
			c.pruneStreams()
		}
		if len(c.streams) >= maxReassemblies {
			c.e.stats.tooLarge.Add(1)
			c.respond(m, s, StatusTooLarge, "too many messages in progress")
			return
		}
		if c.streams == nil {
			c.streams = make(map[string]*inStream)
		}
		st = &inStream{owner: s, total: -1, length: -1}
		c.streams[key] = st
	}
	br := chunkRange(m)
	from, to := br.Start-1, br.Start-1+int64(len(m.Body))
	if ferr := st.check(br, m.Flag, from, to, limit); ferr != nil {
		delete(c.streams, key)
		c.respond(m, s, ferr.Code, ferr.Reason)
		return
	}
	cl := m.Clone()
	cl.ByteRange = br
	code, comment := CodeOf(ch.HandleChunk(s, cl))
	if code != StatusOK {
		delete(c.streams, key)
		if m.Flag != FlagEnd {
			c.refuse(key, code)
		}
		if code == StatusTooLarge {
			c.e.stats.tooLarge.Add(1)
		}
		c.respond(m, s, code, comment)
		return
	}
	st.have = addSpan(st.have, span{from, to})
	c.respond(m, s, StatusOK, "")
	if st.length >= 0 && len(st.have) == 1 && st.have[0].from == 0 && st.have[0].to >= st.length || st.length == 0 {
		delete(c.streams, key)
		c.successReport(s, m, ByteRange{Start: 1, End: st.length, Total: st.length}, c)
	}
}

// chunkRange is the Byte-Range a chunk actually carries: range-end from the data received (§7.3.1).
func chunkRange(m *Message) ByteRange {
	br := m.ByteRange
	if br.Start == 0 {
		br = ByteRange{Start: 1, Total: -1}
	}
	br.End = br.Start - 1 + int64(len(m.Body))
	return br
}

// check applies the reassembly rules (§7.1.1, §7.3.1) to a streamed chunk covering [from, to).
func (st *inStream) check(br ByteRange, flag byte, from, to, limit int64) *FrameError {
	if br.Total > limit || to > limit {
		return &FrameError{Code: StatusTooLarge, Reason: "message exceeds the size limit"}
	}
	if br.Total >= 0 {
		if st.total >= 0 && st.total != br.Total || st.length > br.Total || to > br.Total {
			return &FrameError{Code: StatusBadRequest, Header: "Byte-Range", Reason: "total changed between chunks"}
		}
		st.total = br.Total
	}
	if flag == FlagEnd {
		if st.total >= 0 && to != st.total || st.length >= 0 && st.length != to {
			return &FrameError{Code: StatusBadRequest, Header: "Byte-Range", Reason: "last chunk does not end the message"}
		}
		st.length = to
	}
	if st.length >= 0 && to > st.length {
		return &FrameError{Code: StatusBadRequest, Header: "Byte-Range", Reason: "chunk past the end of the message"}
	}
	return nil
}

// pruneStreams drops streams and reassemblies of sessions that have ended.
func (c *conn) pruneStreams() {
	for k, st := range c.streams {
		if st.owner.isClosed() {
			delete(c.streams, k)
		}
	}
	for k, ra := range c.reasm.inProgress {
		if ra.owner != nil && ra.owner.isClosed() {
			delete(c.reasm.inProgress, k)
		}
	}
}
