package focus

import (
	"context"
	"strings"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
	"github.com/parleychat/parley/xcon"
)

// Identity is who the signalling layer established the participant to be, and what the room
// shows of it.
type Identity struct {
	AOR         string // the URI the room shows: the participant's, or an anonymous one (RFC 3323)
	DisplayName string
	// Authenticated is the participant's own URI (Digest user, P-Asserted-Identity from a
	// trusted proxy, or From) when AOR hides it; "" when AOR is that URI. Admission decides on
	// it, so that anonymity changes what others see and nothing else; it never shows in the room.
	Authenticated string
	// Password is the conference password the caller gave (RFC 6501 conference-password), ""
	// for none.
	Password string
	// Verified: Proven comes from credentials (Digest) or a trusted proxy (P-Asserted-Identity),
	// not from the caller's own From header. Privileges (creating rooms) need it.
	Verified bool
	// Local: the embedded default's operator, a caller on this host while SIP authentication is
	// off; like an unauthenticated CCMP request from loopback, an administrator.
	Local bool
}

// Proven returns the identity admission decides on: Authenticated, or AOR when nothing is hidden.
func (i Identity) Proven() string {
	if i.Authenticated != "" {
		return i.Authenticated
	}
	return i.AOR
}

// JoinRequest is an INVITE to a room, reduced to what the runtime needs.
type JoinRequest struct {
	Room     string
	Identity Identity
	Offer    *sdp.Session
	Dialog   any // the signalling side's handle for this participant (Participant.Dialog)
	// FileTo names the one participant (SIP AOR or XCON-USERID) a file pushed in this INVITE is
	// for; "" delivers it to the room.
	FileTo string
}

// Join admits a participant: every acceptable MSRP m-line gets an MSRP session and a row of the
// conference object; the returned answers hold one entry per offered m-line, in order, for
// sdp.BuildAnswer. The participant is in the room when Join returns; call Leave if the dialog
// does not come up (CANCEL, no ACK).
func (f *Focus) Join(ctx context.Context, req JoinRequest) (*Participant, []sdp.MediaAnswer, error) {
	return f.join(ctx, req, nil)
}

// join is Join; offered, when not nil, is the focus's own earlier offer that req.Offer answers.
func (f *Focus) join(ctx context.Context, req JoinRequest, offered *Offer) (*Participant, []sdp.MediaAnswer, error) {
	if f.shuttingDown() {
		return nil, nil, ErrShuttingDown
	}
	room := f.Room(req.Room)
	if room == nil {
		return nil, nil, ErrRoomNotFound
	}
	p, answers, err := f.prepare(room, req, offered)
	if err != nil {
		return nil, nil, err
	}
	if err := f.enter(p); err != nil {
		return nil, nil, err
	}
	return p, answers, nil
}

// prepare builds the participant req describes for room (newParticipant) and answers its
// m-lines; it changes nothing in the room. ErrNotAcceptable when no line is acceptable.
func (f *Focus) prepare(room *Room, req JoinRequest, offered *Offer) (*Participant, []sdp.MediaAnswer, error) {
	p, err := f.newParticipant(room, req.Identity, req.Dialog)
	if err != nil {
		return nil, nil, err
	}

	answers := make([]sdp.MediaAnswer, len(req.Offer.Media))
	p.lines = make([]*Stream, len(req.Offer.Media))
	labels := map[string]bool{}
	for i := range req.Offer.Media {
		var sess *msrp.Session
		if offered != nil && i == 0 {
			sess = offered.session
		}
		s, answer := f.acceptLine(p, i, &req.Offer.Media[i], labels, req.FileTo, sess)
		answers[i] = answer
		if s != nil {
			p.lines[i] = s
			p.streams = append(p.streams, s)
		}
	}
	if len(p.streams) == 0 {
		return nil, nil, ErrNotAcceptable
	}
	return p, answers, nil
}

// enter adds a prepared participant to its room, or closes its sessions when the room
// refuses it.
func (f *Focus) enter(p *Participant) error {
	room := p.room
	if err := room.add(p); err != nil {
		err = f.redirect(err, p.provenID, p.proven, p.admin)
		p.closeStreams()
		f.log.Info("join refused", "room", room.name, "user", p.userID, "reason", err)
		return err
	}
	f.log.Info("participant joined", "room", room.name, "user", p.userID, "streams", len(p.streams))
	f.retirePage(p)
	for _, s := range p.streams {
		if s.dialsOut {
			go f.connectOut(s)
		}
	}
	return nil
}

// closeStreams closes the MSRP sessions of a participant that never entered its room.
func (p *Participant) closeStreams() {
	for _, s := range p.streams {
		s.session.Close(msrp.Local)
	}
}

// newParticipant is a participant of room with identity, not in the room yet: ErrForbidden when
// either of its URIs is not one.
func (f *Focus) newParticipant(room *Room, identity Identity, dialog any) (*Participant, error) {
	aor, ok := parseSIPURI(identity.AOR)
	if !ok {
		return nil, ErrForbidden
	}
	proven, ok := parseSIPURI(identity.Proven())
	if !ok {
		return nil, ErrForbidden
	}
	return &Participant{room: room, userID: xcon.UserIDFromAOR(aor.AOR()), aor: aor, displayName: identity.DisplayName,
		provenID: xcon.UserIDFromAOR(proven.AOR()), proven: proven, password: identity.Password,
		admin: f.isAdministrator(CreatorOf(identity)), verified: identity.Verified,
		dialog: dialog, sendRate: newTokenBucket(f.live.Load().MessageRate, f.live.Load().MessageBurst)}, nil
}

// acceptLine answers one offered m-line (index i) for p: a new stream, or a refusal (nil and
// a port-0 answer). labels holds the chat labels already taken by p's other lines. sess, when
// not nil, is the MSRP session our own earlier offer advertised for this line.
func (f *Focus) acceptLine(p *Participant, i int, m *sdp.Media, labels map[string]bool, fileTo string, sess *msrp.Session) (*Stream, sdp.MediaAnswer) {
	room := p.room
	file, fileRefusal := acceptFile(m)
	reason := fileRefusal
	if reason == "" {
		reason = f.refuse(m, labels, file != nil)
	}
	if reason != "" {
		f.log.Debug("m-line refused", "room", room.name, "index", i, "type", m.Type, "proto", m.Proto, "reason", reason)
		return nil, sdp.MediaAnswer{Reject: true}
	}
	path, _ := msrp.ParsePath(strings.Join(m.Path, " ")) // checked by refuse
	if m.Label != "" && file == nil {
		labels[m.Label] = true
	}
	s := &Stream{participant: p, chatID: newChatID(), label: strings.Clone(m.Label), channel: room.channelFor(m.Label), offer: keptOffer(m, file != nil),
		composing: newTokenBucket(isComposingRate, isComposingBurst), file: file, fileTarget: fileTo}
	tls := m.Proto == "TCP/TLS/MSRP"
	ws, wss := f.webSocketLine(m, path)
	if ws {
		tls = false // the browser's TLS is the HTTP listener's, with no a=fingerprint (RFC 7977 §5.2)
	}
	var h msrp.SessionHandler = f
	if file != nil {
		h = fileSessions{f} // streamed chunk by chunk
	}
	switch {
	case sess != nil:
		s.session = sess
	case ws:
		s.session = f.endpoint.NewWSSession(h, wss)
	case tls:
		if file != nil {
			s.session = f.endpoint.NewTLSSession(fileSessions{f})
		} else {
			s.session = f.endpoint.NewTLSSession(f)
		}
		s.session.SetPeerFingerprint(m.Fingerprint) // RFC 8122: checked against the peer's certificate
	case file != nil:
		s.session = f.endpoint.NewSession(fileSessions{f}) // streamed chunk by chunk
	default:
		s.session = f.endpoint.NewSession(f)
	}
	s.session.SetRemotePath(path)
	s.session.SetUserData(s)
	s.session.SetMaxSize(room.maxMessageSize())
	// RFC 6135: we are passive (the client connects), also when the offer has no a=setup;
	// a client that can only be passive is connected to.
	setup := "passive"
	if m.Setup == "passive" && !ws { // a browser cannot accept connections (RFC 7977 §5.1)
		setup, s.dialsOut = "active", true
	}
	answer := sdp.MediaAnswer{
		Port:               s.session.LocalURI().Port,
		Proto:              m.Proto,
		Path:               []string{s.session.LocalURI().String()},
		AcceptTypes:        []string{"message/cpim"}, // exactly this (RFC 7701 §5.2)
		AcceptWrappedTypes: room.wrappedTypes(),
		MaxSize:            room.maxMessageSize(),
		Label:              m.Label,
		Setup:              setup,
		Chatroom:           &sdp.Chatroom{Nickname: true, PrivateMessages: true},
	}
	if tls {
		answer.Fingerprint = *f.tlsFP.Load()
	}
	if file != nil {
		// RFC 5547 §8.3.1: the receiver copies the selector and the transfer id, and says
		// recvonly; the session takes the file's type, not CPIM, and is no chat channel.
		t := mediaType(file.Type)
		if t == "" {
			t = "*"
		}
		answer.AcceptTypes, answer.AcceptWrappedTypes, answer.Chatroom = []string{t}, nil, nil
		answer.Direction, answer.FileSelector, answer.FileTransferID = "recvonly", m.FileSelector, m.FileTransferID
		answer.MaxSize = f.maxFileSize()
		s.session.SetStreamLimit(f.maxFileSize())
	}
	s.answer = answer
	return s, answer
}

// refuse says why an offered m-line gets port 0, or "" when it is accepted.
func (f *Focus) refuse(m *sdp.Media, labels map[string]bool, file bool) string {
	switch {
	case m.Port == 0:
		return "already refused by the offerer"
	case !m.IsMSRP():
		return "not MSRP"
	case m.Proto != "TCP/MSRP" && m.Proto != "TCP/TLS/MSRP" && !isWebSocketProto(m.Proto):
		return "transport not offered by this focus"
	case !file && !m.Accepts("message/cpim"):
		return "accept-types lack message/cpim" // RFC 7701 §5.2
	case !file && m.Label != "" && labels[m.Label]:
		return "second m-line with the same label"
	}
	if len(m.Path) == 0 {
		return "no a=path"
	}
	path, err := msrp.ParsePath(strings.Join(m.Path, " "))
	if err != nil {
		return "bad a=path: " + err.Error()
	}
	if ws, _ := f.webSocketLine(m, path); ws {
		if cfg := f.endpoint.Config(); cfg.AdvertisedWSPort == 0 && cfg.AdvertisedWSSPort == 0 {
			return "WebSocket not configured on this focus"
		}
	} else if m.Proto == "TCP/TLS/MSRP" && *f.tlsFP.Load() == "" {
		return "TLS not configured on this focus"
	}
	return ""
}

func isWebSocketProto(proto string) bool { return proto == "TCP/WS/MSRP" || proto == "TCP/WSS/MSRP" }

// webSocketLine says whether an offered line is a client reaching us over WebSocket (RFC 7977): its
// proto is TCP/WS/MSRP or TCP/WSS/MSRP, or the hop that connects to us has the ws transport. secure
// picks the msrps URI on the WSS port: asked for (TCP/WSS/MSRP, an msrps hop) and served; a page loaded
// over plain http gets the ws port even when it says WSS.
func (f *Focus) webSocketLine(m *sdp.Media, path []msrp.URI) (ws, secure bool) {
	ws = isWebSocketProto(m.Proto) || len(path) > 0 && strings.EqualFold(path[0].Transport, "ws")
	if !ws {
		return false, false
	}
	cfg := f.endpoint.Config()
	want := m.Proto == "TCP/WSS/MSRP" || len(path) > 0 && path[0].Secure
	return true, want && cfg.AdvertisedWSSPort != 0 || cfg.AdvertisedWSPort == 0
}

// channelFor picks the chat channel an offered label joins: the available-media entry of type
// message with that label, else the room's first message channel.
func (r *Room) channelFor(label string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := ""
	for _, ch := range r.conf.Description.Media {
		if ch.Type != "message" && ch.Type != "text" {
			continue
		}
		if ch.Label == label {
			return label
		}
		if first == "" {
			first = ch.Label
		}
	}
	return first
}

// Leave removes a participant after its BYE (or a failed dialog set-up). Idempotent.
func (f *Focus) Leave(p *Participant) {
	if p.room.leave(p, msrp.Local) {
		f.log.Info("participant left", "room", p.room.name, "user", p.userID)
	}
}

// An is-composing notification is state refreshed every few seconds at most (RFC 3994 §3.2);
// more than this from one stream is answered and dropped.
const (
	isComposingRate  = 0.5 // per second
	isComposingBurst = 4
)

// newChatID returns a fresh chat-ID: random base62, unrelated to the MSRP session-id, which is
// the session's only secret and must never be published.
func newChatID() string { return msrp.NewMessageID() }

// connectOut opens the connection to a participant whose offer said a=setup:passive and binds
// the session with a bodiless SEND (RFC 6135 §4, RFC 4975 §5.4); failing that, the participant
// is dropped like one whose connection failed.
func (f *Focus) connectOut(s *Stream) {
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	if err := s.session.Connect(ctx); err != nil {
		f.log.Info("connection to a passive participant failed", "room", s.participant.room.name,
			"user", s.participant.userID, "err", err)
		s.session.Close(msrp.ReadError)
	}
}

// connectTimeout bounds connecting out to a participant that offered a=setup:passive.
const connectTimeout = 10 * time.Second
