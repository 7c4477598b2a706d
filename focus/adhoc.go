package focus

import (
	"context"
	"errors"
	"time"

	"github.com/parleychat/parley/sdp"
	"github.com/parleychat/parley/xcon"
)

// Ad-hoc rooms (RFC 4579 §5.1): an INVITE to the conference factory URI creates a room and
// joins its caller to it. The room exists only once its creator is admitted and answered, and
// is removed once it has been empty for Config.AdhocIdle.

// CreatorRoles are the roles recorded for the creator of a room, over CCMP or the conference
// factory: administrator, and organizer (liblinphone's name for the creator).
var CreatorRoles = []string{"administrator", "organizer"}

// NewAdhocName returns a fresh random room name (ten characters) no room has now; the
// signalling side names the room in its answer before the room exists.
func (f *Focus) NewAdhocName() string {
	for {
		name := NewRoomName()
		if f.Room(name) == nil {
			return name
		}
	}
}

// JoinAdhoc creates the ad-hoc room name from spec (its Name is ignored) with req's caller as
// its creator, and joins him to it, in one step: when the caller may not create rooms
// (MayCreateRoom on CreatorOf: ErrCreateForbidden), is not a participant (URIs),
// its offer has no acceptable stream (ErrNotAcceptable), the new room would not admit it (its
// admission rules and conference password, on the proven identity) or the focus is shutting
// down, nothing is created. The creator is a provisioned user with CreatorRoles, under the
// identity the room shows: an anonymous creator (RFC 3323) stays anonymous, his roles go with
// his call's URI. If the dialog then does not come up, call Leave and DiscardAdhoc.
func (f *Focus) JoinAdhoc(ctx context.Context, name string, spec RoomSpec, req JoinRequest) (*Participant, []sdp.MediaAnswer, error) {
	if f.shuttingDown() {
		return nil, nil, ErrShuttingDown
	}
	aor, ok := parseSIPURI(req.Identity.AOR)
	if !ok {
		return nil, nil, ErrForbidden
	}
	if err := f.MayCreateRoom(CreatorOf(req.Identity)); err != nil {
		f.log.Info("ad-hoc room not created: its caller may not create rooms", "user", req.Identity.Proven())
		return nil, nil, err
	}
	spec.Name = name
	spec.Policy.Adhoc = true
	conf := newConference(spec, f.cfg.Domain)
	conf.Users = []*xcon.User{{Entity: xcon.UserIDFromAOR(aor.AOR()), DisplayText: req.Identity.DisplayName,
		AssociatedAORs: []string{aor.AOR()}, Roles: append([]string(nil), CreatorRoles...)}}
	r := newRoom(f, name, conf)
	p, answers, err := f.prepare(r, req, nil)
	if err != nil {
		return nil, nil, err
	}
	// The room's own rules, before it is stored: a refused creator leaves nothing behind.
	r.mu.Lock()
	err = r.admissionLocked(p)
	r.mu.Unlock()
	if err != nil {
		p.closeStreams()
		f.log.Info("ad-hoc room not created: its creator is not admitted", "room", name, "user", p.provenID, "reason", err)
		return nil, nil, err
	}
	if err := f.registerRoom(ctx, r); err != nil {
		p.closeStreams()
		return nil, nil, err
	}
	if err := f.enter(p); err != nil {
		f.DiscardAdhoc(ctx, name)
		return nil, nil, err
	}
	f.log.Info("ad-hoc room created", "room", name, "by", p.provenID)
	return p, answers, nil
}

// registerRoom stores a new room's conference object and makes it dialable.
func (f *Focus) registerRoom(ctx context.Context, r *Room) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopping {
		return ErrShuttingDown
	}
	if f.rooms[r.name] != nil {
		return ErrRoomExists
	}
	if err := f.store.CreateConference(ctx, durable(r.conf, r.provisioned)); err != nil {
		if errors.Is(err, xcon.ErrExists) {
			return ErrRoomExists
		}
		return err
	}
	f.rooms[r.name] = r
	if f.relay != nil {
		go f.announce(Event{Kind: EventCreated, Room: r.name}) // f.mu is held
	}
	return nil
}

// DiscardAdhoc removes an ad-hoc room nobody is in at once: its creator's dialog never came up.
func (f *Focus) DiscardAdhoc(ctx context.Context, name string) {
	r := f.Room(name)
	if r == nil || !r.livePolicy.Load().Adhoc {
		return
	}
	f.removeIdle(ctx, r, -1)
}

// idleLocked records that a room became empty (or, empty, changed) and arms its removal: an
// ad-hoc room's after Config.AdhocIdle, another's after Config.RoomIdle (collectIdle decides
// then whether it may go). Caller holds mu.
func (r *Room) idleLocked() {
	if len(r.participants) > 0 {
		return
	}
	r.idleSince = time.Now()
	f := r.focus
	switch {
	case r.policy.Adhoc && f.cfg.AdhocIdle > 0:
		idle := f.cfg.AdhocIdle
		time.AfterFunc(idle, func() { f.removeIdle(context.Background(), r, idle) })
	case !r.policy.Adhoc && r.policy.Successor == "" && f.cfg.RoomIdle > 0:
		idle := f.cfg.RoomIdle
		time.AfterFunc(idle, func() { f.collectIdle(context.Background(), r, idle) })
	}
}

// removeIdle deletes an ad-hoc room that has had nobody in it for at least idle (a negative
// idle: nobody in it now), unless the focus is shutting down; a room someone joined since, or
// that emptied again later, is left to the timer of its latest emptying.
func (f *Focus) removeIdle(ctx context.Context, r *Room, idle time.Duration) {
	if !f.startRemoval() {
		return
	}
	defer f.removing.Done()
	var archive string
	if idle >= 0 {
		r.mu.Lock()
		due := len(r.participants) == 0 && !r.idleSince.IsZero() && time.Since(r.idleSince) >= idle
		r.mu.Unlock()
		if due && f.heldElsewhere(r.name) {
			return // members on another node: that node's emptying decides
		}
		if !due {
			return // someone joined since, or it emptied again later: its later timer decides
		}
		var err error
		if archive, err = f.archiveLog(ctx, r); err != nil {
			f.log.Error("idle ad-hoc room not removed: its log could not be kept", "room", r.name, "err", err)
			return
		}
	}
	if !f.removeEmpty(ctx, r, idle, archive, "idle ad-hoc room not removed from the store") {
		return
	}
	f.metrics.adhocRemoved.Inc()
	if idle < 0 {
		f.log.Info("ad-hoc room removed: its creator's call did not come up", "room", r.name)
		return
	}
	f.recordCollected(ctx, r.name, archive)
	f.log.Info("idle ad-hoc room removed", "room", r.name, "idle", idle.String(), "log", logFate(archive, f.cfg.PurgeIdleLog))
}
