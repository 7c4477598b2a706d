package xcon

import (
	"context"
	"errors"
	"time"
)

// Store errors. Implementations wrap them; test with errors.Is.
var (
	ErrNotFound = errors.New("xcon: not found")
	ErrExists   = errors.New("xcon: already exists")
	// ErrConflict reports a write that contradicts stored state: a stale
	// version (RFC 6503 §5.4 code 409) or a nickname held by another user.
	ErrConflict = errors.New("xcon: conflict")
	// ErrFull reports a write refused for want of space (SQLite's SQLITE_FULL, PostgreSQL's
	// disk_full): nothing of it was stored, and the same write may succeed once space is freed.
	ErrFull = errors.New("xcon: no space left to store")
	// ErrNotDurable reports that the store can no longer promise that what it writes survives
	// a crash (an fsync of its write-ahead log failed, after which the page cache may have lost
	// writes): it acknowledges no more log writes until the process is restarted.
	ErrNotDurable = errors.New("xcon: writes can no longer be made durable")
)

// Store is the durable state of the conferencing system. Room names are the
// conf-object-id of the XCON-URI (Conference.Name) and compare
// case-insensitively. Implementations are safe for concurrent use.
type Store interface {
	// CreateConference stores a new object; ErrExists if the name is taken.
	CreateConference(ctx context.Context, c *Conference) error
	// Conference loads an object; ErrNotFound if there is none.
	Conference(ctx context.Context, name string) (*Conference, error)
	// Conferences lists the stored names, sorted.
	Conferences(ctx context.Context) ([]string, error)
	// UpdateConference replaces the whole object; ErrNotFound if absent,
	// ErrConflict if c.Version is older than the stored version or a
	// nickname is held by two users.
	UpdateConference(ctx context.Context, c *Conference) error
	// DeleteConference removes an object with its users, bindings and log.
	DeleteConference(ctx context.Context, name string) error

	// SaveBindings applies a batch of binding changes in one transaction; a binding for a room
	// that no longer exists is dropped, not an error.
	SaveBindings(ctx context.Context, changes []BindingChange) error
	// Bindings lists a room's live bindings, oldest first.
	Bindings(ctx context.Context, room string) ([]Binding, error)
	// PurgeBindings removes this node's bindings; at start-up none of its sessions is
	// connected.
	PurgeBindings(ctx context.Context) (int, error)
	// Heartbeat records that this node is alive, now.
	Heartbeat(ctx context.Context) error
	// PurgeDeadNodes removes the bindings (and live nicknames) of every other node whose last
	// heartbeat is older than deadAfter, and the nodes themselves, returning the rooms whose
	// bindings went.
	PurgeDeadNodes(ctx context.Context, deadAfter time.Duration) (DeadNodes, error)
	// ClaimLiveNickname records that this node's sessions of userID hold a nickname (key: its
	// comparison key as the caller scopes it), unless another user's sessions hold it on some
	// node, or let it go less than quarantine ago: then ErrExists.
	ClaimLiveNickname(ctx context.Context, key, nickname, userID string, quarantine time.Duration) error
	// ReleaseLiveNickname records that this node's sessions of userID no longer hold key; it
	// stays theirs for the quarantine.
	ReleaseLiveNickname(ctx context.Context, key, userID string) error

	// AppendLog stores messages, assigning each its per-room Seq (written
	// back into entries). The entries are durable when it returns nil.
	AppendLog(ctx context.Context, entries []LogEntry) error
	// AppendLogAsync is AppendLog without the wait: it queues entries (the store owns them
	// from then on) and calls done with the outcome once they are durable, in the order the
	// calls were made. done runs on the store's writer and must not block.
	AppendLogAsync(entries []LogEntry, done func(error))
	// History returns the last limit messages of a room's channel, oldest
	// first; channel "" means every channel.
	History(ctx context.Context, room, channel string, limit int) ([]LogEntry, error)
	// HistoryBetween returns the last limit messages logged in [from, to] (zero bounds are
	// open), oldest first.
	HistoryBetween(ctx context.Context, room, channel string, from, to time.Time, limit int) ([]LogEntry, error)
	// HistoryAfter returns the first limit messages logged at or after since (zero: from the
	// start) and numbered above afterSeq, oldest first: the log read forwards, a page at a time.
	HistoryAfter(ctx context.Context, room, channel string, since time.Time, afterSeq int64, limit int) ([]LogEntry, error)
	// PurgeLog deletes a room's messages older than before (zero: none by age) and all but
	// the newest keep (0: none by count); it returns how many it deleted.
	PurgeLog(ctx context.Context, room string, before time.Time, keep int) (int64, error)

	// AppendAudit records one change request and its outcome (e.ID and a zero e.Time are
	// assigned). Audit rows outlive their room: DeleteConference keeps them.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// Audit returns the newest limit audit rows of a room, oldest first (newest last).
	Audit(ctx context.Context, room string, limit int) ([]AuditEntry, error)
	// PurgeAudit deletes the audit rows of every room recorded before before and returns how
	// many it deleted.
	PurgeAudit(ctx context.Context, before time.Time) (int64, error)

	Close() error
}

// Binding is one live chat session: the (chat-ID, XCON-USERID, label,
// nickname) row of session-chat's figures 2–4.
type Binding struct {
	Room     string
	ChatID   string
	UserID   string
	Label    string // the a=label the client offered (RFC 4574), possibly ""
	Channel  string // the available-media label the session joined
	Nickname string
	Since    time.Time
	Node     string // the node holding its session (several sharing the store); read back only
	// AOR and DisplayText are how the room shows the user (the other nodes' rosters).
	AOR, DisplayText string
}

// BindingChange adds (Add != nil) or removes (Remove = chat-ID) one binding
// of Room.
type BindingChange struct {
	Room   string
	Add    *Binding
	Remove string
}

// LogEntry is one logged message of a room channel.
type LogEntry struct {
	Room        string
	Channel     string
	Seq         int64 // assigned by AppendLog, increasing per room
	Time        time.Time
	SenderID    string // XCON-USERID
	SenderNick  string
	Recipient   string // "" for the whole room, else the private recipient
	ContentType string
	Body        []byte
}

// AuditEntry is one change request made to a room over CCMP: who asked, from where, what, and
// the answer.
type AuditEntry struct {
	ID        int64     `json:"id"`
	Room      string    `json:"room"` // the conf-object-id, lowercased; "" when the request named none
	Time      time.Time `json:"time"`
	Principal string    `json:"principal"`        // the authenticated name, else the confUserID acted as
	Remote    string    `json:"remote"`           // the requester's IP address
	Request   string    `json:"request"`          // CCMP request type: conf, user, users, sidebarByVal, extended:close, ...
	Operation string    `json:"operation"`        // create, update, delete
	Target    string    `json:"target,omitempty"` // the user entity a user request names
	Code      int       `json:"code"`             // RFC 6503 response code
}

// DeadNodes is what PurgeDeadNodes removed.
type DeadNodes struct {
	Nodes    []string
	Bindings int
	Rooms    []string // rooms that had bindings of the dead nodes
}
