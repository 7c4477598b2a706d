package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sipgolib "github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/focus/natsrelay"
	"github.com/parleychat/parley/msrp"
	sipserver "github.com/parleychat/parley/sip"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/sqlstore"
)

func serveCommand() *cobra.Command {
	var configFile string
	var printConfig bool
	var flags struct{ sip, msrp, http, data, domain, advertise, nodeID string }
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the focus: SIP, MSRP and HTTP listeners (defaults: loopback, ./data, a room 'lobby')",
		Long: "Run the focus: SIP, MSRP and HTTP listeners (defaults: loopback, ./data, a room 'lobby').\n\n" +
			"The flags --config, --sip, --msrp, --http, --data, --domain, --advertise and --node-id can be set in\n" +
			"the environment too, as PARLEY_CONFIG, PARLEY_SIP, PARLEY_MSRP, PARLEY_HTTP, PARLEY_DATA, PARLEY_DOMAIN,\n" +
			"PARLEY_ADVERTISE and PARLEY_NODE_ID: the file overrides the defaults, the environment the file, the flags\n" +
			"everything. PARLEY_STORE_DSN sets store.dsn (the PostgreSQL connection string with store.driver\n" +
			"postgres), PARLEY_NATS_URL cluster.nats_url (the relay between several nodes).\n\n" +
			"Signals: SIGTERM and Ctrl-C shut down (BYE to everyone within shutdown_timeout); SIGHUP reads the\n" +
			"configuration again (as `parley reload`); SIGUSR2 drains (as `parley drain`): 503 to new calls, a\n" +
			"notice to every room, shutdown once they are empty or after drain_timeout.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Each flag may come from the environment too (PARLEY_CONFIG, PARLEY_SIP, …):
			// defaults, then the file, then the environment, then the flags.
			fromEnv := func(name string) (string, bool) {
				return os.LookupEnv("PARLEY_" + strings.ToUpper(name))
			}
			if v, ok := fromEnv("config"); ok && !cmd.Flags().Changed("config") {
				configFile = v
			}
			// load is run again by a reload (SIGHUP, `parley reload`).
			load := func() (*configs.Config, error) {
				cfg, err := configs.Load(configFile)
				if err != nil {
					return nil, err
				}
				set := func(name string, dst *string, val string) {
					if cmd.Flags().Changed(name) {
						*dst = val
					} else if v, ok := fromEnv(name); ok {
						*dst = v
					}
				}
				set("sip", &cfg.SIP.Listen, flags.sip)
				set("msrp", &cfg.MSRP.Listen, flags.msrp)
				set("http", &cfg.HTTP.Listen, flags.http)
				set("data", &cfg.DataDir, flags.data)
				set("domain", &cfg.Domain, flags.domain)
				set("advertise", &cfg.AdvertisedHost, flags.advertise)
				set("node-id", &cfg.Cluster.NodeID, flags.nodeID)
				if err := cfg.Resolve(); err != nil {
					return nil, fmt.Errorf("configuration:\n%w", err)
				}
				return cfg, nil
			}
			cfg, err := load()
			if err != nil {
				return err
			}
			if printConfig {
				out, err := cfg.EffectiveYAML()
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(out)
				return err
			}
			log := newLogger(cfg.Log)
			// sipgo's transport and transaction layers log through its package-level logger.
			sipgolib.SetDefaultLogger(log.With("subsystem", "sip"))
			d, err := startDaemon(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			d.admin.load = load
			return d.serveSignals(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configFile, "config", "c", "", "configuration file (keys and defaults: configs/parley.yaml)")
	f.BoolVar(&printConfig, "print-config", false, "print the effective configuration (defaults, file, environment and flags; secrets masked) as YAML and exit")
	f.StringVar(&flags.sip, "sip", "", "SIP listen address, UDP and TCP (sip.listen)")
	f.StringVar(&flags.msrp, "msrp", "", "MSRP listen address (msrp.listen)")
	f.StringVar(&flags.http, "http", "", "HTTP listen address for /healthz and /metrics (http.listen)")
	f.StringVar(&flags.data, "data", "", "database directory (data_dir)")
	f.StringVar(&flags.domain, "domain", "", "SIP domain of the rooms (domain; default: the SIP listen host)")
	f.StringVar(&flags.advertise, "advertise", "", "host written into Contact, Via, SDP and a=path (advertised_host)")
	f.StringVar(&flags.nodeID, "node-id", "", "this node's name among several sharing one store (cluster.node_id; default: the host name)")
	return cmd
}

func newLogger(c configs.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// daemon is one running focus: every listener bound, every subsystem wired.
type daemon struct {
	cfg       *configs.Config
	log       *slog.Logger
	store     *sqlstore.Store
	commits   prometheus.Histogram // parley_log_commit_duration_seconds, fed by the log writer
	deadNodes prometheus.Counter   // parley_dead_nodes_purged_total (nodes.go)
	endpoint  *msrp.Endpoint
	focus     *focus.Focus
	relay     *natsrelay.Relay // several nodes (cluster.nats_url); nil otherwise
	node      string           // cluster.node_id, or the host name
	sip       *sipserver.Server
	ccmp      *ccmp.Handler
	http      *http.Server
	admin     adminState // reload, certificates, drain (admin.go)

	msrpAddr, msrpTLSAddr, httpAddr, httpsAddr net.Addr
	httpLimit                                  *connLimit // http.max_conns_per_ip, http.max_conns
	wsOn, wssOn                                bool       // SIP and MSRP over WebSocket on the HTTP, HTTPS listener
	ready                                      atomic.Bool
	stopServing                                context.CancelFunc
	serving                                    sync.WaitGroup
}

// startDaemon binds every listener and starts serving; it returns once all are up.
// ctx only bounds start-up; the daemon runs until shutdown.
func startDaemon(ctx context.Context, cfg *configs.Config, log *slog.Logger) (d *daemon, err error) {
	d = &daemon{cfg: cfg, log: log, node: nodeName(cfg), deadNodes: prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "parley", Name: "dead_nodes_purged_total",
		Help: "Nodes sharing the store found silent for cluster.dead_after, whose bindings this node purged."})}
	d.admin.drained = make(chan struct{})
	openFiles := raiseOpenFileLimit(log)
	st := &startup{}
	defer func() {
		if err != nil {
			st.undo()
		}
	}()
	if err := d.openStore(ctx, st); err != nil {
		return nil, err
	}
	if err := d.listen(st); err != nil {
		return nil, err
	}
	d.newEndpoint(st)
	specs := roomSpecs(cfg)
	if err := d.newFocus(ctx, st, specs); err != nil {
		return nil, err
	}
	if err := d.openRelay(ctx, st); err != nil {
		return nil, err
	}
	if err := d.newSIP(specs); err != nil {
		return nil, err
	}
	reg, err := d.registry()
	if err != nil {
		d.sip.Close()
		return nil, err
	}
	d.http = &http.Server{Handler: d.routes(reg), ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout: cfg.HTTP.ReadTimeout}
	d.serve(st)
	log.Info("parley serving",
		"sip", net.JoinHostPort(hostOf(cfg.SIP.Listen), fmt.Sprint(d.sip.Port())), "msrp", d.msrpAddr.String(),
		"http", d.httpAddr.String(), "domain", cfg.Domain, "advertised_host", cfg.AdvertisedHost,
		"data", cfg.DataDir, "rooms", strings.Join(d.focus.Rooms(), ","), "open_files", openFiles)
	return d, nil
}

// startup is what startDaemon has opened so far: the listeners, the MSRP certificate, and how
// to close them again when a later step fails.
type startup struct {
	closers                        []func()
	msrpLn, tlsLn, httpLn, httpsLn net.Listener // tlsLn, httpsLn: nil when not configured
	cert                           *tls.Certificate
}

func (st *startup) onFailure(close func()) { st.closers = append(st.closers, close) }

func (st *startup) undo() {
	for i := len(st.closers) - 1; i >= 0; i-- {
		st.closers[i]()
	}
}

// openRelay connects to the other nodes' relay (cluster.nats_url), when there are others.
func (d *daemon) openRelay(ctx context.Context, st *startup) (err error) {
	cl := d.cfg.Cluster
	if cl.NATSURL == "" {
		return nil
	}
	d.relay, err = natsrelay.Open(ctx, natsrelay.Config{URL: cl.NATSURL, Node: d.node, Replicas: cl.StreamReplicas,
		Logger: d.log.With("subsystem", "relay")}, d.focus)
	if err != nil {
		return fmt.Errorf("cluster.nats_url: %w", err)
	}
	st.onFailure(d.relay.Close)
	d.focus.SetRelay(d.relay)
	d.focus.RefreshRosters()
	d.log.Info("relaying rooms between nodes", "node", d.node, "stream", natsrelay.StreamName)
	return nil
}

// nodeName is cluster.node_id, or the host's name.
func nodeName(cfg *configs.Config) string {
	if cfg.Cluster.NodeID != "" {
		return cfg.Cluster.NodeID
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "parley"
}

// openStore opens the database (store.driver).
func (d *daemon) openStore(ctx context.Context, st *startup) (err error) {
	cfg := d.cfg
	d.commits = newCommitHistogram()
	storeOpts := []sqlstore.Option{sqlstore.WithCommitWindow(cfg.CommitWindow),
		sqlstore.WithCommitObserver(func(took time.Duration) { d.commits.Observe(took.Seconds()) }),
		sqlstore.WithNode(d.node)}
	if cfg.Store.Driver == configs.StorePostgres {
		if d.store, err = sqlstore.OpenPostgres(ctx, cfg.Store.DSN, storeOpts...); err != nil {
			return fmt.Errorf("store (driver postgres): %w", err)
		}
	} else if d.store, err = sqlstore.Open(ctx, cfg.DataDir, storeOpts...); err != nil {
		return fmt.Errorf("database in %s: %w", cfg.DataDir, err)
	}
	d.log.Info("store open", "driver", cfg.Store.Driver)
	store := d.store // d is nil by the time a failed start runs the closers
	st.onFailure(func() { store.Close() })
	return nil
}

// listen binds the MSRP listeners (with the MSRP certificate) and the HTTP ones.
func (d *daemon) listen(st *startup) (err error) {
	cfg := d.cfg
	if st.msrpLn, err = net.Listen("tcp", cfg.MSRP.Listen); err != nil {
		return fmt.Errorf("msrp.listen: %w", err)
	}
	msrpLn := st.msrpLn
	st.onFailure(func() { msrpLn.Close() })
	d.msrpAddr = msrpLn.Addr()
	if cfg.MSRP.TLSListen != "" {
		if cfg.MSRP.TLSCertFile != "" {
			// Read again when the files change (admin.go); sessions then advertise its fingerprint.
			if d.admin.msrpCert, err = newCertFile("msrp.tls_cert_file", cfg.MSRP.TLSCertFile, cfg.MSRP.TLSKeyFile); err != nil {
				return err
			}
			st.cert = d.admin.msrpCert.current.Load()
		} else {
			c, err := loadCertificate(cfg)
			if err != nil {
				return err
			}
			st.cert = &c
		}
		tlsLn, err := net.Listen("tcp", cfg.MSRP.TLSListen)
		if err != nil {
			return fmt.Errorf("msrp.tls_listen: %w", err)
		}
		st.tlsLn = tlsLn
		st.onFailure(func() { tlsLn.Close() })
		d.msrpTLSAddr = tlsLn.Addr()
	}
	// The HTTP listeners are bound first: MSRP and SIP over WebSocket (RFC 7977, RFC 7118) are served
	// on them, and their ports go into the focus's a=path and Contact.
	httpLn, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen: %w", err)
	}
	st.httpLn = httpLn
	st.onFailure(func() { httpLn.Close() })
	d.httpAddr = httpLn.Addr()
	d.httpLimit = newConnLimit(cfg.HTTP.MaxConnsPerIP, cfg.HTTP.MaxConns, d.log.With("subsystem", "http"))
	if cfg.HTTP.TLSListen != "" {
		// The same endpoints over HTTPS (RFC 6503 §11: TLS is mandatory to implement for CCMP).
		// Read again when the files change (admin.go).
		if d.admin.httpsCert, err = newCertFile("http.tls_cert_file", cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile); err != nil {
			return err
		}
		tlsConf := &tls.Config{GetCertificate: d.admin.httpsCert.getCertificate, MinVersion: tls.VersionTLS12}
		ln, err := net.Listen("tcp", cfg.HTTP.TLSListen)
		if err != nil {
			return fmt.Errorf("http.tls_listen: %w", err)
		}
		st.onFailure(func() { ln.Close() })
		st.httpsLn = tls.NewListener(d.httpLimit.wrap(ln), tlsConf) // limited below TLS: http.Server must see the *tls.Conn
		d.httpsAddr = ln.Addr()
	}
	d.wsOn, d.wssOn = webSocketListeners(cfg, d.httpAddr, d.httpsAddr)
	return nil
}

// newEndpoint makes the MSRP endpoint, advertising the listeners bound.
func (d *daemon) newEndpoint(st *startup) {
	cfg := d.cfg
	var wsPort, wssPort int
	if d.wsOn {
		wsPort = portOf(d.httpAddr)
	}
	if d.wssOn {
		wssPort = portOf(d.httpsAddr)
	}
	d.endpoint = msrp.NewEndpoint(msrp.Config{
		AdvertisedWSPort:   wsPort,
		AdvertisedWSSPort:  wssPort,
		AdvertisedHost:     cfg.AdvertisedHost,
		AdvertisedPort:     st.msrpLn.Addr().(*net.TCPAddr).Port,
		MaxMessageSize:     cfg.MSRP.MaxMessageSize,
		MaxHeaderBytes:     cfg.MSRP.MaxHeaderBytes,
		MaxPendingBytes:    cfg.MSRP.MaxPendingBytes,
		StreamThreshold:    cfg.MSRP.StreamThreshold,
		WriteDeadline:      cfg.MSRP.WriteDeadline,
		BindTimeout:        cfg.MSRP.BindTimeout,
		TransactionTimeout: cfg.MSRP.TransactionTimeout,
		MaxConnsPerIP:      cfg.MSRP.MaxConnsPerIP,
		IdleTimeout:        cfg.MSRP.IdleTimeout,
		MaxUnknownSessions: cfg.MSRP.MaxUnknownSessions,
		MaxConns:           cfg.MSRP.MaxConns,
		HeaderTimeout:      cfg.MSRP.HeaderTimeout,
		AdvertisedTLSPort:  portOf(d.msrpTLSAddr),
		Certificate:        st.cert,
		Logger:             d.log.With("subsystem", "msrp"),
	})
}

// newFocus makes the focus over the store and the MSRP endpoint, with the configured rooms.
func (d *daemon) newFocus(ctx context.Context, st *startup, specs []focus.RoomSpec) (err error) {
	cfg := d.cfg
	fingerprint := ""
	if st.cert != nil {
		fingerprint = msrp.Fingerprint(*st.cert)
	}
	d.focus, err = focus.New(ctx, focus.Config{
		Domain:             cfg.Domain,
		Node:               d.node,
		LocalHosts:         localHosts(cfg),
		MaxMessageSize:     cfg.MSRP.MaxMessageSize,
		WrappedTypes:       cfg.WrappedTypes,
		TLSFingerprint:     fingerprint,
		NicknameScope:      nicknameScope(cfg.Nicknames.Scope),
		NicknameQuarantine: cfg.Nicknames.Quarantine,
		ReservedNicknames:  cfg.Nicknames.Reserved,
		FileQuota:          cfg.FileQuota,
		FileTotalQuota:     cfg.FileTotalQuota,
		MaxFileSize:        cfg.MaxFileSize,
		FilesDir:           filepath.Join(cfg.DataDir, "files"),
		AdhocIdle:          cfg.SIP.AdhocIdle,
		RoomIdle:           cfg.RoomIdle,
		PurgeIdleLog:       cfg.RoomIdleLog == configs.IdleLogPurge,
		ArchiveDir:         filepath.Join(cfg.DataDir, "collected"),
		AuditRetention:     cfg.AuditRetention,
		PageIdle:           cfg.SIP.PageIdle,
		PageRate:           cfg.SIP.PageRate,
		PageBurst:          cfg.SIP.PageBurst,
		PageQueue:          cfg.SIP.PageQueue,
		PageTimeout:        cfg.SIP.PageTimeout,
		PageMaxFailures:    cfg.SIP.PageMaxFailures,
		Administrators:     administrators(cfg),
		Creators:           cfg.RoomCreators,
		MessageRate:        cfg.MessageRate,
		MessageBurst:       cfg.MessageBurst,
		Logger:             d.log.With("subsystem", "focus"),
	}, d.store, d.endpoint, specs)
	if err != nil {
		return err
	}
	if c := d.admin.msrpCert; c != nil {
		c.onChange = func(cert *tls.Certificate) {
			d.endpoint.SetCertificate(cert)
			d.focus.SetTLSFingerprint(msrp.Fingerprint(*cert))
		}
	}
	return nil
}

// newSIP makes the SIP server, with peering, and wires it into the focus.
func (d *daemon) newSIP(specs []focus.RoomSpec) (err error) {
	cfg := d.cfg
	peering, err := sipPeering(cfg, specs)
	if err != nil {
		return err
	}
	if cfg.SIP.TLSListen != "" && cfg.SIP.TLSCertFile != "" {
		// Read again when the files change (admin.go).
		if d.admin.sipCert, err = newCertFile("sip.tls_cert_file", cfg.SIP.TLSCertFile, cfg.SIP.TLSKeyFile); err != nil {
			return err
		}
		peering.GetCertificate = d.admin.sipCert.getCertificate
	}
	d.sip, err = sipserver.New(sipserver.Config{
		Listen:         cfg.SIP.Listen,
		AdvertisedHost: cfg.AdvertisedHost,
		UserAgent:      cfg.SIP.UserAgent,
		UDPMTU:         cfg.SIP.UDPMTU,
		PageMaxBody:    cfg.SIP.PageMaxBody,
		Domain:         cfg.Domain,
		OutboundProxy:  cfg.SIP.OutboundProxy,
		DNSServer:      cfg.SIP.DNSServer,
		TrustedProxies: cfg.SIP.TrustedProxies,
		Auth:           sipAuth(cfg.SIP.Auth),
		Limits: sipserver.Limits{InviteRate: cfg.SIP.InviteRate, SubscribeRate: cfg.SIP.SubscribeRate,
			MaxDialogsPerSource: cfg.SIP.MaxDialogsPerSource, MaxPendingInvites: cfg.SIP.MaxPendingInvites,
			MaxConnsPerIP: cfg.SIP.MaxConnsPerIP, MaxConns: cfg.SIP.MaxConns, MessageTimeout: cfg.SIP.MessageTimeout},
		Events: sipserver.EventsConfig{DefaultExpires: cfg.SIP.Subscriptions.DefaultExpires,
			MinExpires: cfg.SIP.Subscriptions.MinExpires, MaxExpires: cfg.SIP.Subscriptions.MaxExpires,
			Coalesce: cfg.SIP.Subscriptions.Coalesce, MaxSubscriptions: cfg.SIP.Subscriptions.Max},
		Peering:           peering,
		MinSessionExpires: cfg.SIP.MinSessionExpires,
		Logger:            d.log.With("subsystem", "sip"),
	}, d.focus)
	if err != nil {
		return err
	}
	d.focus.SetSignaling(d.sip)
	d.focus.SetPager(d.sip) // page-mode members' MESSAGEs
	return nil
}

// serve starts every listener's server and the background upkeep; the daemon is ready then.
func (d *daemon) serve(st *startup) {
	msrpLn, tlsLn, httpLn, httpsLn := st.msrpLn, st.tlsLn, st.httpLn, st.httpsLn
	serveCtx, stop := context.WithCancel(context.Background())
	d.stopServing = stop
	d.goServe("sip", func() error { return d.sip.Serve(serveCtx) })
	d.goServe("msrp", func() error { return d.endpoint.Serve(serveCtx, msrpLn) })
	if tlsLn != nil {
		d.goServe("msrps", func() error { return d.endpoint.ServeTLS(serveCtx, tlsLn) })
	}
	d.goServe("http", func() error {
		if err := d.http.Serve(d.httpLimit.wrap(httpLn)); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	if httpsLn != nil {
		d.goServe("https", func() error {
			if err := d.http.Serve(httpsLn); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	d.watchCertificates(serveCtx)
	d.trimMemoryWhenQuiet(serveCtx)
	if d.cfg.Store.Driver == configs.StorePostgres {
		d.goServe("nodes", func() error { d.watchNodes(serveCtx); return nil })
	}
	stopFloor := startHeapFloor(uint64(d.cfg.GCHeapFloor))
	context.AfterFunc(serveCtx, stopFloor)
	d.ready.Store(true)
}

func (d *daemon) goServe(name string, serve func() error) {
	d.serving.Add(1)
	go func() {
		defer d.serving.Done()
		if err := serve(); err != nil {
			d.log.Error("listener failed", "listener", name, "err", err)
		}
	}()
}

// shutdown ends every participant (BYEs in parallel) and every conference-event subscription
// (a terminated NOTIFY), then stops the listeners and closes the database, all within
// shutdown_timeout.
func (d *daemon) shutdown() error {
	d.ready.Store(false)
	timeout := d.current().ShutdownTimeout
	d.log.Info("shutting down", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	// BYEs get most of the budget; closing listeners and the database needs the rest.
	byes, cancelByes := context.WithTimeout(ctx, timeout*4/5)
	defer cancelByes()
	// Subscribers get their final NOTIFY while the participants get their BYEs.
	notified := make(chan struct{})
	go func() { d.sip.EndSubscriptions(byes); close(notified) }()
	if err := d.focus.Shutdown(byes); err != nil {
		errs = append(errs, fmt.Errorf("focus: %w", err))
	}
	<-notified
	d.stopServing()
	d.endpoint.Close()
	if err := d.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http: %w", err))
	}
	d.serving.Wait()
	d.sip.Close()
	if d.relay != nil {
		d.relay.Close()
	}
	if err := d.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("database: %w", err))
	}
	d.log.Info("stopped")
	return errors.Join(errs...)
}

func (d *daemon) routes(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "starting or stopping", http.StatusServiceUnavailable)
			return
		}
		if d.admin.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	var blueprints []ccmp.BlueprintSpec
	for _, b := range d.cfg.Blueprints {
		spec := ccmp.BlueprintSpec{Name: b.Name, DisplayText: b.DisplayText, Purpose: b.Purpose}
		for _, ch := range b.Channels {
			spec.Channels = append(spec.Channels, ccmp.ChannelSpec{Label: ch.Label, Language: ch.Language, Name: ch.Name})
		}
		blueprints = append(blueprints, spec)
	}
	ccmpHandler := ccmp.NewHandler(ccmp.HandlerConfig{Domain: d.cfg.Domain, Blueprints: blueprints,
		MaxBodyBytes: d.cfg.CCMP.MaxBodyBytes, RequestTimeout: d.cfg.CCMP.RequestTimeout,
		RequestRate: d.cfg.CCMP.RequestRate,
		Credentials: ccmpCredentials(d.cfg.CCMP.Auth), DialOut: d.cfg.CCMP.DialOut, Logger: d.log.With("subsystem", "ccmp")}, d.focus)
	d.ccmp = ccmpHandler
	reg.MustRegister(ccmpHandler.Collectors()...)
	mux.Handle("/ccmp", ccmpHandler)
	d.adminRoutes(mux)
	d.webSocketRoutes(mux)
	if d.cfg.HTTP.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry: reg, EnableOpenMetrics: true, ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelError)})))
	return mux
}

func (d *daemon) registry() (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := d.focus.Register(reg); err != nil {
		return nil, err
	}
	if err := d.sip.Metrics().Register(reg); err != nil {
		return nil, err
	}
	if err := registerLogStats(reg, d.store, d.commits); err != nil {
		return nil, err
	}
	if err := reg.Register(memoryTrims); err != nil {
		return nil, err
	}
	if err := reg.Register(gcPercent); err != nil {
		return nil, err
	}
	// Which node these figures are of, when several share the store.
	nodeInfo := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "parley", Name: "node_info",
		Help: "1, labelled with this node's name (cluster.node_id).", ConstLabels: prometheus.Labels{"node": d.node}})
	nodeInfo.Set(1)
	if err := reg.Register(nodeInfo); err != nil {
		return nil, err
	}
	if err := reg.Register(d.deadNodes); err != nil {
		return nil, err
	}
	if d.httpLimit != nil {
		if err := reg.Register(d.httpLimit.rejected); err != nil {
			return nil, err
		}
		if err := reg.Register(d.httpLimit.slow); err != nil {
			return nil, err
		}
	}
	return reg, registerMSRPStats(reg, d.endpoint)
}

// roomSpecs are the rooms of the configuration.
func roomSpecs(cfg *configs.Config) []focus.RoomSpec {
	specs := make([]focus.RoomSpec, len(cfg.Rooms))
	for i, r := range cfg.Rooms {
		specs[i] = focus.RoomSpec{Name: r.Name, DisplayText: r.DisplayText, Subject: r.Subject,
			Policy: xcon.RoomPolicy{Logging: r.Logging, History: r.HistoryOrDefault(), KeepFor: r.KeepFor, KeepMessages: r.KeepMessages,
				Moderated: r.Moderated}, Owner: r.Owner, MaxUsers: r.MaxUsers}
		for _, ch := range r.Channels {
			specs[i].Channels = append(specs[i].Channels, xcon.Channel{Label: ch.Label, Language: ch.Language, DisplayText: ch.Name})
		}
	}
	return specs
}

// localHosts lists the hosts that name this focus besides the domain: listen hosts (every
// interface address when a listener binds a wildcard), the advertised host and the aliases.
func localHosts(cfg *configs.Config) []string {
	hosts := append([]string{cfg.AdvertisedHost}, cfg.HostAliases...)
	for _, listen := range []string{cfg.SIP.Listen, cfg.MSRP.Listen, cfg.SIP.TLSListen} {
		if listen == "" {
			continue
		}
		h := hostOf(listen)
		if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
			if addrs, err := net.InterfaceAddrs(); err == nil {
				for _, a := range addrs {
					if n, ok := a.(*net.IPNet); ok {
						hosts = append(hosts, n.IP.String())
					}
				}
			}
			continue
		}
		hosts = append(hosts, h)
	}
	return hosts
}

// sipAuth translates sip.auth; nil while it names no users.
func sipAuth(a configs.SIPAuth) *sipserver.AuthConfig {
	if len(a.Users) == 0 {
		return nil
	}
	out := &sipserver.AuthConfig{Realm: a.Realm, Rooms: a.Rooms, NonceTTL: a.NonceTTL}
	for _, u := range a.Users {
		out.Users = append(out.Users, sipserver.AuthUser{Name: u.Name, Password: u.Password, HA1: u.HA1})
	}
	return out
}

func nicknameScope(s string) focus.NicknameScope {
	if s == "room" {
		return focus.ScopeRoom
	}
	return focus.ScopeSystem
}

// ccmpCredentials turns ccmp.auth into the handler's credentials; nil keeps the loopback default.
func ccmpCredentials(a configs.CCMPAuth) *ccmp.Credentials {
	if len(a.Users) == 0 {
		return nil
	}
	c := &ccmp.Credentials{Realm: a.Realm, NonceLifetime: a.NonceLifetime}
	for _, u := range a.Users {
		c.Users = append(c.Users, ccmp.Credential{Name: u.Name, Password: u.Password, HA1: u.HA1, Admin: u.Admin})
	}
	return c
}

// loadCertificate returns the MSRP TLS certificate: the configured files, or a self-signed
// one kept in the data directory (created on first use).
func loadCertificate(cfg *configs.Config) (tls.Certificate, error) {
	if cfg.MSRP.TLSCertFile != "" {
		c, err := tls.LoadX509KeyPair(cfg.MSRP.TLSCertFile, cfg.MSRP.TLSKeyFile)
		if err != nil {
			return c, fmt.Errorf("msrp.tls_cert_file: %w", err)
		}
		return c, nil
	}
	c, err := msrp.LoadOrCreateCertificate(cfg.DataDir)
	if err != nil {
		return c, fmt.Errorf("msrp TLS certificate in %s: %w", cfg.DataDir, err)
	}
	return c, nil
}

func portOf(a net.Addr) int {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.Port
	}
	return 0
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

// administrators are the CCMP users with admin: a SIP caller proven to be one of them (the same
// name at the domain) may do what they may, create rooms.
func administrators(cfg *configs.Config) []string {
	var out []string
	for _, u := range cfg.CCMP.Auth.Users {
		if u.Admin {
			out = append(out, u.Name)
		}
	}
	return out
}
