package focus

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/xcon"
)

// Management operations: what CCMP (and operators) do to rooms out of band, with their live
// effects on SIP and MSRP. Each persists the conference object before it returns.

// ErrRoomExists is returned by CreateRoom when the name is taken (by a room or a tombstone).
var ErrRoomExists = errors.New("focus: room already exists")

// ErrUserNotFound is returned by Kick when the user is not in the room.
var ErrUserNotFound = errors.New("focus: no such user in the room")

// CreateRoom stores a new conference object and makes its room dialable at once at its SIP
// URI. The object's Entity names the room ("xcon:NAME@DOMAIN"); its version starts at 1.
func (f *Focus) CreateRoom(ctx context.Context, conf *xcon.Conference) (*Room, error) {
	name := conf.Name()
	if !ValidRoomName(name) {
		return nil, fmt.Errorf("focus: %q is not a valid room name", name)
	}
	conf = conf.Clone()
	conf.Entity = "xcon:" + name + "@" + f.cfg.Domain
	if conf.Version == 0 {
		conf.Version = 1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopping {
		return nil, ErrShuttingDown
	}
	if f.rooms[name] != nil {
		return nil, ErrRoomExists
	}
	if err := f.store.CreateConference(ctx, conf); err != nil {
		if errors.Is(err, xcon.ErrExists) {
			return nil, ErrRoomExists
		}
		return nil, err
	}
	r := newRoom(f, name, conf)
	r.mu.Lock()
	r.idleLocked() // nobody is in it yet
	r.mu.Unlock()
	f.rooms[name] = r
	f.log.Info("room created", "room", name)
	if f.relay != nil {
		go f.announce(Event{Kind: EventCreated, Room: name}) // f.mu is held
	}
	return r, nil
}

// UpdateRoom applies update to a copy of the room's conference object; if it returns nil the
// copy (version +1) replaces the object and is persisted, all or nothing. It returns the new
// object. Live users stay live; a user removed by update who is connected is disconnected.
func (f *Focus) UpdateRoom(ctx context.Context, name string, update func(c *xcon.Conference) error) (*xcon.Conference, error) {
	r := f.Room(name)
	if r == nil {
		return nil, ErrRoomNotFound
	}
	if f.relay != nil {
		f.reloadRoom(name) // a change another node made is the base of this one
	}
	r.mu.Lock()
	next := r.conf.Clone()
	if err := update(next); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	next.Entity = r.conf.Entity
	next.Version = r.conf.Version + 1
	provisioned := r.provisionedAfter(next)
	if err := f.store.UpdateConference(ctx, durable(next, provisioned)); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	r.storedVersion = next.Version
	snapshot, after := f.installLocked(r, next, provisioned)
	r.mu.Unlock()
	after(ctx)
	if f.relay != nil {
		f.announce(Event{Kind: EventChanged, Room: name})
	}
	return snapshot, nil
}

// installLocked makes next (version and durable users decided) the room's conference object:
// policy, logging notices, nicknames of renamed users, participants now denied. It returns a
// copy of next and what to do once the room's mu is released. Caller holds mu.
func (f *Focus) installLocked(r *Room, next *xcon.Conference, provisioned map[string]bool) (*xcon.Conference, func(context.Context)) {
	name := r.name
	before := make(map[string]string, len(r.live))
	for _, p := range r.participants {
		if u := r.userLocked(p.userID); u != nil {
			before[strings.ToLower(p.userID)] = u.Nickname
		}
	}
	r.conf = next
	r.userIdx = nil
	policy, _ := next.RoomPolicy()
	wasLogged, wasModerated := r.policy.Logging, r.policy.Moderated
	r.setPolicyLocked(policy)
	if policy.Logging != wasLogged {
		r.loggingChangedLocked()
	}
	r.provisioned = provisioned
	if wasModerated && !policy.Moderated {
		r.voiceVisitorsLocked()
	}
	renames, releases := r.renameStreamsLocked(before)
	var gone []*Participant
	for _, p := range r.participants {
		if r.deniedLocked(p) {
			gone = append(gone, p)
		}
	}
	snapshot := next.Clone()
	r.touchLocked()
	return snapshot, func(ctx context.Context) {
		for _, n := range releases {
			f.nicknames.release(name, n.chatID, n.nickname)
		}
		f.bindings.add(renames...)
		f.changed(name, len(renames) > 0) // a nickname change is urgent, as one made over MSRP
		for _, p := range gone {
			f.remove(ctx, p, "You were removed from the room.")
		}
	}
}

// loggingChangedLocked tells every participant present that the room's logging was switched
// on (session-chat §5.2: people in a logged room are warned, not only those who join later) or off.
// Queued under the lock, so the notice precedes every message the new policy applies to.
// Caller holds mu; r.policy is the new policy.
func (r *Room) loggingChangedLocked() {
	for _, p := range r.participants {
		for _, s := range p.chatStreams() {
			body := r.loggingNotice(p.aor.AOR())
			if !r.policy.Logging {
				body = r.notice(p.aor.AOR(), "This room is no longer logged: what you send here from now on is not recorded.")
			}
			_ = s.send("message/cpim", body)
		}
	}
}

// provisionedAfter returns the users of next that are durable: those provisioned already, those
// with no participant (they exist only as rows of the object), and those an update added or
// changed. Whether a user is connected never takes the status away: a provisioned user's roles
// and nickname outlive his sessions. A user who only dialled in, and whose row the update left
// alone, stays live-only. Caller holds mu; r.conf is still the object before the update.
func (r *Room) provisionedAfter(next *xcon.Conference) map[string]bool {
	out := make(map[string]bool, len(next.Users))
	for _, u := range next.Users {
		key := strings.ToLower(u.Entity)
		if r.provisioned[key] || !r.isLive(u.Entity) {
			out[key] = true
			continue
		}
		if old := r.userLocked(u.Entity); old == nil || !sameUserRow(old, u) {
			out[key] = true
		}
	}
	return out
}

// sameUserRow compares two rows of a user, endpoints aside (they are the live part).
func sameUserRow(a, b *xcon.User) bool {
	ac, bc := *a, *b
	ac.Endpoints, bc.Endpoints = nil, nil
	return reflect.DeepEqual(ac, bc)
}

// durable returns the part of a conference object that is persisted: no live endpoints, and
// only the provisioned users (the others exist only while connected).
func durable(c *xcon.Conference, provisioned map[string]bool) *xcon.Conference {
	d := c.Clone()
	d.Users = slices.DeleteFunc(d.Users, func(u *xcon.User) bool {
		return !provisioned[strings.ToLower(u.Entity)]
	})
	for _, u := range d.Users {
		u.Endpoints = nil
	}
	d.State.UserCount = nil
	return d
}

// isLive reports whether a user has a participant in the room. Caller holds mu.
func (r *Room) isLive(userID string) bool {
	return r.live[strings.ToLower(userID)] > 0
}

// DeleteRoom tells every participant the room is gone, ends their dialogs and removes the room
// and everything stored with it (RFC 7701 §5.3). Nothing is left behind.
func (f *Focus) DeleteRoom(ctx context.Context, name string) error {
	if f.Room(name) == nil {
		return ErrRoomNotFound
	}
	if by := f.RedirectsTo(name); len(by) > 0 {
		return fmt.Errorf("%w: %s", ErrSuccessorInUse, strings.Join(by, ", "))
	}
	r := f.takeRoom(name)
	if r == nil {
		return ErrRoomNotFound
	}
	f.gone(name)
	f.evacuate(ctx, r, "This room has been deleted.")
	if err := f.store.DeleteConference(ctx, name); err != nil && !errors.Is(err, xcon.ErrNotFound) {
		return err
	}
	if f.files != nil {
		f.files.deleteRoom(name)
	}
	f.log.Info("room deleted", "room", name)
	if f.relay != nil {
		f.announce(Event{Kind: EventDeleted, Room: name})
	}
	return nil
}

// Kick removes a user's participants from the room with a notice and a BYE; with ban the user
// is also added to the room's deny list, so its next INVITE gets 403.
func (f *Focus) Kick(ctx context.Context, room, userID string, ban bool) error {
	r := f.Room(room)
	if r == nil {
		return ErrRoomNotFound
	}
	if ban {
		if _, err := f.UpdateRoom(ctx, room, func(c *xcon.Conference) error {
			if !slices.ContainsFunc(c.DenyUsers, func(t xcon.Target) bool { return strings.EqualFold(t.URI, userID) }) {
				c.DenyUsers = append(c.DenyUsers, xcon.Target{URI: userID})
			}
			return nil
		}); err != nil {
			return err
		}
	}
	var found bool
	for _, p := range r.Participants() {
		if strings.EqualFold(p.userID, userID) {
			found = true
			f.remove(ctx, p, "You were removed from the room by a moderator.")
		}
	}
	if f.BoundElsewhere(ctx, room, userID) {
		found = true
		f.announce(Event{Kind: EventKick, Room: room, UserID: userID})
	}
	if !found && !ban {
		return ErrUserNotFound
	}
	return nil
}

// ClaimNickname reserves a nickname for a user of a room outside any MSRP session (CCMP
// userRequest, session-chat §5.1), with the same PRECIS rules as NICKNAME; it returns the stored form.
func (f *Focus) ClaimNickname(room, userID, nickname string) (string, error) {
	return f.nicknames.claim(room, heldByObject, userID, nickname)
}

// ReleaseNickname gives up a nickname userID held outside any MSRP session (CCMP changed or
// removed it); the name stays with the user for the quarantine. A name held by someone else is
// left alone.
func (f *Focus) ReleaseNickname(room, userID, nickname string) {
	f.nicknames.releaseFor(room, heldByObject, userID, nickname)
}

// purgeInterval is how often each room's log retention is applied.
const purgeInterval = 10 * time.Minute

// PurgeLogs applies every room's retention (RoomPolicy.KeepFor, KeepMessages) once.
func (f *Focus) PurgeLogs(ctx context.Context) {
	for _, r := range f.roomList() {
		if ctx.Err() != nil {
			return // shutting down
		}
		p := r.livePolicy.Load()
		if p.KeepFor <= 0 && p.KeepMessages <= 0 {
			continue
		}
		var before time.Time
		if p.KeepFor > 0 {
			before = f.now().Add(-p.KeepFor)
		}
		n, err := f.store.PurgeLog(ctx, r.name, before, p.KeepMessages)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			f.log.Error("log retention not applied", "room", r.name, "err", err)
		case n > 0:
			f.log.Info("log retention applied", "room", r.name, "purged", n)
		}
	}
}

// PurgeAudit deletes the audit rows older than Config.AuditRetention once.
func (f *Focus) PurgeAudit(ctx context.Context) {
	if f.cfg.AuditRetention <= 0 {
		return
	}
	n, err := f.store.PurgeAudit(ctx, f.now().Add(-f.cfg.AuditRetention))
	switch {
	case err != nil && ctx.Err() != nil:
	case err != nil:
		f.log.Error("audit retention not applied", "err", err)
	case n > 0:
		f.log.Info("audit retention applied", "purged", n, "audit_retention", f.cfg.AuditRetention.String())
	}
}

// purgeLoop applies the logs' and the audit's retention at start and every purgeInterval
// until stop is closed, then closes done. A purge under way when stop closes is cut short:
// the store is about to close.
func (f *Focus) purgeLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		f.PurgeLogs(ctx)
		f.PurgeAudit(ctx)
		select {
		case <-t.C:
		case <-stop:
			return
		}
	}
}

// takeRoom removes a room from the runtime (not from the store).
func (f *Focus) takeRoom(name string) *Room {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rooms[name]
	delete(f.rooms, name)
	return r
}

// evacuate sends every participant a notice, then ends its dialog, in parallel.
func (f *Focus) evacuate(ctx context.Context, r *Room, text string) {
	var wg sync.WaitGroup
	for _, p := range r.Participants() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.remove(ctx, p, text)
		}()
	}
	wg.Wait()
}

// remove tells a participant why, then leaves the room for it and ends its dialog with a BYE.
// The notice is queued before the session closes, and msrp flushes queued frames first.
func (f *Focus) remove(ctx context.Context, p *Participant, text string) {
	for _, s := range p.liveStreams() {
		_ = s.send("message/cpim", p.room.notice(p.aor.AOR(), text))
	}
	if f.signaling != nil {
		f.signaling.Disconnect(ctx, p)
	}
	p.room.leave(p, msrp.Kicked)
}
