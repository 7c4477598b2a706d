package focus

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/parleychat/parley/xcon"
)

// Members on other nodes. Each node writes its sessions' bindings to the shared store and then
// announces EventRoster; the others read the room's bindings again and show the users of other
// nodes beside their own in the room's roster (Roster: the conference-event NOTIFYs). A node
// keeps them in Room.remote; its own decisions (admission, nicknames, CCMP changes) stay on
// the conference object and the store.

// EventRoster: the bindings of a room changed on the announcing node.
const EventRoster = "roster"

// remoteUsers returns, from a room's bindings, the users whose sessions are on nodes other than
// self, one per user, an endpoint per session, in the order of the bindings.
func remoteUsers(bs []xcon.Binding, self string) []*xcon.User {
	var users []*xcon.User
	byID := map[string]*xcon.User{}
	for _, b := range bs {
		if b.Node == self {
			continue
		}
		key := strings.ToLower(b.UserID)
		u := byID[key]
		if u == nil {
			u = &xcon.User{Entity: b.UserID, DisplayText: b.DisplayText, Nickname: b.Nickname, Roles: []string{"participant"}}
			if b.AOR != "" {
				u.AssociatedAORs = []string{b.AOR}
			}
			byID[key] = u
			users = append(users, u)
		}
		u.Endpoints = append(u.Endpoints, &xcon.Endpoint{Entity: b.ChatID, Nickname: b.Nickname, Status: "connected",
			JoiningMethod: "dialed-in", Media: []xcon.Media{{ID: "1", Type: "message", Label: b.Channel, Status: "sendrecv"}}})
	}
	return users
}

// Roster is Snapshot with the members on other nodes added: who is in the room, wherever.
func (r *Room) Roster() *xcon.Conference {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.conf.Clone()
	for _, u := range r.remote {
		if mine := c.User(u.Entity); mine != nil {
			for _, e := range u.Endpoints {
				mine.Endpoints = append(mine.Endpoints, e.Clone())
			}
			continue
		}
		c.Users = append(c.Users, u.Clone())
	}
	return c
}

// refreshRemote reads a room's bindings again and shows the other nodes' members in its roster.
func (f *Focus) refreshRemote(name string) {
	r := f.Room(name)
	if r == nil || f.relay == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bs, err := f.store.Bindings(ctx, name)
	if err != nil {
		f.log.Warn("members of other nodes not read", "room", name, "err", err)
		return
	}
	users := remoteUsers(bs, f.node)
	r.mu.Lock()
	r.remote = users
	r.mu.Unlock()
	f.changed(name, false)
}

// RefreshRosters reads the members of other nodes for every room (at start-up, once the relay
// is set).
func (f *Focus) RefreshRosters() {
	for _, r := range f.roomList() {
		f.refreshRemote(r.name)
	}
}

// BindingsChanged tells the focus that rooms' bindings changed in the store other than through
// its own sessions (a dead node's were purged): it refreshes their rosters and tells the other
// nodes to.
func (f *Focus) BindingsChanged(rooms []string) {
	for _, name := range rooms {
		f.refreshRemote(name)
		if f.relay != nil {
			f.announce(Event{Kind: EventRoster, Room: name})
		}
	}
}

// EventChanged: a room's conference object changed in the store (a new version).
const EventChanged = "changed"

// reloadRoom reads a room's conference object from the store, written by another node, and
// makes it this node's, with this node's members in it as they are; an object no newer than
// the one this node last stored or read is left.
func (f *Focus) reloadRoom(name string) {
	r := f.Room(name)
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stored, err := f.store.Conference(ctx, name)
	if err != nil {
		f.log.Warn("room changed on another node not read", "room", name, "err", err)
		return
	}
	r.mu.Lock()
	if stored.Version <= r.storedVersion {
		r.mu.Unlock()
		return
	}
	r.storedVersion = stored.Version
	next := stored.Clone()
	// Every version this node has shown stays behind the one it shows now.
	next.Version = max(stored.Version, r.conf.Version+1)
	provisioned := make(map[string]bool, len(next.Users))
	for _, u := range next.Users {
		provisioned[strings.ToLower(u.Entity)] = true
	}
	for _, u := range r.conf.Users {
		if !r.isLive(u.Entity) {
			continue
		}
		if row := next.User(u.Entity); row != nil {
			for _, e := range u.Endpoints {
				row.Endpoints = append(row.Endpoints, e.Clone())
			}
			if len(row.AssociatedAORs) == 0 {
				row.AssociatedAORs = slices.Clone(u.AssociatedAORs)
			}
			continue
		}
		next.Users = append(next.Users, u.Clone())
	}
	next.Entity = r.conf.Entity
	_, after := f.installLocked(r, next, provisioned)
	r.mu.Unlock()
	after(ctx)
	f.log.Info("room changed on another node", "room", name, "version", stored.Version)
}

// EventCreated and EventDeleted: a room was created in, or deleted from, the store.
const (
	EventCreated = "created"
	EventDeleted = "deleted"
)

// heldElsewhere reports whether another node has members in room (its bindings in the store);
// a room someone is in is not idle. Always false on one node.
func (f *Focus) heldElsewhere(room string) bool {
	if f.relay == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bs, err := f.store.Bindings(ctx, room)
	if err != nil {
		return true // unknown: the room stays
	}
	return slices.ContainsFunc(bs, func(b xcon.Binding) bool { return b.Node != f.node })
}

// adoptRoom makes a room another node created dialable here: its stored object and history.
func (f *Focus) adoptRoom(name string) {
	if f.Room(name) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conf, err := f.store.Conference(ctx, name)
	if err != nil {
		f.log.Warn("room created on another node not read", "room", name, "err", err)
		return
	}
	r := newRoom(f, name, conf)
	if err := r.loadHistory(ctx, f.store); err != nil {
		f.log.Warn("history of a room created on another node not read", "room", name, "err", err)
	}
	r.mu.Lock()
	r.idleLocked()
	r.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopping || f.rooms[name] != nil {
		return
	}
	f.rooms[name] = r
	f.log.Info("room created on another node", "room", name)
}

// dropRoom removes a room another node deleted: its members here are told and leave.
func (f *Focus) dropRoom(name string) {
	r := f.takeRoom(name)
	if r == nil {
		return
	}
	f.gone(name)
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	f.evacuate(ctx, r, "This room has been deleted.")
	if f.files != nil {
		f.files.deleteRoom(name)
	}
	f.log.Info("room deleted on another node", "room", name)
}
