package focus

import (
	"mime"
	"strconv"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/cpim"
	"github.com/parleychat/parley/sdp"
)

// Files pushed to a room (seed §5.5, RFC 5547). A participant sends a file to the room URI on
// an m=message line with a=file-selector and sendonly; the focus answers recvonly, takes the
// file as one MSRP message on that session (not a chat channel: no binding row), wraps it in a
// new CPIM envelope from the sender with the file's name, size and date in Content-Disposition,
// and delivers it to the room's first channel — or to the one participant the INVITE's Subject
// names — and keeps it for later joiners within the room's file quota.

// DefaultFileQuota is how many bytes of files a room keeps for later joiners.
const DefaultFileQuota = 64 << 20

// storedFile is a file kept for later joiners.
type storedFile struct {
	channel  string
	sender   string // XCON-USERID
	target   string // XCON-USERID of the one recipient, "" for the room
	inner    string
	body     []byte // the CPIM message as delivered
	received time.Time
}

// handleFile takes the file of an RFC 5547 push and delivers it.
func (f *Focus) handleFile(st *Stream, m *msrp.Message) error {
	if m.Method != "SEND" || m.ContentType == "" {
		return &msrp.StatusError{Code: 501, Comment: "Only the file may be sent on this session"}
	}
	if st.fileDone {
		// RFC 5547 §8.7: one file per MSRP session.
		return &msrp.StatusError{Code: 403, Comment: "This session already carried its file"}
	}
	room := st.participant.room
	inner := mediaType(m.ContentType)
	if !allowedType(room.wrappedTypes(), inner) {
		return &msrp.StatusError{Code: 415, Comment: "File type not allowed in this room"}
	}
	if int64(len(m.Body)) > room.maxMessageSize() {
		return &msrp.StatusError{Code: 413, Comment: "File larger than this room allows"}
	}
	if why := room.sendRefusal(st.participant); why == refusedObserver {
		return &msrp.StatusError{Code: 403, Comment: "Observers cannot send files in this room"}
	} else if why != "" {
		return &msrp.StatusError{Code: 403, Comment: "Visitors need voice from a moderator to send files in this moderated room"}
	}
	var target *Participant
	to := f.RoomURI(room.name)
	if st.fileTarget != "" {
		if target = room.participantByURI(st.fileTarget); target == nil {
			return &msrp.StatusError{Code: 404, Comment: "Recipient not in the room"}
		}
		to = target.aor.AOR()
	}
	st.fileDone = true
	disposition := mime.FormatMediaType("attachment", map[string]string{
		"filename": st.file.Name, "size": strconv.Itoa(len(m.Body)),
		"modification-date": f.now().UTC().Format(time.RFC1123Z),
	})
	wrapped := (&cpim.Message{
		From:           cpim.Address{URI: st.participant.aor.AOR()},
		To:             []cpim.Address{{URI: to}},
		DateTime:       f.now().UTC().Format(time.RFC3339),
		ContentType:    m.ContentType,
		ContentHeaders: []cpim.Header{{Name: "Content-Disposition", Value: disposition}},
		Body:           m.Body,
	}).Marshal()

	channel := room.channelFor("")
	room.mu.Lock()
	streams := *room.streams.Load()
	room.keepFile(storedFile{channel: channel, sender: st.participant.userID, target: targetID(target), inner: inner,
		body: wrapped, received: f.now()})
	room.mu.Unlock()
	if _, refused := f.distribute(streams, nil, channel, target, inner, wrapped, nil); refused {
		return &msrp.StatusError{Code: 428, Comment: "Private messages not supported"}
	}
	f.log.Info("file delivered to the room", "room", room.name, "user", st.participant.userID, "bytes", len(m.Body))
	return nil
}

func targetID(p *Participant) string {
	if p == nil {
		return ""
	}
	return p.userID
}

// keepFile stores a delivered file for later joiners, dropping the oldest beyond the quota.
// Caller holds mu.
func (r *Room) keepFile(sf storedFile) {
	quota := r.focus.cfg.FileQuota
	if quota <= 0 {
		quota = DefaultFileQuota
	}
	if int64(len(sf.body)) > quota {
		return
	}
	r.files = append(r.files, sf)
	total := int64(0)
	for _, f := range r.files {
		total += int64(len(f.body))
	}
	for total > quota && len(r.files) > 0 {
		total -= int64(len(r.files[0].body))
		r.files = r.files[1:]
	}
}

// filesFor returns the kept files a joiner of channel may see. Caller holds mu.
func (r *Room) filesFor(channel, userID string) []storedFile {
	var out []storedFile
	for _, f := range r.files {
		if f.channel == channel && (f.target == "" || f.target == userID || f.sender == userID) {
			out = append(out, f)
		}
	}
	return out
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
