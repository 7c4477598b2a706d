package focus

import (
	"io"
	"mime"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/cpim"
	"github.com/parleychat/parley/sdp"
)

// Files pushed to a room (session-chat §5.5, RFC 5547). A participant sends a file to the room URI on
// an m=message line with a=file-selector and sendonly; the focus answers recvonly and takes the
// file as one MSRP message on that session (not a chat channel: no binding row). It wraps the
// file in a new CPIM envelope from the sender with the file's name, size and own dates
// (a=file-date) in Content-Disposition, and relays it to the room's first channel, or to the
// participants the INVITE's Subject names, chunk by chunk as it arrives: the envelope first,
// then each chunk of the file re-sent on every recipient's session with its Byte-Range shifted
// by the envelope's length. The same bytes go to a part file on disk, which becomes a kept file
// for later joiners once complete (filestore.go). Nothing holds the whole file: a file is bounded
// by max_file_size and the quotas, not by max_message_size. A recipient that falls behind meets
// the usual slow-consumer rule (its connection's max_pending_bytes), alone.

// DefaultFileQuota is how many bytes of files a room keeps for later joiners.
const DefaultFileQuota = 64 << 20

// replayPiece is how many bytes of a kept file a replay reads and queues at a time.
const replayPiece = 64 << 10

// fileSessions is the handler of RFC 5547 push sessions: the Focus, plus msrp.ChunkHandler,
// so that a file above the stream threshold reaches the focus chunk by chunk, not reassembled.
// Chat sessions keep the Focus itself as handler and have their messages reassembled.
type fileSessions struct{ *Focus }

// HandleChunk implements msrp.ChunkHandler for file sessions.
func (h fileSessions) HandleChunk(s *msrp.Session, m *msrp.Message) error {
	st, ok := s.UserData().(*Stream)
	if !ok || st.file == nil {
		return &msrp.StatusError{Code: msrp.StatusNoSuchSession, Comment: "Session not in a room"}
	}
	return h.fileChunk(st, m)
}

// handleFile takes a file that arrived whole (one chunk, or reassembled below the stream threshold).
func (f *Focus) handleFile(st *Stream, m *msrp.Message) error {
	if m.Method != "SEND" || m.ContentType == "" {
		return &msrp.StatusError{Code: msrp.StatusNotImplemented, Comment: "Only the file may be sent on this session"}
	}
	n := int64(len(m.Body))
	m.ByteRange, m.Flag = msrp.ByteRange{Start: 1, End: n, Total: n}, msrp.FlagEnd
	return f.fileChunk(st, m)
}

// fileTransfer is a file on its way through the focus.
type fileTransfer struct {
	f      *Focus
	st     *Stream
	seen   map[*Stream]bool // the channel's streams when the transfer started: they had their copy
	inID   string           // the sender's Message-ID
	prefix int64            // bytes of the CPIM envelope ahead of the file
	total  int64            // bytes of the CPIM message, -1 while the sender has not said ('*')

	mu     sync.Mutex
	copies []fileCopy
	pages  []*Stream // page-mode members it is for: told of it by a notice once it is complete
	part   *os.File  // nil when the file is not kept
	kept   keptFile
	got    int64 // file bytes received
	length int64 // the file's length once its last chunk came, -1 before
	ended  bool
}

// fileCopy is the message one recipient receives: its own Message-ID, the same for every chunk.
type fileCopy struct {
	to  *Stream
	mid string
}

// fileChunk passes one chunk of a pushed file on: to every recipient and to the part file.
func (f *Focus) fileChunk(st *Stream, m *msrp.Message) error {
	x := st.xfer.Load()
	if x == nil {
		if m.Flag == msrp.FlagAbort {
			return nil // nothing of it was taken
		}
		var err error
		if x, err = f.startFile(st, m); err != nil {
			return err
		}
		st.xfer.Store(x)
	} else if m.MessageID != x.inID {
		// RFC 5547 §8.7: one file per MSRP session.
		return &msrp.StatusError{Code: msrp.StatusForbidden, Comment: "This session already carried its file"}
	}
	if m.Flag == msrp.FlagAbort {
		x.abort("the sender interrupted it")
		return nil
	}
	return x.chunk(m)
}

// startFile checks a push against the room's rules on its first chunk and opens the copies.
func (f *Focus) startFile(st *Stream, m *msrp.Message) (*fileTransfer, error) {
	if st.fileDone.Load() {
		// RFC 5547 §8.7: one file per MSRP session.
		return nil, &msrp.StatusError{Code: msrp.StatusForbidden, Comment: "This session already carried its file"}
	}
	contentType := m.ContentType
	if contentType == "" {
		contentType = st.file.Type
	}
	room := st.participant.room
	inner := mediaType(contentType)
	if inner == "" || !allowedType(room.wrappedTypes(), inner) {
		return nil, &msrp.StatusError{Code: msrp.StatusUnsupportedMedia, Comment: "File type not allowed in this room"}
	}
	size := m.ByteRange.Total
	if size < 0 {
		size = st.file.Size
	}
	if size > f.maxFileSize() {
		f.metrics.filesTooLarge.Inc()
		return nil, &msrp.StatusError{Code: msrp.StatusTooLarge, Comment: "File larger than this focus allows"}
	}
	if why := room.sendRefusal(st.participant); why == refusedObserver {
		return nil, &msrp.StatusError{Code: msrp.StatusForbidden, Comment: "Observers cannot send files in this room"}
	} else if why != "" {
		return nil, &msrp.StatusError{Code: msrp.StatusForbidden, Comment: "Visitors need voice from a moderator to send files in this moderated room"}
	}
	var targets []*Participant
	for _, name := range splitTargets(st.fileTarget) {
		p := room.participantByName(name)
		if p == nil {
			return nil, &msrp.StatusError{Code: msrp.StatusNotFound, Comment: "Recipient not in the room"}
		}
		if !slices.Contains(targets, p) {
			targets = append(targets, p)
		}
	}

	now := f.now()
	params := map[string]string{"filename": st.file.Name, "modification-date": now.UTC().Format(time.RFC1123Z)}
	if size >= 0 {
		params["size"] = strconv.FormatInt(size, 10)
	}
	if a := st.offer.Attribute("file-date"); a != nil {
		// The file's own dates (RFC 5547 §7) as RFC 2183 parameters; the arrival time stands in
		// for a modification date the sender did not give.
		if fd, err := sdp.ParseFileDate(a.Value); err == nil {
			for k, v := range map[string]string{"creation-date": fd.Creation, "modification-date": fd.Modification, "read-date": fd.Read} {
				if v != "" {
					params[k] = v
				}
			}
		} else {
			f.log.Debug("file-date ignored", "room", room.name, "err", err)
		}
	}
	to := []cpim.Address{{URI: f.RoomURI(room.name)}}
	if len(targets) > 0 {
		to = to[:0]
		for _, p := range targets {
			to = append(to, cpim.Address{URI: p.aor.AOR()})
		}
	}
	envelope := (&cpim.Message{
		From:           cpim.Address{URI: st.participant.aor.AOR()},
		To:             to,
		DateTime:       now.UTC().Format(time.RFC3339),
		ContentType:    contentType,
		ContentHeaders: []cpim.Header{{Name: "Content-Disposition", Value: mime.FormatMediaType("attachment", params)}},
	}).Marshal()
	x := &fileTransfer{f: f, st: st, inID: m.MessageID, prefix: int64(len(envelope)), total: -1, length: -1,
		seen: map[*Stream]bool{}}
	if m.ByteRange.Total >= 0 {
		x.total = x.prefix + m.ByteRange.Total
	}

	channel := room.channelFor("")
	privateOK := false
	for _, r := range *room.streams.Load() {
		x.seen[r] = true
		if r.participant == st.participant || r.channel != channel {
			continue
		}
		if r.page != nil {
			// A file never goes by MESSAGE (RFC 3428 §7): page-mode members get a notice of it.
			if len(targets) == 0 || slices.Contains(targets, r.participant) {
				x.pages = append(x.pages, r)
				privateOK = true
			}
			continue
		}
		if len(targets) > 0 {
			if !slices.Contains(targets, r.participant) || r.offer.Chatroom == nil || !r.offer.Chatroom.PrivateMessages {
				continue
			}
			privateOK = true
		}
		if !r.offer.AcceptsWrapped(inner) || r.offer.MaxSize > 0 && x.total > r.offer.MaxSize {
			continue // it cannot take the payload (RFC 7701 §6.1), or its a=max-size would refuse it
		}
		x.copies = append(x.copies, fileCopy{to: r, mid: msrp.NewMessageID()})
	}
	if len(targets) > 0 && !privateOK {
		return nil, &msrp.StatusError{Code: msrp.StatusNoPrivateMessages, Comment: "Private messages not supported"}
	}
	x.send(envelope, 1, '+')

	x.kept = keptFile{Room: room.name, Channel: channel, Sender: st.participant.userID, Inner: inner, Name: st.file.Name, Received: now}
	for _, p := range targets {
		x.kept.Targets = append(x.kept.Targets, p.userID)
	}
	if fs := f.files; fs != nil && (x.total < 0 || fs.fits(x.total)) {
		part, err := fs.create(room.name)
		if err == nil {
			_, err = part.WriteAt(envelope, 0)
		}
		if err != nil {
			f.log.Error("file not kept: cannot write it", "room", room.name, "err", err)
			if part != nil {
				part.Close()
				os.Remove(part.Name())
			}
		} else {
			x.part = part
		}
	}
	f.log.Info("file transfer started", "room", room.name, "user", st.participant.userID, "recipients", len(x.copies),
		"bytes", size)
	return x, nil
}

// send queues body, at position start (1-based) of the CPIM message, on every recipient's
// session; a recipient that cannot take it (closed, slow consumer) gets nothing more.
func (x *fileTransfer) send(body []byte, start int64, flag byte) {
	end := start - 1 + int64(len(body))
	x.copies = slices.DeleteFunc(x.copies, func(c fileCopy) bool {
		err := c.to.session.SendMessage(&msrp.Message{MessageID: c.mid, ContentType: "message/cpim",
			ByteRange: msrp.ByteRange{Start: start, End: end, Total: x.total}, Flag: flag, Body: body})
		if err != nil {
			x.f.log.Debug("file copy stopped", "chat_id", c.to.chatID, "err", err)
			return true
		}
		return false
	})
	x.f.metrics.bytesRelayed.Add(float64(len(x.copies) * len(body)))
}

// chunk relays one chunk of the file and writes it to the part file.
func (x *fileTransfer) chunk(m *msrp.Message) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ended {
		return &msrp.StatusError{Code: msrp.StatusForbidden, Comment: "This session already carried its file"}
	}
	at := x.prefix + m.ByteRange.Start - 1
	flag := m.Flag
	if flag != msrp.FlagEnd {
		flag = msrp.FlagMore
	}
	x.send(m.Body, at+1, flag)
	if x.part != nil {
		end := at + int64(len(m.Body))
		if !x.f.files.fits(end) {
			x.f.log.Info("file not kept: larger than the file quota", "room", x.kept.Room)
			x.dropPart()
		} else if _, err := x.part.WriteAt(m.Body, at); err != nil {
			x.f.log.Error("file not kept: cannot write it", "room", x.kept.Room, "err", err)
			x.dropPart()
		}
	}
	x.got += int64(len(m.Body))
	if m.Flag == msrp.FlagEnd {
		x.length = m.ByteRange.End
	}
	if x.length >= 0 && x.got >= x.length {
		x.finish()
	}
	return nil
}

// finish ends a complete transfer: the part file becomes a kept file.
func (x *fileTransfer) finish() {
	x.ended = true
	x.st.fileDone.Store(true)
	x.f.metrics.messagesRelayed.Inc()
	x.f.metrics.copiesSent.Add(float64(len(x.copies)))
	if len(x.pages) > 0 {
		label := senderLabel(x.f, x.st, &cpim.Message{From: cpim.Address{URI: x.st.participant.aor.AOR()}})
		for _, s := range x.pages {
			if !s.participant.left.Load() {
				s.page.replace(x.f, fileNotice(label, x.kept.Name, x.kept.Inner, x.length))
			}
		}
	}
	if x.part != nil {
		x.kept.Size = x.prefix + x.length
		if err := x.part.Sync(); err != nil { // outside the room's lock, which the commit takes
			x.f.log.Error("file not kept", "room", x.kept.Room, "err", err)
			x.dropPart()
		}
	}
	if x.part != nil {
		// Kept and the fan-out read in one step under the room's lock, as a joiner is welcomed
		// and published: who joined during the transfer gets the file exactly once, from here
		// or from its welcome.
		room := x.st.participant.room
		room.mu.Lock()
		k, err := x.f.files.commit(x.part, x.kept)
		streams := *room.streams.Load()
		room.mu.Unlock()
		x.part = nil
		if err != nil {
			x.f.log.Error("file not kept", "room", x.kept.Room, "err", err)
		}
		if k != nil {
			for _, s := range streams {
				if !x.seen[s] && s.participant != x.st.participant && k.visibleTo(s.channel, s.participant.userID) &&
					(len(k.Targets) == 0 || s.offer.Chatroom != nil && s.offer.Chatroom.PrivateMessages) &&
					s.offer.AcceptsWrapped(k.Inner) && (s.offer.MaxSize <= 0 || k.Size <= s.offer.MaxSize) {
					go x.f.replayKept(s, []keptFile{*k})
				}
			}
		}
	}
	x.f.log.Info("file delivered to the room", "room", x.kept.Room, "user", x.kept.Sender, "recipients", len(x.copies),
		"bytes", x.length)
}

// abort ends an unfinished transfer: every copy is interrupted with '#' (RFC 4975 §7.1.1) and
// the part file removed.
func (x *fileTransfer) abort(why string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ended {
		return
	}
	x.ended = true
	x.st.fileDone.Store(true)
	x.send(nil, x.prefix+x.got+1, msrp.FlagAbort)
	x.dropPart()
	x.f.metrics.filesAborted.Inc()
	x.f.log.Info("file transfer aborted", "room", x.kept.Room, "user", x.kept.Sender, "reason", why, "bytes", x.got)
}

func (x *fileTransfer) dropPart() {
	if x.part != nil {
		x.part.Close()
		os.Remove(x.part.Name())
		x.part = nil
	}
}

// fileSessionClosed aborts the transfer of a file session that ended before its file did.
func (f *Focus) fileSessionClosed(st *Stream) {
	if x := st.xfer.Load(); x != nil {
		x.abort("the sender's session ended")
	}
}

func (f *Focus) maxFileSize() int64 {
	if f.cfg.MaxFileSize > 0 {
		return f.cfg.MaxFileSize
	}
	return DefaultMaxFileSize
}

// splitTargets reads the recipients a Subject names: comma-separated SIP URIs, XCON-USERIDs or
// @nicknames ("" = the room).
func splitTargets(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// participantByName finds a participant by SIP AOR or XCON-USERID, or by a chat stream's
// nickname written "@nickname".
func (r *Room) participantByName(name string) *Participant {
	nick, ok := strings.CutPrefix(name, "@")
	if !ok {
		return r.participantByURI(name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.participants {
		for _, s := range p.streams {
			if s.file == nil && s.nickname != "" && strings.EqualFold(s.nickname, nick) {
				return p
			}
		}
	}
	return nil
}

// replayKept sends the kept files, oldest first, on a joiner's stream once it is bound, reading
// each from disk a piece at a time and never queueing more than a quarter of max_pending_bytes,
// so that a file of any size reaches a later joiner in bounded memory. It returns when done or
// when the stream's session ends.
func (f *Focus) replayKept(s *Stream, files []keptFile) {
	highWater := max(f.endpoint.Config().MaxPendingBytes/4, 2*replayPiece)
	wait := func() bool {
		for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
			n := s.session.Queued()
			if n < 0 {
				return false
			}
			if s.session.Bound() && n < highWater {
				return true
			}
			time.Sleep(delay)
		}
	}
	prev := ""
	for i := range files {
		k := &files[i]
		for prev != "" && s.session.Sending(prev) {
			// The previous file goes out whole first: the order of the kept files is theirs.
			if s.session.Queued() < 0 {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		file, err := f.files.open(k)
		if err != nil {
			continue // evicted meanwhile
		}
		mid := msrp.NewMessageID()
		prev = mid
		for off := int64(0); off < k.Size; {
			if !wait() {
				file.Close()
				return
			}
			buf := make([]byte, min(replayPiece, k.Size-off)) // shared with the queue until written
			n, err := io.ReadFull(file, buf)
			if err != nil {
				f.log.Error("kept file not replayed", "room", k.Room, "seq", k.Seq, "err", err)
				_ = s.session.SendMessage(&msrp.Message{MessageID: mid, ContentType: "message/cpim",
					ByteRange: msrp.ByteRange{Start: off + 1, End: off, Total: k.Size}, Flag: msrp.FlagAbort})
				break
			}
			flag := byte(msrp.FlagMore)
			if off+int64(n) == k.Size {
				flag = msrp.FlagEnd
			}
			if err := s.session.SendMessage(&msrp.Message{MessageID: mid, ContentType: "message/cpim",
				ByteRange: msrp.ByteRange{Start: off + 1, End: off + int64(n), Total: k.Size}, Flag: flag, Body: buf}); err != nil {
				file.Close()
				return
			}
			off += int64(n)
		}
		file.Close()
	}
}

// acceptFile decides whether an m-line is an RFC 5547 push the focus takes, and returns its
// selector; pull offers (recvonly) and malformed selectors are refused.
func acceptFile(m *sdp.Media) (*sdp.FileSelector, string) {
	if m.FileSelector == "" {
		return nil, ""
	}
	if m.Direction != "sendonly" {
		return nil, "file pull (recvonly) is not offered by this focus"
	}
	fs, err := sdp.ParseFileSelector(m.FileSelector)
	if err != nil {
		return nil, "bad file-selector: " + err.Error()
	}
	if m.FileTransferID == "" {
		return nil, "file-transfer-id missing (RFC 5547 §8.1)"
	}
	return &fs, ""
}
