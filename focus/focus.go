package focus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/xcon"
)

// Config is what the runtime needs to know about its deployment.
type Config struct {
	Domain         string   // rooms are sip:NAME@Domain and xcon:NAME@Domain
	Node           string   // this process's name among the nodes sharing the store (SetRelay)
	LocalHosts     []string // other hosts that name this focus (listen and advertised hosts, aliases)
	MaxMessageSize int64    // advertised as a=max-size; larger messages get 413 (enforced by msrp)
	WrappedTypes   []string // what may travel inside message/cpim (a=accept-wrapped-types)
	TLSFingerprint string   // our certificate's RFC 8122 fingerprint; "" means TCP/TLS/MSRP is refused
	FileQuota      int64    // bytes of pushed files a room keeps for later joiners; 0 = DefaultFileQuota
	FileTotalQuota int64    // bytes of pushed files all rooms keep together; 0 = DefaultFileTotalQuota
	MaxFileSize    int64    // bytes of one pushed file (streamed, not bounded by MaxMessageSize); 0 = DefaultMaxFileSize
	FilesDir       string   // where kept files live (data_dir/files); "" keeps none

	NicknameScope      NicknameScope // where a nickname must be unique
	NicknameQuarantine time.Duration // how long a released nickname stays with its user
	ReservedNicknames  []string      // names nobody may take (425)

	// AdhocIdle is how long an ad-hoc room stays without anybody in it before it is removed;
	// 0 keeps them.
	AdhocIdle time.Duration
	// RoomIdle is how long a room created over CCMP stays without anybody in it and without a
	// change before it is deleted (idle.go); 0 keeps them.
	RoomIdle time.Duration
	// PurgeIdleLog: the log of a room deleted for being idle goes with it; otherwise it is
	// written to ArchiveDir first ("" keeps none).
	PurgeIdleLog bool
	ArchiveDir   string
	// AuditRetention: audit rows older than this are deleted by the purge loop; 0 keeps them.
	AuditRetention time.Duration

	// Administrators are administrators of every room (CCMP users with admin): user names at
	// the domain, SIP URIs or XCON-USERIDs. A proven SIP identity that is one of them is one too.
	Administrators []string
	// Creators may create rooms besides administrators (MayCreateRoom): user names at the
	// domain, SIP URIs, XCON-USERIDs, "*@DOMAIN" or "authenticated" (every proven identity).
	Creators []string

	// PageIdle is how long a page-mode member (SIP MESSAGE) stays in a room without sending
	// before it is told so and dropped (DefaultPageIdle is the configuration's default); 0 keeps
	// them.
	PageIdle time.Duration
	// Flow control towards each page-mode member: at most PageRate MESSAGEs per second
	// (PageBurst at once; 0 = unlimited), at most PageQueue waiting (the oldest is dropped for
	// a new one; 0 = DefaultPageQueue), PageTimeout for an answer (0 = DefaultPageTimeout), and
	// PageMaxFailures failed MESSAGEs in a row take the member out of its room (0 never does).
	PageRate        float64
	PageBurst       int
	PageQueue       int
	PageTimeout     time.Duration
	PageMaxFailures int

	MessageRate  float64 // messages per second one participant may send; 0 = unlimited
	MessageBurst int     // messages a participant may send at once within MessageRate

	// Now is the clock of rate limits and quarantines; nil means time.Now.
	Now func() time.Time

	Logger *slog.Logger
}

// ConfigPrincipal is the principal of the audit rows of changes the configuration makes to
// rooms (created at start or by a reload, changed by a reload).
const ConfigPrincipal = "config"

// RoomSpec describes a room to create when it does not exist yet.
type RoomSpec struct {
	Name        string
	DisplayText string
	Subject     string
	Policy      xcon.RoomPolicy // applied when the room is created; later changes live in the object
	Channels    []xcon.Channel  // chat channels; none means one channel labelled "chat"
	MaxUsers    int             // maximum-user-count; 0 = no limit
	// Owner, a SIP URI, is recorded as a user with CreatorRoles (administrator and organizer):
	// every room then names an organizer with a SIP associated-aor, as conferencing clients
	// (liblinphone) require. A stored room without an organizer gets it when New loads it.
	Owner string
}

// RoomWatcher hears about every change of a room's conference object, after it is made and
// outside any lock of focus: the conference event package (RFC 4575) turns them into NOTIFYs.
type RoomWatcher interface {
	// RoomChanged: users joined or left, or a nickname, role or setting changed. urgent is set
	// for joins and nickname changes, which a subscriber should see without coalescing delay.
	RoomChanged(room string, urgent bool)
	// RoomGone: the room was deleted or closed; its subscriptions end (noresource).
	RoomGone(room string)
}

// Signaling is what focus needs from the SIP side: ending a participant's dialog (BYE) when
// the participant is removed by the room rather than by its own BYE.
type Signaling interface {
	Disconnect(ctx context.Context, p *Participant)
}

// Focus owns every room of this process.
type Focus struct {
	cfg       Config
	log       *slog.Logger
	store     xcon.Store
	relay     Relay        // nil: one node
	node      string       // Config.Node
	relayed   relayPending // this node's messages in the relay, by serial
	endpoint  *msrp.Endpoint
	signaling Signaling
	pager     Pager      // page-mode members' MESSAGEs; nil: none are sent
	pageJoin  sync.Mutex // serializes page-mode joins: one member per identity
	watcher   RoomWatcher
	bindings  *bindingWriter
	metrics   *Metrics
	nicknames *nicknames
	private   privateCopies
	files     *fileStore // kept files; nil without Config.FilesDir
	live      atomic.Pointer[Limits]
	tlsFP     atomic.Pointer[string] // Config.TLSFingerprint, replaced when the certificate is

	localHosts map[string]bool

	mu       sync.RWMutex
	rooms    map[string]*Room
	stopping bool
	removing sync.WaitGroup // idle ad-hoc rooms being deleted from the store
	// configRooms: lower-case names of the configuration's rooms, never collected when idle.
	configRooms map[string]bool

	stopPurge chan struct{}
	purgeDone chan struct{} // closed once the purge loop has returned
}

// New loads every room from the store, purges bindings left by a previous run (nobody is
// connected after a restart) and creates the rooms of specs that do not exist yet.
func New(ctx context.Context, cfg Config, store xcon.Store, endpoint *msrp.Endpoint, specs []RoomSpec) (*Focus, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := &Focus{
		cfg:        cfg,
		log:        cfg.Logger,
		store:      store,
		endpoint:   endpoint,
		rooms:      map[string]*Room{},
		localHosts: map[string]bool{strings.ToLower(cfg.Domain): true},
		metrics:    newMetrics(),
		nicknames:  newNicknames(cfg.NicknameScope, cfg.NicknameQuarantine, cfg.ReservedNicknames),
		node:       cfg.Node,
		relayed:    relayPending{streams: map[uint64]*Stream{}},
	}
	f.live.Store(limitsOf(cfg))
	f.tlsFP.Store(&cfg.TLSFingerprint)
	for _, h := range cfg.LocalHosts {
		f.localHosts[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	if n, err := store.PurgeBindings(ctx); err != nil {
		return nil, fmt.Errorf("focus: purge stale bindings: %w", err)
	} else if n > 0 {
		f.log.Info("purged bindings of sessions from a previous run", "rows", n)
	}
	f.configRooms = map[string]bool{}
	for _, spec := range specs {
		f.configRooms[strings.ToLower(spec.Name)] = true
	}
	for _, spec := range specs {
		conf := newConference(spec, cfg.Domain)
		switch err := store.CreateConference(ctx, conf); {
		case err == nil:
			f.log.Info("room created", "room", spec.Name)
			if err := store.AppendAudit(ctx, xcon.AuditEntry{Room: spec.Name, Principal: ConfigPrincipal, Request: "config",
				Operation: "create", Code: 200}); err != nil {
				f.log.Error("audit row of a room of the configuration not stored", "room", spec.Name, "err", err)
			}
		case errors.Is(err, xcon.ErrExists):
			if err := giveOwner(ctx, store, spec); err != nil {
				return nil, fmt.Errorf("focus: record the owner of room %s: %w", spec.Name, err)
			}
		default:
			return nil, fmt.Errorf("focus: create room %s: %w", spec.Name, err)
		}
	}
	names, err := store.Conferences(ctx)
	if err != nil {
		return nil, fmt.Errorf("focus: list rooms: %w", err)
	}
	for _, name := range names {
		conf, err := store.Conference(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("focus: load room %s: %w", name, err)
		}
		r := newRoom(f, name, conf)
		// Nicknames held by provisioned users (set over CCMP) stay theirs across restarts.
		for _, u := range conf.Users {
			if u.Nickname == "" {
				continue
			}
			if _, err := f.nicknames.claim(name, heldByObject, u.Entity, u.Nickname); err != nil {
				f.log.Warn("stored nickname not reserved", "room", name, "user", u.Entity, "err", err)
			}
		}
		if err := r.loadHistory(ctx, store); err != nil {
			return nil, fmt.Errorf("focus: load history of %s: %w", name, err)
		}
		r.mu.Lock()
		r.idleLocked() // nobody is in a room after a restart
		r.mu.Unlock()
		f.rooms[name] = r
	}
	if cfg.FilesDir != "" {
		if f.files, err = openFileStore(cfg.FilesDir, cfg.FileQuota, cfg.FileTotalQuota, f.log); err != nil {
			return nil, fmt.Errorf("focus: kept files in %s: %w", cfg.FilesDir, err)
		}
		present := map[string]bool{}
		for _, name := range names {
			present[name] = true
		}
		f.files.keepRooms(present) // rooms deleted while the focus was down
		f.files.evicted = f.metrics.filesEvicted.Inc
	}
	f.bindings = newBindingWriter(store, f.log)
	f.stopPurge, f.purgeDone = make(chan struct{}), make(chan struct{})
	go f.purgeLoop(f.stopPurge, f.purgeDone)
	return f, nil
}

func (f *Focus) now() time.Time { return f.cfg.Now() }

// SetSignaling wires the SIP side in; it must be called before any participant joins.
func (f *Focus) SetSignaling(s Signaling) { f.signaling = s }

// SetWatcher wires in the listener of room changes; call it before serving.
func (f *Focus) SetWatcher(w RoomWatcher) { f.watcher = w }

func (f *Focus) changed(room string, urgent bool) {
	if f.watcher != nil {
		f.watcher.RoomChanged(room, urgent)
	}
}

func (f *Focus) gone(room string) {
	if f.watcher != nil {
		f.watcher.RoomGone(room)
	}
}

// Metrics returns the runtime's Prometheus collectors.
func (f *Focus) Metrics() *Metrics { return f.metrics }

// Room returns the room called name, or nil.
func (f *Focus) Room(name string) *Room {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.rooms[name]
}

// Rooms returns the names of all open rooms (not the tombstones of closed ones), sorted.
func (f *Focus) Rooms() []string {
	f.mu.RLock()
	names := make([]string, 0, len(f.rooms))
	for n, r := range f.rooms {
		if r.Successor() == "" {
			names = append(names, n)
		}
	}
	f.mu.RUnlock()
	sort.Strings(names)
	return names
}

// RoomName tells whether uri (a Request-URI or a CPIM To) names a room of this focus and which:
// scheme sip or sips, user the room name, host the domain or a local host; port and parameters
// are ignored. It does not check that the room exists.
func (f *Focus) RoomName(uri string) (string, bool) {
	u, ok := parseSIPURI(uri)
	if !ok || (u.Scheme != "sip" && u.Scheme != "sips") || u.User == "" || !f.localHosts[u.Host] {
		return "", false
	}
	return u.User, true
}

// RoomURI returns the SIP URI of a room: sip:NAME@DOMAIN, no port.
func (f *Focus) RoomURI(name string) string { return "sip:" + name + "@" + f.cfg.Domain }

// Sync waits until every binding change made so far is durable.
func (f *Focus) Sync(ctx context.Context) error { return f.bindings.sync(ctx) }

// Shutdown ends every participant (BYEs sent in parallel, bounded by ctx), closes their MSRP
// sessions and writes the last binding changes. New joins fail with ErrShuttingDown.
func (f *Focus) Shutdown(ctx context.Context) error {
	f.mu.Lock()
	if !f.stopping {
		close(f.stopPurge)
	}
	f.stopping = true
	var all []*Participant
	for _, r := range f.rooms {
		all = append(all, r.Participants()...)
	}
	f.mu.Unlock()

	var wg sync.WaitGroup
	for _, p := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if f.signaling != nil {
				f.signaling.Disconnect(ctx, p)
			}
			p.room.leave(p, msrp.Shutdown)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		// A peer that never answers its BYE must not hold the process: carry on.
		f.log.Warn("shutdown: not every BYE was answered in time", "participants", len(all))
		// The BYEs were given ctx, so they give up now; the leaving after them must be over before
		// the bindings flush below and before the caller closes the MSRP endpoint and the store.
		select {
		case <-done:
		case <-time.After(time.Second):
			f.log.Error("shutdown: participants still leaving", "participants", len(all))
		}
	}
	f.removing.Wait() // the store is closed after this returns
	<-f.purgeDone
	flush, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return f.bindings.close(flush)
}

func (f *Focus) shuttingDown() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.stopping
}

// newConference builds the conference object of a new room: one chat channel, anyone may join.
func newConference(spec RoomSpec, domain string) *xcon.Conference {
	c := &xcon.Conference{Entity: "xcon:" + spec.Name + "@" + domain, Version: 1}
	c.Description.DisplayText = spec.DisplayText
	c.Description.Subject = spec.Subject
	c.Description.ConfURIs = []xcon.URIEntry{{URI: "sip:" + spec.Name + "@" + domain, Purpose: "participation"}}
	c.Description.Media = []xcon.Channel{{Label: defaultChannel, Type: "message", Status: "sendrecv"}}
	if len(spec.Channels) > 0 {
		c.Description.Media = nil
		for _, ch := range spec.Channels {
			ch.Type, ch.Status = "message", "sendrecv"
			c.Description.Media = append(c.Description.Media, ch)
		}
	}
	if spec.MaxUsers > 0 {
		n := uint32(spec.MaxUsers)
		c.Description.MaximumUserCount = &n
	}
	c.JoinHandling = "allow"
	c.SetRoomPolicy(spec.Policy)
	addOwner(c, spec.Owner)
	return c
}

// addOwner records owner (a SIP URI) in c with CreatorRoles, unless c names an organizer with
// a SIP associated-aor already; it reports whether c changed.
func addOwner(c *xcon.Conference, owner string) bool {
	aor, ok := parseSIPURI(owner)
	if !ok || hasOrganizer(c) {
		return false
	}
	id := xcon.UserIDFromAOR(aor.AOR())
	u := c.User(id)
	if u == nil {
		u = &xcon.User{Entity: id}
		c.Users = append(c.Users, u)
	}
	for _, role := range CreatorRoles {
		if !slices.Contains(u.Roles, role) {
			u.Roles = append(u.Roles, role)
		}
	}
	if !slices.ContainsFunc(u.AssociatedAORs, isSIPAOR) {
		u.AssociatedAORs = append(u.AssociatedAORs, aor.AOR())
	}
	return true
}

// hasOrganizer: a user of c has the role organizer and a SIP associated-aor.
func hasOrganizer(c *xcon.Conference) bool {
	return slices.ContainsFunc(c.Users, func(u *xcon.User) bool {
		return slices.Contains(u.Roles, "organizer") && slices.ContainsFunc(u.AssociatedAORs, isSIPAOR)
	})
}

func isSIPAOR(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "sip:") || strings.HasPrefix(l, "sips:")
}

// giveOwner records spec's owner in its stored room when the room has no organizer (rooms
// provisioned before owners existed); closed rooms are left as they are.
func giveOwner(ctx context.Context, store xcon.Store, spec RoomSpec) error {
	if spec.Owner == "" {
		return nil
	}
	c, err := store.Conference(ctx, spec.Name)
	if err != nil {
		return err
	}
	if p, _ := c.RoomPolicy(); p.Successor != "" || !addOwner(c, spec.Owner) {
		return nil
	}
	c.Version++
	return store.UpdateConference(ctx, c)
}

// heldByObject is the holder key of nicknames that come from the stored conference object
// rather than from a live MSRP session.
const heldByObject = "conference-object"

// defaultChannel is the label of the single chat channel of a room made from a RoomSpec.
const defaultChannel = "chat"
