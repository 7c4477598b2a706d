package focus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parleychat/parley/xcon"
)

// Idle rooms: a room created over CCMP that has had nobody in it and no change for
// Config.RoomIdle is deleted as a CCMP delete deletes it. The rooms of the configuration are
// the file's (SetConfigRooms) and never collected; nor are ad-hoc rooms (Config.AdhocIdle),
// closed rooms, rooms a closed room redirects to, or rooms with sidebars. The log of a room
// collected for being idle, ad-hoc or not, is kept in Config.ArchiveDir unless
// Config.PurgeIdleLog.

// idlePrincipal is the principal of the audit row a collected room leaves.
const idlePrincipal = "focus"

// SetConfigRooms names the rooms of the configuration, which idle collection leaves alone.
func (f *Focus) SetConfigRooms(names []string) {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[strings.ToLower(n)] = true
	}
	f.mu.Lock()
	f.configRooms = set
	f.mu.Unlock()
}

// touchLocked records activity in an empty room (a change of its object): its idle time
// starts again. Caller holds mu.
func (r *Room) touchLocked() {
	if len(r.participants) == 0 && !r.policy.Adhoc {
		r.idleLocked()
	}
}

// collectIdle deletes a room created over CCMP that has had nobody in it and no change for at
// least idle; a room that someone joined or that changed since is left to its later timer.
func (f *Focus) collectIdle(ctx context.Context, r *Room, idle time.Duration) {
	if !f.collectable(r, idle) || !f.startRemoval() {
		return
	}
	defer f.removing.Done()
	// The log is written out before the room goes: nobody is in it, so nothing is logged meanwhile
	// (a member who joined and left since moved its idle time, and the room stays).
	archive, err := f.archiveLog(ctx, r)
	if err != nil {
		f.log.Error("idle room not collected: its log could not be kept", "room", r.name, "err", err)
		return
	}
	if !f.removeEmpty(ctx, r, idle, archive, "idle room not removed from the store") {
		return
	}
	f.metrics.idleRemoved.Inc()
	f.recordCollected(ctx, r.name, archive)
	f.log.Info("idle room collected", "room", r.name, "idle", idle.String(), "log", logFate(archive, f.cfg.PurgeIdleLog))
}

// startRemoval counts a removal in Focus.removing, which Shutdown waits for before the store
// closes; false when the focus is shutting down (then nothing is removed).
func (f *Focus) startRemoval() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopping {
		return false
	}
	f.removing.Add(1)
	return true
}

// collectable tells whether r is a room idle collection may delete now.
func (f *Focus) collectable(r *Room, idle time.Duration) bool {
	if idle <= 0 || len(f.RedirectsTo(r.name)) > 0 {
		return false
	}
	f.mu.RLock()
	own := f.configRooms[strings.ToLower(r.name)]
	f.mu.RUnlock()
	if own {
		return false
	}
	r.mu.Lock()
	empty := !r.policy.Adhoc && r.policy.Successor == "" && len(r.conf.SidebarsByRef) == 0 &&
		len(r.participants) == 0 && !r.idleSince.IsZero() && time.Since(r.idleSince) >= idle
	r.mu.Unlock()
	return empty && !f.heldElsewhere(r.name)
}

// logFate says in a log line what became of a collected room's log.
func logFate(archive string, purge bool) string {
	switch {
	case archive != "":
		return "kept in " + archive
	case purge:
		return "purged"
	default:
		return "empty"
	}
}

// recordCollected leaves the audit row of a room deleted for being idle: request "idle",
// operation delete, target what became of its log.
func (f *Focus) recordCollected(ctx context.Context, name, archive string) {
	e := xcon.AuditEntry{Room: name, Principal: idlePrincipal, Request: "idle",
		Operation: "delete", Target: "log " + logFate(archive, f.cfg.PurgeIdleLog), Code: 200}
	if err := f.store.AppendAudit(ctx, e); err != nil {
		f.log.Error("audit row of a collected room not stored", "room", name, "err", err)
	}
}

// archivedEntry is one logged message of a kept log, as `parley room export` writes it.
type archivedEntry struct {
	Seq         int64     `json:"seq"`
	Time        time.Time `json:"time"`
	Channel     string    `json:"channel"`
	Sender      string    `json:"sender"`
	Nickname    string    `json:"nickname,omitempty"`
	Recipient   string    `json:"recipient,omitempty"`
	ContentType string    `json:"content_type"`
	Body        []byte    `json:"body"`
}

// archivedRoom is the document a kept log is written as.
type archivedRoom struct {
	Room      string          `json:"room"` // the XCON-URI
	Collected time.Time       `json:"collected"`
	ConfInfo  string          `json:"conf_info"` // the stored conference object, RFC 6501 XML
	Log       []archivedEntry `json:"log"`       // oldest first
}

// archivePage is how many messages one read of a log being kept takes.
const archivePage = 1000

// archiveLog writes the room's stored object and whole log to a new file of ArchiveDir and
// returns its path; "" when the log is purged by policy, or empty, or there is no ArchiveDir.
func (f *Focus) archiveLog(ctx context.Context, r *Room) (string, error) {
	if f.cfg.PurgeIdleLog || f.cfg.ArchiveDir == "" {
		return "", nil
	}
	doc := archivedRoom{Room: f.XCONURI(r.name), Collected: time.Now().UTC(), Log: []archivedEntry{}}
	var after int64
	for {
		page, err := f.store.HistoryAfter(ctx, r.name, "", time.Time{}, after, archivePage)
		if err != nil {
			return "", err
		}
		for _, e := range page {
			doc.Log = append(doc.Log, archivedEntry{Seq: e.Seq, Time: e.Time, Channel: e.Channel, Sender: e.SenderID,
				Nickname: e.SenderNick, Recipient: e.Recipient, ContentType: e.ContentType, Body: e.Body})
			after = e.Seq
		}
		if len(page) < archivePage {
			break
		}
	}
	if len(doc.Log) == 0 {
		return "", nil
	}
	var x bytes.Buffer
	if err := r.Stored().Encode(&x); err != nil {
		return "", err
	}
	doc.ConfInfo = x.String()
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false) // the XML stays readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return "", err
	}
	if err := os.MkdirAll(f.cfg.ArchiveDir, 0o750); err != nil {
		return "", err
	}
	path := filepath.Join(f.cfg.ArchiveDir, fmt.Sprintf("%s-%s.json", r.name, doc.Collected.Format("20060102T150405Z")))
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", err
	}
	if _, err := out.Write(data.Bytes()); err != nil {
		out.Close()
		os.Remove(path)
		return "", err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(path)
		return "", err
	}
	return path, out.Close()
}

// discard removes a kept log whose room was not collected after all.
func discard(path string) {
	if path != "" {
		os.Remove(path)
	}
}

// removeEmpty takes r out of the focus and the store when it is still the focus's room, is not
// one parley.yaml owns, and has had nobody in it for idle (a negative idle: nobody in it now).
// It reports whether it did; otherwise archive, the log written out for it, is discarded.
func (f *Focus) removeEmpty(ctx context.Context, r *Room, idle time.Duration, archive, storeFailure string) bool {
	f.mu.Lock()
	if f.stopping || f.rooms[r.name] != r || f.configRooms[strings.ToLower(r.name)] {
		f.mu.Unlock()
		discard(archive)
		return false
	}
	r.mu.Lock()
	empty := len(r.participants) == 0 && (idle < 0 || !r.idleSince.IsZero() && time.Since(r.idleSince) >= idle)
	if empty {
		r.removed = true // a join that found the room before this is refused
	}
	r.mu.Unlock()
	if !empty {
		f.mu.Unlock()
		discard(archive)
		return false
	}
	delete(f.rooms, r.name)
	f.mu.Unlock()
	f.gone(r.name)
	if err := f.store.DeleteConference(ctx, r.name); err != nil && !errors.Is(err, xcon.ErrNotFound) {
		f.log.Error(storeFailure, "room", r.name, "err", err)
		return false
	}
	if f.files != nil {
		f.files.deleteRoom(r.name)
	}
	return true
}
