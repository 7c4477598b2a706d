package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/msrp"
	sipserver "github.com/parleychat/parley/sip"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/sqlstore"
)

// adminState is what the operator's actions change in a running daemon: the configuration
// of the moment (reload), the certificates re-read from their files, and the drain.
type adminState struct {
	// load reads the configuration again as serve read it at start (file, environment,
	// flags); nil when the daemon was given no way to (reload then refuses).
	load     func() (*configs.Config, error)
	live     atomic.Pointer[configs.Config]
	reloadMu sync.Mutex

	msrpCert, httpsCert, sipCert *certFile // nil unless read from configured files

	drainOnce sync.Once
	draining  atomic.Bool
	drained   chan struct{} // closed once a drain is over: everybody left, or drain_timeout passed
}

// current is the configuration of the moment: the one of the last successful reload.
func (d *daemon) current() *configs.Config {
	if c := d.admin.live.Load(); c != nil {
		return c
	}
	return d.cfg
}

// liveKeys are the configuration keys a reload applies to the running daemon; any other key
// that changed is reported as needing a restart.
var liveKeys = []string{"rooms", "msrp.max_message_size", "msrp.max_header_bytes", "msrp.max_pending_bytes",
	"msrp.write_deadline", "msrp.max_conns_per_ip", "msrp.idle_timeout", "wrapped_types", "message_rate",
	"message_burst", "shutdown_timeout", "drain_timeout", "sip.invite_rate", "sip.subscribe_rate", "sip.max_pending_invites",
	"sip.max_dialogs_per_source", "ccmp.request_rate"}

// reloadResult tells the operator what a reload did.
type reloadResult struct {
	Added        []string // rooms created
	Changed      []string // rooms whose entry changed, with the keys applied: "lobby (subject, logging)"
	Certificates []string // certificates re-read that had changed
	NeedRestart  []string // changed keys that apply only at the next start
	RoomErrors   string   // rooms of the file that could not be created (the rest of the reload applies)
}

func (r reloadResult) String() string {
	var b strings.Builder
	b.WriteString("configuration reloaded")
	if len(r.Added) > 0 {
		b.WriteString("; rooms created: " + strings.Join(r.Added, ", "))
	}
	if len(r.Changed) > 0 {
		b.WriteString("; rooms changed: " + strings.Join(r.Changed, ", "))
	}
	if len(r.Certificates) > 0 {
		b.WriteString("; certificates re-read: " + strings.Join(r.Certificates, ", "))
	}
	if len(r.NeedRestart) > 0 {
		b.WriteString("; changed but applied only after a restart: " + strings.Join(r.NeedRestart, ", "))
	}
	if r.RoomErrors != "" {
		b.WriteString("; rooms not created: " + r.RoomErrors)
	}
	return b.String()
}

// reload re-reads the configuration. A file that does not load or validate, or a certificate
// that does not, is refused with the error and the configuration of the moment kept; otherwise
// the new rooms are created and the live keys apply to the next connection and message.
func (d *daemon) reload(ctx context.Context) (reloadResult, error) {
	d.admin.reloadMu.Lock()
	defer d.admin.reloadMu.Unlock()
	var res reloadResult
	refuse := func(err error) (reloadResult, error) {
		d.log.Error("reload refused, configuration kept", "err", err)
		return res, err
	}
	if d.admin.load == nil {
		return refuse(errors.New("this focus was started without a configuration to read again"))
	}
	next, err := d.admin.load()
	if err != nil {
		return refuse(err)
	}
	// Every certificate loads, or none is replaced.
	type loaded struct {
		c     *certFile
		cert  *tls.Certificate
		stamp string
	}
	var certs []loaded
	for _, c := range []*certFile{d.admin.msrpCert, d.admin.httpsCert, d.admin.sipCert} {
		if c == nil {
			continue
		}
		cert, stamp, err := c.read(true)
		if err != nil {
			return refuse(err)
		}
		certs = append(certs, loaded{c, cert, stamp})
	}
	for _, l := range certs {
		if l.c.install(l.cert, l.stamp) {
			res.Certificates = append(res.Certificates, l.c.key)
		}
	}
	// Against the configuration of the start: a key stays reported until the restart.
	res.NeedRestart = changedKeys(d.cfg, next, liveKeys)
	specs := roomSpecs(next)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	d.focus.SetConfigRooms(names) // before they are created: the file owns them from now on
	if res.Added, err = d.focus.AddRooms(ctx, specs); err != nil {
		// The rooms that could be created are; the rest are reported, the limits still apply.
		d.log.Error("reload: rooms not created", "err", err)
		res.RoomErrors = err.Error()
	}
	for _, name := range res.Added {
		d.configAudit(ctx, name, "create", "", 200)
	}
	var roomErrs []error
	res.Changed, roomErrs = d.reconfigureRooms(ctx, d.current(), next)
	if len(roomErrs) > 0 {
		err := errors.Join(roomErrs...)
		d.log.Error("reload: rooms not changed", "err", err)
		res.RoomErrors = strings.TrimPrefix(res.RoomErrors+"; "+err.Error(), "; ")
	}
	d.applyLive(next)
	d.admin.live.Store(next)
	d.log.Info("configuration reloaded", "rooms_created", strings.Join(res.Added, ","), "rooms_changed", strings.Join(res.Changed, ","),
		"certificates", strings.Join(res.Certificates, ","), "need_restart", strings.Join(res.NeedRestart, ","))
	return res, nil
}

// configAudit records a change the configuration made to a room: an audit row with principal
// config, and a log line shaped as CCMP's.
func (d *daemon) configAudit(ctx context.Context, room, operation, keys string, code int) {
	d.log.Info("config change", "principal", focus.ConfigPrincipal, "room", room, "operation", operation, "target", keys, "code", code)
	e := xcon.AuditEntry{Room: room, Principal: focus.ConfigPrincipal, Request: "config", Operation: operation, Target: keys, Code: code}
	if err := d.focus.RecordAudit(ctx, e); err != nil {
		d.log.Error("audit row of a configuration change not stored", "room", room, "err", err)
	}
}

// reconfigureRooms applies to the running rooms what changed in their entries of the file
// between prev and next (display_text, subject, logging, history, moderated, max_users,
// keep_for, keep_messages), as a CCMP update would: a setting changed over CCMP since stays
// unless the file changes it again. It returns the rooms changed with their keys.
func (d *daemon) reconfigureRooms(ctx context.Context, prev, next *configs.Config) ([]string, []error) {
	before := map[string]configs.Room{}
	for _, r := range prev.Rooms {
		before[strings.ToLower(r.Name)] = r
	}
	var changed []string
	var errs []error
	for _, r := range next.Rooms {
		o, ok := before[strings.ToLower(r.Name)]
		if !ok {
			continue // new in the file: created by AddRooms
		}
		var s focus.RoomSettings
		var keys []string
		if o.DisplayText != r.DisplayText {
			s.DisplayText, keys = &r.DisplayText, append(keys, "display_text")
		}
		if o.Subject != r.Subject {
			s.Subject, keys = &r.Subject, append(keys, "subject")
		}
		if o.Logging != r.Logging {
			s.Logging, keys = &r.Logging, append(keys, "logging")
		}
		if h := r.HistoryOrDefault(); o.HistoryOrDefault() != h {
			s.History, keys = &h, append(keys, "history")
		}
		if o.Moderated != r.Moderated {
			s.Moderated, keys = &r.Moderated, append(keys, "moderated")
		}
		if o.MaxUsers != r.MaxUsers {
			s.MaxUsers, keys = &r.MaxUsers, append(keys, "max_users")
		}
		if o.KeepFor != r.KeepFor {
			s.KeepFor, keys = &r.KeepFor, append(keys, "keep_for")
		}
		if o.KeepMessages != r.KeepMessages {
			s.KeepMessages, keys = &r.KeepMessages, append(keys, "keep_messages")
		}
		if len(keys) == 0 {
			continue
		}
		list := strings.Join(keys, ",")
		if _, err := d.focus.ReconfigureRoom(ctx, r.Name, s); err != nil {
			d.configAudit(ctx, r.Name, "update", list, configCode(err))
			errs = append(errs, fmt.Errorf("change room %s (%s): %w", r.Name, list, err))
			continue
		}
		d.configAudit(ctx, r.Name, "update", list, 200)
		changed = append(changed, r.Name+" ("+strings.Join(keys, ", ")+")")
	}
	return changed, errs
}

// configCode is the CCMP code an audit row of a failed configuration change carries.
func configCode(err error) int {
	if errors.Is(err, focus.ErrRoomNotFound) {
		return 404
	}
	return 500
}

// applyLive hands the live keys of cfg to the focus, the MSRP endpoint and the SIP server.
func (d *daemon) applyLive(cfg *configs.Config) {
	d.sip.SetLimits(sipserver.Limits{InviteRate: cfg.SIP.InviteRate, SubscribeRate: cfg.SIP.SubscribeRate,
		MaxPendingInvites: cfg.SIP.MaxPendingInvites, MaxDialogsPerSource: cfg.SIP.MaxDialogsPerSource})
	if d.ccmp != nil {
		d.ccmp.SetRequestRate(cfg.CCMP.RequestRate)
	}
	d.focus.SetLimits(focus.Limits{MaxMessageSize: cfg.MSRP.MaxMessageSize, WrappedTypes: cfg.WrappedTypes,
		MessageRate: cfg.MessageRate, MessageBurst: cfg.MessageBurst})
	d.endpoint.SetLimits(msrp.Limits{MaxMessageSize: cfg.MSRP.MaxMessageSize, MaxHeaderBytes: cfg.MSRP.MaxHeaderBytes,
		MaxPendingBytes: cfg.MSRP.MaxPendingBytes, WriteDeadline: cfg.MSRP.WriteDeadline,
		MaxConnsPerIP: cfg.MSRP.MaxConnsPerIP, IdleTimeout: cfg.MSRP.IdleTimeout})
}

// changedKeys lists the keys (dotted paths, as in parley.yaml) whose values differ between a
// and b, leaving out those under live.
func changedKeys(a, b *configs.Config, live []string) []string {
	fa, fb := flatten(a), flatten(b)
	var out []string
	for k := range fa {
		if _, ok := fb[k]; !ok {
			fb[k] = nil
		}
	}
	for k, vb := range fb {
		if reflect.DeepEqual(fa[k], vb) {
			continue
		}
		if slices.ContainsFunc(live, func(l string) bool { return k == l || strings.HasPrefix(k, l+".") }) {
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func flatten(c *configs.Config) map[string]any {
	out := map[string]any{}
	data, err := yaml.Marshal(c)
	if err != nil {
		return out
	}
	var m map[string]any
	if yaml.Unmarshal(data, &m) != nil {
		return out
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if mm, ok := v.(map[string]any); ok {
			for k, sub := range mm {
				walk(strings.TrimPrefix(prefix+"."+k, "."), sub)
			}
			return
		}
		out[prefix] = v
	}
	walk("", m)
	return out
}

// certFile is a certificate read from its files and read again when they change (their
// modification time or size), on a reload and at most every certPoll while serving. TLS
// listeners take it through GetCertificate: a new handshake sees the certificate of the moment.
type certFile struct {
	key, certPath, keyPath string
	current                atomic.Pointer[tls.Certificate]
	mu                     sync.Mutex
	stamp                  string // modification times and sizes of the two files when last read
	onChange               func(*tls.Certificate)
}

// certPoll is how often the certificate files are looked at.
var certPoll = time.Second

func newCertFile(key, certPath, keyPath string) (*certFile, error) {
	c := &certFile{key: key, certPath: certPath, keyPath: keyPath}
	if _, err := c.check(true); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certFile) fileStamp() string {
	var b strings.Builder
	for _, p := range []string{c.certPath, c.keyPath} {
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return b.String()
}

// check reads the files again when they changed since they were last read (force: read them
// anyway), and reports whether the certificate is another one now. On an error the certificate
// in use stays.
func (c *certFile) check(force bool) (bool, error) {
	cert, stamp, err := c.read(force)
	if err != nil {
		return false, err
	}
	return c.install(cert, stamp), nil
}

// read loads the files when they changed since they were last read (force: anyway), without
// putting the certificate in use (install does): nil when the files are as they were. A pair
// that does not load is an error, said once per change of the files.
func (c *certFile) read(force bool) (*tls.Certificate, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stamp := c.fileStamp()
	if !force && stamp == c.stamp {
		return nil, stamp, nil
	}
	cert, err := tls.LoadX509KeyPair(c.certPath, c.keyPath)
	if err != nil {
		c.stamp = stamp // said once per change, not at every poll
		return nil, stamp, fmt.Errorf("%s: %w", c.key, err)
	}
	return &cert, stamp, nil
}

// install puts a certificate read by read in use and reports whether it is another one than
// the certificate it replaces (a nil cert changes nothing).
func (c *certFile) install(cert *tls.Certificate, stamp string) bool {
	if cert == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stamp = stamp
	old := c.current.Load()
	if old != nil && len(old.Certificate) > 0 && len(cert.Certificate) > 0 && string(old.Certificate[0]) == string(cert.Certificate[0]) {
		return false
	}
	c.current.Store(cert)
	if old != nil && c.onChange != nil {
		c.onChange(cert)
	}
	return old != nil
}

func (c *certFile) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current.Load(), nil
}

// watchCertificates polls the certificate files until ctx ends.
func (d *daemon) watchCertificates(ctx context.Context) {
	var certs []*certFile
	for _, c := range []*certFile{d.admin.msrpCert, d.admin.httpsCert, d.admin.sipCert} {
		if c != nil {
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return
	}
	every := certPoll // read here, not in the goroutine: tests set it around a daemon's life
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for _, c := range certs {
				if changed, err := c.check(false); err != nil {
					d.log.Error("certificate file changed but does not load; the one in use stays", "err", err)
				} else if changed {
					d.log.Info("certificate re-read", "key", c.key)
				}
			}
		}
	}()
}

// serveSignals runs until ctx ends (SIGTERM, Ctrl-C) or a drain is over, then shuts down;
// SIGHUP reloads the configuration, SIGUSR2 drains.
func (d *daemon) serveSignals(ctx context.Context) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	for {
		select {
		case <-ctx.Done():
			return d.shutdown()
		case <-d.admin.drained:
			return d.shutdown()
		case sig := <-sigs:
			if sig == syscall.SIGUSR2 {
				d.drain()
				continue
			}
			_, _ = d.reload(ctx) // logged either way
		}
	}
}

// drainNotice is what every room tells its members when the focus drains.
const drainNotice = "This chat server is restarting. Please leave and dial this room again: you will be connected to another server."

// drain stops taking calls (503 with Retry-After to INVITE, SUBSCRIBE and OPTIONS, /healthz 503),
// tells every member of every room, and closes admin.drained once everybody has left or after
// drain_timeout. It returns how many participants were told. A second drain changes nothing.
func (d *daemon) drain() (int, bool) {
	told, first := 0, false
	d.admin.drainOnce.Do(func() {
		first = true
		timeout := d.current().DrainTimeout
		d.admin.draining.Store(true)
		d.sip.Drain(timeout)
		told = d.focus.Announce(drainNotice)
		d.log.Info("draining: no new calls; waiting for the participants to leave", "participants", told, "drain_timeout", timeout)
		go func() {
			deadline := time.Now().Add(timeout)
			for d.focus.Present() > 0 && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			if n := d.focus.Present(); n > 0 {
				d.log.Info("drain_timeout passed; shutting down", "participants", n)
			} else {
				d.log.Info("drained: nobody left; shutting down")
			}
			close(d.admin.drained)
		}()
	})
	return told, first
}

// backup writes an online copy of the SQLite database to path.
func (d *daemon) backup(ctx context.Context, path string) error {
	if d.cfg.Store.Driver == configs.StorePostgres {
		return errors.New("store.driver is postgres: back up PostgreSQL with pg_dump (see README)")
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("backup: %q is not an absolute path", path)
	}
	if err := d.store.Backup(ctx, path); err != nil {
		if errors.Is(err, sqlstore.ErrBackupUnsupported) {
			return errors.New("store.driver is postgres: back up PostgreSQL with pg_dump (see README)")
		}
		return err
	}
	d.log.Info("backup written", "file", path)
	return nil
}

// adminRoutes registers /admin/reload, /admin/drain and /admin/backup, answered to loopback
// peers only (the operator on the host; `parley reload`, `drain` and `backup`).
func (d *daemon) adminRoutes(mux *http.ServeMux) {
	local := func(h func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				http.Error(w, "admin endpoints answer loopback peers only", http.StatusForbidden)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("POST /admin/reload", local(func(w http.ResponseWriter, r *http.Request) {
		res, err := d.reload(r.Context())
		if err != nil {
			http.Error(w, "reload refused, configuration kept: "+err.Error(), http.StatusUnprocessableEntity)
			return
		}
		fmt.Fprintln(w, res)
	}))
	mux.HandleFunc("POST /admin/drain", local(func(w http.ResponseWriter, _ *http.Request) {
		told, first := d.drain()
		w.WriteHeader(http.StatusAccepted)
		if !first {
			fmt.Fprintln(w, "draining already")
			return
		}
		fmt.Fprintf(w, "draining: %d participants told; shutting down when they have left or after %s\n", told, d.current().DrainTimeout)
	}))
	mux.HandleFunc("POST /admin/backup", local(func(w http.ResponseWriter, r *http.Request) {
		path := r.FormValue("file")
		if err := d.backup(r.Context(), path); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		fmt.Fprintln(w, "backup written to", path)
	}))
}
