package focus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parleychat/parley/xcon"
)

// Limits are the settings of a running focus that a reload may change. A new value applies to
// the next join (MessageRate, MessageBurst: a participant keeps the rate he joined with) and to
// the next message (MaxMessageSize, WrappedTypes); they are read without a lock.
type Limits struct {
	MaxMessageSize int64    // Config.MaxMessageSize
	WrappedTypes   []string // Config.WrappedTypes
	MessageRate    float64  // Config.MessageRate
	MessageBurst   int      // Config.MessageBurst
}

func limitsOf(cfg Config) *Limits {
	return &Limits{MaxMessageSize: cfg.MaxMessageSize, WrappedTypes: slices.Clone(cfg.WrappedTypes),
		MessageRate: cfg.MessageRate, MessageBurst: cfg.MessageBurst}
}

// SetLimits replaces the live limits.
func (f *Focus) SetLimits(l Limits) {
	l.WrappedTypes = slices.Clone(l.WrappedTypes)
	f.live.Store(&l)
}

// SetTLSFingerprint replaces the fingerprint of the MSRP certificate that answers advertise
// (a=fingerprint), when the certificate was replaced.
func (f *Focus) SetTLSFingerprint(fp string) { f.tlsFP.Store(&fp) }

// TLSFingerprint returns the fingerprint SDP answers give for TCP/TLS/MSRP now.
func (f *Focus) TLSFingerprint() string { return *f.tlsFP.Load() }

// Limits returns the live limits.
func (f *Focus) Limits() Limits { return *f.live.Load() }

// AddRooms creates the rooms of specs that this focus does not have yet, as New does for the
// rooms of the configuration, and returns the names of those it created. A room that exists
// is left as it is: its settings live in its conference object (CCMP changes them).
func (f *Focus) AddRooms(ctx context.Context, specs []RoomSpec) ([]string, error) {
	var added []string
	var errs []error
	for _, spec := range specs {
		if f.Room(spec.Name) != nil {
			continue
		}
		r := newRoom(f, spec.Name, newConference(spec, f.cfg.Domain))
		switch err := f.registerRoom(ctx, r); {
		case err == nil:
			added = append(added, spec.Name)
			f.log.Info("room created", "room", spec.Name)
		case errors.Is(err, ErrRoomExists):
		default:
			errs = append(errs, fmt.Errorf("create room %s: %w", spec.Name, err))
		}
	}
	return added, errors.Join(errs...)
}

// Announce sends text as a notice from each room (a CPIM message whose From is the room URI)
// to every participant present in it, on each of their chat streams, and returns how many
// participants it reached.
func (f *Focus) Announce(text string) int {
	n := 0
	for _, r := range f.roomList() {
		n += r.announce(text)
	}
	return n
}

// announce sends text as a notice from the room to every participant present, on each of
// their chat streams, and returns how many it reached.
func (r *Room) announce(text string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.participants {
		for _, s := range p.chatStreams() {
			_ = s.send("message/cpim", r.notice(p.aor.AOR(), text)) // a page-mode member's by MESSAGE
		}
	}
	return len(r.participants)
}

// Present returns the number of participants in all rooms.
func (f *Focus) Present() int {
	n := 0
	for _, r := range f.roomList() {
		r.mu.Lock()
		n += len(r.participants)
		r.mu.Unlock()
	}
	return n
}

// roomList is a snapshot of the rooms, to visit without holding the focus's lock.
func (f *Focus) roomList() []*Room {
	f.mu.RLock()
	defer f.mu.RUnlock()
	rooms := make([]*Room, 0, len(f.rooms))
	for _, r := range f.rooms {
		rooms = append(rooms, r)
	}
	return rooms
}

// RoomSettings are settings of a room that its entry in the configuration gives; nil fields
// stay as they are.
type RoomSettings struct {
	DisplayText, Subject            *string
	Logging, Moderated              *bool
	History, MaxUsers, KeepMessages *int // MaxUsers 0 removes the limit
	KeepFor                         *time.Duration
}

// ReconfigureRoom applies settings to an open room as a CCMP update does (UpdateRoom: a new
// version, NOTIFYs to the watchers, the notice of a logging change, visitors voiced when the
// room stops being moderated) and returns the new object.
func (f *Focus) ReconfigureRoom(ctx context.Context, name string, s RoomSettings) (*xcon.Conference, error) {
	if r := f.Room(name); r == nil || r.Successor() != "" {
		return nil, ErrRoomNotFound
	}
	return f.UpdateRoom(ctx, name, func(c *xcon.Conference) error {
		if s.DisplayText != nil {
			c.Description.DisplayText = *s.DisplayText
		}
		if s.Subject != nil {
			c.Description.Subject = *s.Subject
		}
		if s.MaxUsers != nil {
			c.Description.MaximumUserCount = nil
			if *s.MaxUsers > 0 {
				n := uint32(*s.MaxUsers)
				c.Description.MaximumUserCount = &n
			}
		}
		p, _ := c.RoomPolicy()
		if s.Logging != nil {
			p.Logging = *s.Logging
		}
		if s.Moderated != nil {
			p.Moderated = *s.Moderated
		}
		if s.History != nil {
			p.History = *s.History
		}
		if s.KeepFor != nil {
			p.KeepFor = *s.KeepFor
		}
		if s.KeepMessages != nil {
			p.KeepMessages = *s.KeepMessages
		}
		c.SetRoomPolicy(p)
		return nil
	})
}
