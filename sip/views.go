package sip

import (
	"bytes"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/confinfo"
)

// A room's subscribers share what their NOTIFYs say: the view of the room (confinfo.View) is
// built once per change, from one snapshot of the conference object, and each document made
// of it (the full state, the partial one from a view sent before) is encoded once, with a
// placeholder where the root's version goes; each subscription puts in its own version
// (RFC 4575 §5.2: versions count per subscription).

// roomViews is the shared state of one room's subscriptions: how many changes the focus
// reported, and the view of the latest one built.
type roomViews struct {
	gen atomic.Uint64 // bumped by RoomChanged; read before a snapshot, so a later change rebuilds

	mu  sync.Mutex // held while building, so that one build serves every subscriber
	cur *roomView
}

// roomView is one version of a room as its subscribers see it; read-only once built, but for
// the documents it encodes on demand.
type roomView struct {
	id    uint64      // unique among views: the key of the partial documents that start from it
	gen   uint64      // the change count it was built at
	room  *focus.Room // nil: the room is gone
	view  *xcon.Conference
	moved bool // the room was closed with a successor

	mu       sync.Mutex
	full     *docBody
	deleted  *docBody
	partials map[uint64]*docBody // from the view of that id; a nil body: nothing visible changed
}

// docBody is an encoded conference-info document less its version: before + version + after.
type docBody struct {
	state         string // the document's notification state (full, partial, deleted)
	before, after []byte
}

// versionMark is the version the shared documents are encoded with; encoded, it is the first
// version attribute of the document, the root's.
const versionMark = 1<<32 - 1

var versionAttr = []byte(` version="` + strconv.FormatUint(versionMark, 10) + `"`)

// at returns the document with the given version.
func (b *docBody) at(version uint32) []byte {
	v := strconv.FormatUint(uint64(version), 10)
	out := make([]byte, 0, len(b.before)+len(v)+len(b.after))
	out = append(append(append(out, b.before...), v...), b.after...)
	return out
}

var viewIDs atomic.Uint64

var errNoVersion = errors.New("sip: conference-info document without a version")

// view returns the current view of a room, building it when the room changed since the last
// one (or is another room of the same name).
func (ev *events) view(room string) *roomView {
	ev.mu.Lock()
	rv := ev.views[room]
	ev.mu.Unlock()
	if rv == nil {
		rv = &roomViews{} // the subscription is on its way out: nothing to share with
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	gen := rv.gen.Load()
	r := ev.s.focus.Room(room)
	if v := rv.cur; v != nil && v.gen == gen && v.room == r {
		return v
	}
	v := &roomView{id: viewIDs.Add(1), gen: gen, room: r}
	if r != nil {
		ev.built.Add(1)
		v.view = confinfo.View(r.Roster(), ev.s.focus.RoomURI(room), confinfo.Options{AnonymityKey: ev.anonym})
		v.moved = r.Successor() != ""
	}
	rv.cur = v
	return v
}

// changedView marks a room's view out of date.
func (ev *events) changedView(room string) {
	ev.mu.Lock()
	rv := ev.views[room]
	ev.mu.Unlock()
	if rv != nil {
		rv.gen.Add(1)
	}
}

// fullBody is the full-state document of the view (entity the room's URI).
func (v *roomView) fullBody(ev *events) (*docBody, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.full == nil {
		b, err := ev.encode(confinfo.Full(v.view, versionMark))
		if err != nil {
			return nil, err
		}
		v.full = b
	}
	return v.full, nil
}

// deletedBody is the document telling that the room is gone.
func (v *roomView) deletedBody(ev *events, entity string) (*docBody, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.deleted == nil {
		b, err := ev.encode(confinfo.Deleted(entity, versionMark))
		if err != nil {
			return nil, err
		}
		v.deleted = b
	}
	return v.deleted, nil
}

// partialBody is the partial document from view prev to this one; nil when nothing a
// subscriber sees changed.
func (v *roomView) partialBody(ev *events, prev *roomView) (*docBody, error) {
	if prev == v {
		return nil, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if b, ok := v.partials[prev.id]; ok {
		return b, nil
	}
	var b *docBody
	if doc := confinfo.Partial(prev.view, v.view, versionMark); doc != nil {
		var err error
		if b, err = ev.encode(doc); err != nil {
			return nil, err
		}
	}
	if v.partials == nil {
		v.partials = map[uint64]*docBody{}
	}
	v.partials[prev.id] = b
	return b, nil
}

// encode encodes a document made with versionMark and cuts it where the version goes.
func (ev *events) encode(doc *xcon.Conference) (*docBody, error) {
	ev.rendered.Add(1)
	body, err := confinfo.Marshal(doc)
	if err != nil {
		return nil, err
	}
	i := bytes.Index(body, versionAttr)
	if i < 0 {
		return nil, errNoVersion
	}
	cut := i + len(` version="`)
	return &docBody{state: doc.NotifyState, before: body[:cut], after: body[cut+len(versionAttr)-len(` version="`)-1:]}, nil
}
