package focus

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/xcon"
)

// Relay carries a room's messages between the nodes that serve it (several Parley processes
// sharing one store). Every node, this one included, is handed each published envelope through
// Focus.Deliver, in one order per room: the order every member of the room sees, whichever
// node it is on.
type Relay interface {
	// Publish hands env, a room's message (EncodeEnvelope), to the relay; done is called once,
	// in the order of the calls, with nil when the relay has it (it will reach every node) or
	// the reason it will not.
	Publish(room string, env []byte, done func(error))
	// MaxEnvelope is the largest envelope Publish takes.
	MaxEnvelope() int
	// Announce tells every node (this one too) of a change in room, an encoded Event; each
	// hands it to Focus.HandleEvent. Best effort: a node that misses it keeps what it had.
	Announce(room string, event []byte) error
}

// Event is a change made on one node that the others act on.
type Event struct {
	Node   string `json:"node"` // where it was made; that node has acted already
	Kind   string `json:"kind"` // EventKick
	Room   string `json:"room"`
	UserID string `json:"user,omitempty"`
}

// EventKick: the user's participants leave the room, told so, with a BYE.
const EventKick = "kick"

// announce sends e to the other nodes; a failure is logged, not returned: the change stands
// on this node and in the store.
func (f *Focus) announce(e Event) {
	e.Node = f.node
	b, err := json.Marshal(e)
	if err == nil {
		err = f.relay.Announce(e.Room, b)
	}
	if err != nil {
		f.log.Error("change not announced to the other nodes", "room", e.Room, "kind", e.Kind, "err", err)
		f.metrics.relayFailures.Inc()
	}
}

// HandleEvent acts on a change another node announced. It runs on the relay's goroutine.
func (f *Focus) HandleEvent(b []byte) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		f.log.Error("announced change dropped", "err", err)
		f.metrics.relayFailures.Inc()
		return
	}
	if e.Node == f.node {
		return
	}
	switch e.Kind {
	case EventCreated:
		f.adoptRoom(e.Room)
		return
	case EventDeleted:
		f.dropRoom(e.Room)
		return
	}
	r := f.Room(e.Room)
	if r == nil {
		return
	}
	switch e.Kind {
	case EventRoster:
		f.refreshRemote(e.Room)
	case EventChanged:
		f.reloadRoom(e.Room)
	case EventKick:
		for _, p := range r.Participants() {
			if strings.EqualFold(p.userID, e.UserID) {
				f.log.Info("participant removed by a moderator on another node", "room", e.Room, "user", e.UserID, "node", e.Node)
				f.remove(context.Background(), p, "You were removed from the room by a moderator.")
			}
		}
	default:
		f.log.Warn("announced change of an unknown kind ignored", "kind", e.Kind, "node", e.Node)
	}
}

// BoundElsewhere reports whether userID has a session in room on another node (its binding in
// the shared store names that node). Always false on one node.
func (f *Focus) BoundElsewhere(ctx context.Context, room, userID string) bool {
	if f.relay == nil {
		return false
	}
	bs, err := f.store.Bindings(ctx, room)
	if err != nil {
		f.log.Warn("bindings of other nodes not read", "room", room, "err", err)
		return false
	}
	return slices.ContainsFunc(bs, func(b xcon.Binding) bool {
		return b.Node != f.node && strings.EqualFold(b.UserID, userID)
	})
}

// SetRelay makes the focus relay room messages through r, as Config.Node, and check nicknames
// with the other nodes' (through the store). Set before the first message.
func (f *Focus) SetRelay(r Relay) {
	f.relay = r
	f.nicknames.setShared(f.store) // a nickname is unique across the nodes too
	f.bindings.onSaved(func(rooms []string) {
		for _, room := range rooms {
			f.announce(Event{Kind: EventRoster, Room: room})
		}
	})
}

// Envelope is a room message between nodes: what each node needs to hand it to its own
// members as the origin node would have.
type Envelope struct {
	Node       string // the node whose member sent it
	Serial     uint64 // the origin node's number for it: finds the sender there
	Room       string
	Channel    string
	SenderID   string // XCON-USERID
	SenderNick string
	Inner      string // the media type inside message/cpim
	Target     string // XCON-USERID of the recipient of a private message; "" for the room
	Logged     bool   // the room logs it: it belongs to the room's history
	Time       time.Time
	Body       []byte // the CPIM message, as the sender wrote it
}

const envelopeVersion = 1

// ErrEnvelope is returned by DecodeEnvelope for bytes that are not an envelope.
var ErrEnvelope = errors.New("focus: malformed relay envelope")

// EncodeEnvelope writes e as: a version byte, the serial (uvarint), the time (varint, Unix ns),
// a flags byte (1: logged), then node, room, channel, sender id, nickname, inner type, target
// and body, each a uvarint length and its bytes.
func EncodeEnvelope(e *Envelope) []byte {
	n := 1 + 3*binary.MaxVarintLen64 + 8*binary.MaxVarintLen64 + len(e.Node) + len(e.Room) + len(e.Channel) +
		len(e.SenderID) + len(e.SenderNick) + len(e.Inner) + len(e.Target) + len(e.Body)
	b := make([]byte, 0, n)
	b = append(b, envelopeVersion)
	b = binary.AppendUvarint(b, e.Serial)
	b = binary.AppendVarint(b, e.Time.UnixNano())
	flags := byte(0)
	if e.Logged {
		flags = 1
	}
	b = append(b, flags)
	for _, s := range [...]string{e.Node, e.Room, e.Channel, e.SenderID, e.SenderNick, e.Inner, e.Target} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Body)))
	return append(b, e.Body...)
}

// DecodeEnvelope reads what EncodeEnvelope wrote. Body aliases b.
func DecodeEnvelope(b []byte) (*Envelope, error) {
	if len(b) < 1 || b[0] != envelopeVersion {
		return nil, ErrEnvelope
	}
	b = b[1:]
	e := &Envelope{}
	var n int
	if e.Serial, n = binary.Uvarint(b); n <= 0 {
		return nil, ErrEnvelope
	}
	b = b[n:]
	at, n := binary.Varint(b)
	if n <= 0 || len(b) < n+1 {
		return nil, ErrEnvelope
	}
	e.Time = time.Unix(0, at)
	flags := b[n]
	if flags&^1 != 0 {
		return nil, ErrEnvelope
	}
	e.Logged = flags == 1
	b = b[n+1:]
	var fields [8][]byte
	for i := range fields {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, ErrEnvelope
		}
		fields[i], b = b[n:n+int(l)], b[n+int(l):]
	}
	if len(b) != 0 {
		return nil, ErrEnvelope
	}
	e.Node, e.Room, e.Channel = string(fields[0]), string(fields[1]), string(fields[2])
	e.SenderID, e.SenderNick, e.Inner = string(fields[3]), string(fields[4]), string(fields[5])
	e.Target, e.Body = string(fields[6]), fields[7]
	return e, nil
}

// relayPending remembers, on the origin node, which stream sent each message it published, so
// that its delivery here skips the sender.
type relayPending struct {
	mu      sync.Mutex
	next    uint64
	streams map[uint64]*Stream
}

// pendingLimit bounds what is remembered: a message more than pendingLimit publishes old that
// was never delivered here (the relay lost it) is forgotten, so the map never holds more. Its
// sender would then get its own copy, were it delivered after all.
const pendingLimit = 1 << 18

func (p *relayPending) add(s *Stream) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	if p.next > pendingLimit {
		delete(p.streams, p.next-pendingLimit) // serials are consecutive: one in, one out
	}
	p.streams[p.next] = s
	return p.next
}

func (p *relayPending) take(serial uint64) *Stream {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.streams[serial]
	delete(p.streams, serial)
	return s
}

// relaySend hands a checked message of a room to the relay, for the room or, private, for the
// user target (an XCON-USERID) on whichever node it is; its 200 waits for the relay and, in a
// logged room, for the log.
func (f *Focus) relaySend(st *Stream, room *Room, inner, target string, body []byte) error {
	room.mu.Lock()
	logged := room.loggable(inner) && room.policy.Logging
	nick := st.nickname
	room.mu.Unlock()
	e := &Envelope{Node: f.node, Room: room.name, Channel: st.channel, SenderID: st.participant.userID,
		SenderNick: nick, Inner: inner, Target: target, Logged: logged, Time: time.Now(), Body: body}
	e.Serial = f.relayed.add(st)
	env := EncodeEnvelope(e)
	if len(env) > f.relay.MaxEnvelope() {
		f.relayed.take(e.Serial)
		return &msrp.StatusError{Code: msrp.StatusTooLarge, Comment: "Message larger than the cluster carries"}
	}
	answer := msrp.Defer()
	f.relay.Publish(room.name, env, func(err error) {
		if err != nil {
			f.relayed.take(e.Serial)
			f.log.Error("message not relayed to the other nodes", "room", room.name, "err", err)
			f.metrics.relayFailures.Inc()
			answer.Settle(&msrp.StatusError{Code: 500, Comment: "Message not relayed"})
			return
		}
		if !logged {
			answer.Settle(nil)
			return
		}
		// Logged once relayed, as on one node: a message is in the log only if the room got it.
		entry := xcon.LogEntry{Room: room.name, Channel: st.channel, Time: e.Time, SenderID: e.SenderID,
			SenderNick: e.SenderNick, Recipient: target, ContentType: "message/cpim", Body: body}
		f.logThenSettle(entry, answer)
	})
	return answer
}

// Deliver hands a relayed room message to this node's members of its room, in the order the
// relay delivers them (the room's one order). It runs on the relay's delivery goroutine.
func (f *Focus) Deliver(env []byte) {
	e, err := DecodeEnvelope(env)
	if err != nil {
		f.log.Error("relayed message dropped", "err", err)
		f.metrics.relayFailures.Inc()
		return
	}
	var from *Stream
	if e.Node == f.node {
		from = f.relayed.take(e.Serial)
	}
	room := f.Room(e.Room)
	if room == nil {
		return // no member of it here
	}
	var target *Participant
	if e.Target != "" {
		if target = room.participantByURI(e.Target); target == nil {
			return // a private message for a member on another node
		}
	}
	streams := room.admitRelayed(e)
	f.metrics.relayed.Inc()
	if _, refused := f.distribute(streams, from, e.Channel, target, e.Inner, e.Body, nil, false); refused {
		f.log.Info("private message from another node not delivered: the recipient takes none", "room", e.Room,
			"recipient", e.Target, "node", e.Node)
	}
}

// remoteRecipient is the XCON-USERID that uri (a CPIM To: a SIP URI or an XCON-USERID) names
// when that user is in room on another node; "" otherwise.
func (f *Focus) remoteRecipient(room *Room, uri string) string {
	if f.relay == nil {
		return ""
	}
	id := strings.TrimSpace(strings.Trim(uri, "<>"))
	if !strings.HasPrefix(strings.ToLower(id), "xcon-userid:") {
		u, ok := parseSIPURI(id)
		if !ok {
			return ""
		}
		id = xcon.UserIDFromAOR(u.AOR())
	}
	if !f.BoundElsewhere(context.Background(), room.name, id) {
		return ""
	}
	return id
}

// admitRelayed is admit for a relayed message: the streams it goes to, and the history tail,
// in one step, so that a joiner on this node sees it exactly once.
func (r *Room) admitRelayed(e *Envelope) []*Stream {
	if !e.Logged {
		return *r.streams.Load()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.policy.History > 0 {
		r.recent.add(xcon.LogEntry{Room: r.name, Channel: e.Channel, Time: e.Time, SenderID: e.SenderID,
			SenderNick: e.SenderNick, Recipient: e.Target, ContentType: "message/cpim", Body: e.Body})
	}
	return *r.streams.Load()
}
