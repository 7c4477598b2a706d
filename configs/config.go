// Package configs owns Parley's configuration: the documented defaults (parley.yaml, compiled in),
// loading an operator's file over them, and checking the result.
package configs

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/parleychat/parley/focus"
)

// defaultYAML is the documented configuration file; its values are the defaults, so the
// documentation and the behaviour cannot drift apart.
//
//go:embed parley.yaml
var defaultYAML []byte

// Config is the whole daemon configuration. Field comments live in parley.yaml.
type Config struct {
	Domain          string        `yaml:"domain"`
	HostAliases     []string      `yaml:"host_aliases"`
	AdvertisedHost  string        `yaml:"advertised_host"`
	DataDir         string        `yaml:"data_dir"`
	Store           Store         `yaml:"store"`
	Cluster         Cluster       `yaml:"cluster"`
	CommitWindow    time.Duration `yaml:"commit_window"`
	GCHeapFloor     int64         `yaml:"gc_heap_floor"`
	SIP             SIP           `yaml:"sip"`
	MSRP            MSRP          `yaml:"msrp"`
	HTTP            HTTP          `yaml:"http"`
	Log             Log           `yaml:"log"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	DrainTimeout    time.Duration `yaml:"drain_timeout"`
	WrappedTypes    []string      `yaml:"wrapped_types"`
	FileQuota       int64         `yaml:"file_quota"`
	FileTotalQuota  int64         `yaml:"file_total_quota"`
	MaxFileSize     int64         `yaml:"max_file_size"`
	MessageRate     float64       `yaml:"message_rate"`
	MessageBurst    int           `yaml:"message_burst"`
	Nicknames       Nicknames     `yaml:"nicknames"`
	Blueprints      []Blueprint   `yaml:"blueprints"`
	CCMP            CCMP          `yaml:"ccmp"`
	RoomCreators    []string      `yaml:"room_creators"`
	// RoomIdle: a room created over CCMP (not one of Rooms, not ad-hoc) that has had nobody in
	// it and no change for this long is deleted; 0 (the default) keeps them.
	RoomIdle time.Duration `yaml:"room_idle"`
	// RoomIdleLog: what becomes of the log of a room deleted for being idle (ad-hoc rooms
	// too): IdleLogKeep writes it to data_dir/collected first, IdleLogPurge deletes it.
	RoomIdleLog string `yaml:"room_idle_log"`
	// AuditRetention: audit rows older than this are deleted; 0 keeps them all.
	AuditRetention time.Duration `yaml:"audit_retention"`
	Rooms          []Room        `yaml:"rooms"`

	// source and lines (key path → line) come from the operator's file, so that Resolve's
	// errors point at the line that set the key.
	source string
	lines  map[string]int
}

// Store chooses the database of the xcon store.
type Store struct {
	Driver string `yaml:"driver"` // StoreSQLite or StorePostgres
	DSN    string `yaml:"dsn"`    // PostgreSQL connection string (driver postgres)
}

// Cluster makes this process one node of several sharing one store (store.driver postgres),
// its rooms' messages relayed between them by NATS JetStream.
type Cluster struct {
	NodeID         string        `yaml:"node_id"`         // this node's name among them ("": the host name)
	NATSURL        string        `yaml:"nats_url"`        // "": one node, no relay
	StreamReplicas int           `yaml:"stream_replicas"` // replicas of the relay's stream when it is created
	DeadAfter      time.Duration `yaml:"dead_after"`      // a node silent this long has its bindings purged
}

// EnvNATSURL, when set, overrides cluster.nats_url (which may hold a password).
const EnvNATSURL = "PARLEY_NATS_URL"

// The store drivers.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// EnvStoreDSN, when set, overrides store.dsn.
const EnvStoreDSN = "PARLEY_STORE_DSN"

// Blueprint is a room template offered over CCMP.
type Blueprint struct {
	Name        string    `yaml:"name"`
	DisplayText string    `yaml:"display_text"`
	Purpose     string    `yaml:"purpose"`
	Channels    []Channel `yaml:"channels"`
}

type CCMP struct {
	MaxBodyBytes   int64         `yaml:"max_body_bytes"`
	RequestTimeout time.Duration `yaml:"request_timeout"`
	RequestRate    float64       `yaml:"request_rate"`
	DialOut        bool          `yaml:"dial_out"`
	Auth           CCMPAuth      `yaml:"auth"`
}

// CCMPAuth configures who may use CCMP; no users means loopback-only administrators.
type CCMPAuth struct {
	Realm         string        `yaml:"realm"`
	NonceLifetime time.Duration `yaml:"nonce_lifetime"`
	Users         []CCMPUser    `yaml:"users"`
}

type CCMPUser struct {
	Name     string `yaml:"name"`
	Password string `yaml:"password"`
	HA1      string `yaml:"ha1"`
	Admin    bool   `yaml:"admin"`
}

type SIP struct {
	Listen              string        `yaml:"listen"`
	UDPMTU              int           `yaml:"udp_mtu"`
	UserAgent           string        `yaml:"user_agent"`
	OutboundProxy       string        `yaml:"outbound_proxy"`
	DNSServer           string        `yaml:"dns_server"`
	TrustedProxies      []string      `yaml:"trusted_proxies"`
	InviteRate          float64       `yaml:"invite_rate"`
	SubscribeRate       float64       `yaml:"subscribe_rate"`
	MaxDialogsPerSource int           `yaml:"max_dialogs_per_source"`
	MaxPendingInvites   int           `yaml:"max_pending_invites"`
	MaxConnsPerIP       int           `yaml:"max_conns_per_ip"`
	MaxConns            int           `yaml:"max_conns"`
	MessageTimeout      time.Duration `yaml:"message_timeout"`
	Auth                SIPAuth       `yaml:"auth"`
	Subscriptions       Subscriptions `yaml:"subscriptions"`
	// SIP over TLS, ad-hoc rooms and REFER (parley.yaml documents them).
	TLSListen    string        `yaml:"tls_listen"`
	TLSCertFile  string        `yaml:"tls_cert_file"`
	TLSKeyFile   string        `yaml:"tls_key_file"`
	Factory      string        `yaml:"factory"` // resolved to a full SIP URI; "" = no ad-hoc rooms
	AdhocAllowed []string      `yaml:"adhoc_allowed"`
	AdhocIdle    time.Duration `yaml:"adhoc_idle"`
	PageIdle     time.Duration `yaml:"page_idle"` // page-mode members (MESSAGE) dropped after this without sending; 0 keeps them
	// Flow control towards page-mode members (parley.yaml documents each).
	PageRate        float64       `yaml:"page_rate"`
	PageBurst       int           `yaml:"page_burst"`
	PageQueue       int           `yaml:"page_queue"`
	PageTimeout     time.Duration `yaml:"page_timeout"`
	PageMaxFailures int           `yaml:"page_max_failures"`
	PageMaxBody     int           `yaml:"page_max_body"`
	ReferAllowed    string        `yaml:"refer_allowed"`

	MinSessionExpires time.Duration `yaml:"min_session_expires"` // RFC 4028 Min-SE
}

// SIPAuth is SIP Digest authentication of joins (off while Users is empty).
type SIPAuth struct {
	Realm    string        `yaml:"realm"`
	Users    []SIPUser     `yaml:"users"`
	Rooms    []string      `yaml:"rooms"`
	NonceTTL time.Duration `yaml:"nonce_ttl"`
}

// SIPUser is one Digest account: a password, or its HA1 (MD5 of name:realm:password, hex).
type SIPUser struct {
	Name     string `yaml:"name"`
	Password string `yaml:"password"`
	HA1      string `yaml:"ha1"`
}

type MSRP struct {
	Listen             string        `yaml:"listen"`
	MaxMessageSize     int64         `yaml:"max_message_size"`
	MaxHeaderBytes     int           `yaml:"max_header_bytes"`
	MaxPendingBytes    int           `yaml:"max_pending_bytes"`
	StreamThreshold    int64         `yaml:"stream_threshold"`
	WriteDeadline      time.Duration `yaml:"write_deadline"`
	BindTimeout        time.Duration `yaml:"bind_timeout"`
	TransactionTimeout time.Duration `yaml:"transaction_timeout"`
	MaxConnsPerIP      int           `yaml:"max_conns_per_ip"`
	IdleTimeout        time.Duration `yaml:"idle_timeout"`
	MaxUnknownSessions int           `yaml:"max_unknown_sessions"`
	MaxConns           int           `yaml:"max_conns"`
	HeaderTimeout      time.Duration `yaml:"header_timeout"`
	TLSListen          string        `yaml:"tls_listen"`
	TLSCertFile        string        `yaml:"tls_cert_file"`
	TLSKeyFile         string        `yaml:"tls_key_file"`
}

type HTTP struct {
	Listen      string `yaml:"listen"`
	TLSListen   string `yaml:"tls_listen"`
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	Pprof       bool   `yaml:"pprof"`

	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	MaxConnsPerIP     int           `yaml:"max_conns_per_ip"`
	MaxConns          int           `yaml:"max_conns"`
	// WebSocket serves SIP (GET /sip, RFC 7118) and MSRP (GET /msrp, RFC 7977) over WebSocket:
	// "auto", "on" or "off".
	WebSocket string   `yaml:"websocket"`
	WSOrigins []string `yaml:"ws_origins"`
	// WebClient serves the browser chat client at / on the listeners that serve WebSocket.
	WebClient bool `yaml:"web_client"`
}

type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

type Nicknames struct {
	Scope      string        `yaml:"scope"`
	Quarantine time.Duration `yaml:"quarantine"`
	Reserved   []string      `yaml:"reserved"`
}

// Subscriptions configures the conference event package.
type Subscriptions struct {
	DefaultExpires time.Duration `yaml:"default_expires"`
	MinExpires     time.Duration `yaml:"min_expires"`
	MaxExpires     time.Duration `yaml:"max_expires"`
	Coalesce       time.Duration `yaml:"coalesce"`
	Max            int           `yaml:"max"`
}

// What room_idle_log may say.
const (
	IdleLogKeep  = "keep"
	IdleLogPurge = "purge"
)

// Room is a room created on first start.
type Room struct {
	Name        string `yaml:"name"`
	DisplayText string `yaml:"display_text"`
	Subject     string `yaml:"subject"`
	Logging     bool   `yaml:"logging"`
	History     *int   `yaml:"history"` // nil: DefaultHistory
	// Moderated: joiners without a role of their own are visitors (role observer) until a
	// moderator gives them voice (role participant).
	Moderated bool      `yaml:"moderated"`
	Channels  []Channel `yaml:"channels"`
	// Log retention: messages older than KeepFor, and all but the newest KeepMessages, are
	// purged (zero keeps everything).
	KeepFor      time.Duration `yaml:"keep_for"`
	KeepMessages int           `yaml:"keep_messages"`
	// MaxUsers: most users in the room at once (its maximum-user-count; 486 beyond); 0 = no limit.
	MaxUsers int `yaml:"max_users"`
	// Owner is recorded in the room as a user with the roles administrator and organizer (a SIP
	// URI, or a user name meaning sip:NAME@DOMAIN). Empty means the administrator identity
	// (AdminIdentity); Resolve fills it in.
	Owner string `yaml:"owner"`
}

// Channel is one chat channel of a room (an available-media entry of type message).
type Channel struct {
	Label    string `yaml:"label"`
	Language string `yaml:"language"`
	Name     string `yaml:"name"`
}

// DefaultHistory is how many messages a logged room replays to a joiner when its entry does
// not say.
const DefaultHistory = 20

// HistoryOrDefault returns the room's history depth.
func (r Room) HistoryOrDefault() int {
	if r.History == nil {
		return DefaultHistory
	}
	return *r.History
}

// Default returns the configuration of parley.yaml as shipped.
func Default() *Config {
	c, err := decode(&Config{}, defaultYAML, "parley.yaml (built in)")
	if err != nil {
		panic("configs: built-in parley.yaml does not load: " + err.Error())
	}
	return c
}

// Load returns the defaults overlaid with the file at path ("" means defaults only), then
// with PARLEY_STORE_DSN (EnvStoreDSN) when it is set. Keys the file does not set keep their
// defaults; unknown keys are errors.
func Load(path string) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if c, err = decode(c, data, path); err != nil {
			return nil, err
		}
	}
	if url, ok := os.LookupEnv(EnvNATSURL); ok {
		c.Cluster.NATSURL = url
	}
	if dsn, ok := os.LookupEnv(EnvStoreDSN); ok {
		c.Store.DSN = dsn
	}
	return c, nil
}

func decode(into *Config, data []byte, source string) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// io.EOF: an empty file means "all defaults".
	if err := dec.Decode(into); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	// A second document would be ignored without a word; say so instead.
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		line := more.Line
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		return nil, fmt.Errorf("%s: line %d: a second YAML document; the configuration is one", source, line)
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil {
		into.source, into.lines = source, map[string]int{}
		keyLines(&doc, "", into.lines)
	}
	return into, nil
}

// keyLines records the line of every key under n by its path (sip.auth.users[0].name).
func keyLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, k := range n.Content {
			keyLines(k, path, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			if _, ok := lines[p]; !ok {
				lines[p] = n.Content[i].Line
			}
			keyLines(n.Content[i+1], p, lines)
		}
	case yaml.SequenceNode:
		for i, k := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			lines[p] = k.Line
			keyLines(k, p, lines)
		}
	}
}

// withLine prefixes a Resolve error that starts with a key path the file set with its file
// and line.
func (c *Config) withLine(err error) error {
	msg := err.Error()
	key := msg[:strings.IndexAny(msg+":", ": ,")]
	for key != "" {
		if line, ok := c.lines[key]; ok {
			return fmt.Errorf("%s: line %d: %w", c.source, line, err)
		}
		// rooms[0].history not set by the file: point at rooms[0].
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return err
}

// Resolve fills the derived values (domain and advertised host) and checks every key,
// returning one line per problem.
func (c *Config) Resolve() error {
	sipHost, errs := c.checkAddresses()
	errs = append(errs, c.checkIdleAndPaging()...)
	errs = append(errs, c.checkListeners()...)
	errs = append(errs, c.resolveHosts(sipHost)...)
	errs = append(errs, c.checkLimits()...)
	errs = append(errs, c.checkMSRP()...)
	errs = append(errs, c.checkLogAndStore()...)
	errs = append(errs, c.checkContent()...)
	errs = append(errs, c.checkCCMP()...)
	factoryUser, factoryErrs := c.resolveFactory()
	errs = append(errs, factoryErrs...)
	errs = append(errs, c.checkRooms(factoryUser)...)
	for i, err := range errs {
		errs[i] = c.withLine(err)
	}
	return errors.Join(errs...)
}

// checkAddresses checks the listen addresses of SIP and of the MSRP TLS listener, the DNS server
// and the SIP certificate pair; sipHost is sip.listen's host.
func (c *Config) checkAddresses() (sipHost string, errs []error) {
	sipHost, _, err := net.SplitHostPort(c.SIP.Listen)
	if err != nil {
		errs = append(errs, fmt.Errorf("sip.listen: %q is not host:port", c.SIP.Listen))
	}
	if c.MSRP.TLSListen != "" {
		if _, _, err := net.SplitHostPort(c.MSRP.TLSListen); err != nil {
			errs = append(errs, fmt.Errorf("msrp.tls_listen: %q is not host:port", c.MSRP.TLSListen))
		}
	}
	if c.SIP.DNSServer != "" {
		if _, _, err := net.SplitHostPort(c.SIP.DNSServer); err != nil {
			errs = append(errs, fmt.Errorf("sip.dns_server: %q is not host:port", c.SIP.DNSServer))
		}
	}
	if c.SIP.TLSListen != "" {
		if _, _, err := net.SplitHostPort(c.SIP.TLSListen); err != nil {
			errs = append(errs, fmt.Errorf("sip.tls_listen: %q is not host:port", c.SIP.TLSListen))
		}
	}
	if (c.SIP.TLSCertFile == "") != (c.SIP.TLSKeyFile == "") {
		errs = append(errs, fmt.Errorf("sip.tls_cert_file and sip.tls_key_file: set both or neither"))
	}
	return sipHost, errs
}

// checkIdleAndPaging checks the idle collection of rooms and page-mode members, audit retention,
// page mode's limits, ad-hoc rooms and REFER.
func (c *Config) checkIdleAndPaging() (errs []error) {
	if c.SIP.PageIdle < 0 {
		errs = append(errs, fmt.Errorf("sip.page_idle: must not be negative (0 keeps page-mode members)"))
	}
	if c.RoomIdle < 0 {
		errs = append(errs, fmt.Errorf("room_idle: must not be negative (0 keeps idle rooms)"))
	}
	if c.RoomIdleLog != IdleLogKeep && c.RoomIdleLog != IdleLogPurge {
		errs = append(errs, fmt.Errorf("room_idle_log: %q is not %s or %s", c.RoomIdleLog, IdleLogKeep, IdleLogPurge))
	}
	if c.AuditRetention < 0 {
		errs = append(errs, fmt.Errorf("audit_retention: must not be negative (0 keeps every audit row)"))
	}
	if c.SIP.PageRate < 0 {
		errs = append(errs, fmt.Errorf("sip.page_rate: must not be negative (0 = unlimited)"))
	}
	if c.SIP.PageBurst < 1 {
		errs = append(errs, fmt.Errorf("sip.page_burst: must be at least 1"))
	}
	if c.SIP.PageQueue < 1 {
		errs = append(errs, fmt.Errorf("sip.page_queue: must be at least 1"))
	}
	if c.SIP.PageTimeout <= 0 {
		errs = append(errs, fmt.Errorf("sip.page_timeout: must be positive"))
	}
	if c.SIP.PageMaxFailures < 0 {
		errs = append(errs, fmt.Errorf("sip.page_max_failures: must not be negative (0 never drops a member for failures)"))
	}
	if c.SIP.PageMaxBody < 256 {
		errs = append(errs, fmt.Errorf("sip.page_max_body: must be at least 256 bytes"))
	}
	if c.SIP.AdhocIdle < 0 {
		errs = append(errs, fmt.Errorf("sip.adhoc_idle: must not be negative (0 keeps empty ad-hoc rooms)"))
	}
	if c.SIP.ReferAllowed != "any" && c.SIP.ReferAllowed != "moderators" {
		errs = append(errs, fmt.Errorf("sip.refer_allowed: %q is not any or moderators", c.SIP.ReferAllowed))
	}
	return errs
}

// checkListeners checks the MSRP certificate pair and the MSRP and HTTP listen addresses, and
// defaults http.websocket to auto.
func (c *Config) checkListeners() (errs []error) {
	if (c.MSRP.TLSCertFile == "") != (c.MSRP.TLSKeyFile == "") {
		errs = append(errs, fmt.Errorf("msrp.tls_cert_file and msrp.tls_key_file: set both or neither"))
	}
	for key, addr := range map[string]string{"msrp.listen": c.MSRP.Listen, "http.listen": c.HTTP.Listen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", key, addr))
		}
	}
	switch c.HTTP.WebSocket {
	case "auto", "on", "off":
	case "":
		c.HTTP.WebSocket = "auto"
	default:
		errs = append(errs, fmt.Errorf("http.websocket: %q is none of auto, on, off", c.HTTP.WebSocket))
	}
	return errs
}

// resolveHosts fills in advertised_host and domain, by default from sip.listen's host, and checks
// them.
func (c *Config) resolveHosts(sipHost string) (errs []error) {
	if c.AdvertisedHost == "" {
		c.AdvertisedHost = sipHost
		if isWildcard(sipHost) {
			c.AdvertisedHost = firstInterfaceAddress()
		}
	}
	if isWildcard(c.AdvertisedHost) {
		errs = append(errs, fmt.Errorf("advertised_host: %q is a wildcard address; set the address clients reach", c.AdvertisedHost))
	}
	if c.Domain == "" {
		c.Domain = sipHost
		if isWildcard(sipHost) {
			c.Domain = c.AdvertisedHost
		}
	}
	if strings.ContainsAny(c.Domain, " @:/") {
		errs = append(errs, fmt.Errorf("domain: %q must be a bare host name", c.Domain))
	}
	return errs
}

// checkLimits checks the SIP and HTTP rate and connection limits and timeouts, SIP authentication,
// the trusted proxies and the UDP size.
func (c *Config) checkLimits() (errs []error) {
	if c.SIP.InviteRate < 0 || c.SIP.SubscribeRate < 0 || c.SIP.MaxDialogsPerSource < 0 {
		errs = append(errs, fmt.Errorf("sip.invite_rate, sip.subscribe_rate, sip.max_dialogs_per_source: must not be negative"))
	}
	if c.HTTP.ReadHeaderTimeout <= 0 || c.HTTP.ReadTimeout < c.HTTP.ReadHeaderTimeout {
		errs = append(errs, fmt.Errorf("http.read_header_timeout, http.read_timeout: must be positive durations, read_timeout at least read_header_timeout"))
	}
	if c.HTTP.MaxConnsPerIP < 0 || c.HTTP.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("http.max_conns_per_ip, http.max_conns: must not be negative"))
	}
	if c.SIP.MaxConnsPerIP < 0 || c.SIP.MaxConns < 0 || c.SIP.MessageTimeout < 0 {
		errs = append(errs, fmt.Errorf("sip.max_conns_per_ip, sip.max_conns, sip.message_timeout: must not be negative"))
	}
	for i, u := range c.SIP.Auth.Users {
		if u.Name == "" || (u.Password == "") == (u.HA1 == "") {
			errs = append(errs, fmt.Errorf("sip.auth.users[%d]: %q needs a name and exactly one of password and ha1", i, u.Name))
		} else if u.HA1 != "" && !isHexDigest(u.HA1) {
			errs = append(errs, fmt.Errorf("sip.auth.users[%d].ha1: not an MD5 or SHA-256 digest in hex", i))
		}
	}
	if len(c.SIP.Auth.Users) > 0 && (c.SIP.Auth.Realm == "" || strings.ContainsAny(c.SIP.Auth.Realm, "\"\\")) {
		errs = append(errs, fmt.Errorf("sip.auth.realm: %q must be set (without quotes) when users are", c.SIP.Auth.Realm))
	}
	if c.SIP.Auth.NonceTTL <= 0 {
		errs = append(errs, fmt.Errorf("sip.auth.nonce_ttl: must be a positive duration"))
	}
	for _, p := range c.SIP.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(strings.Trim(p, "[]")) == nil {
			errs = append(errs, fmt.Errorf("sip.trusted_proxies: %q is neither an IP address nor a CIDR network", p))
		}
	}
	if c.SIP.UDPMTU < 1500 {
		errs = append(errs, fmt.Errorf("sip.udp_mtu: %d is below 1500; multi-line SDP answers would not go out over UDP", c.SIP.UDPMTU))
	}
	return errs
}

// checkMSRP checks MSRP's sizes and the timeouts.
func (c *Config) checkMSRP() (errs []error) {
	if c.MSRP.MaxMessageSize <= 0 {
		errs = append(errs, fmt.Errorf("msrp.max_message_size: must be positive"))
	}
	if int64(c.MSRP.MaxPendingBytes) < c.MSRP.MaxMessageSize {
		errs = append(errs, fmt.Errorf("msrp.max_pending_bytes: %d is below msrp.max_message_size (%d); raise it or lower max_message_size",
			c.MSRP.MaxPendingBytes, c.MSRP.MaxMessageSize))
	}
	if c.MSRP.MaxHeaderBytes < 1024 {
		errs = append(errs, fmt.Errorf("msrp.max_header_bytes: %d is below 1024", c.MSRP.MaxHeaderBytes))
	}
	for key, d := range map[string]time.Duration{"msrp.write_deadline": c.MSRP.WriteDeadline, "msrp.bind_timeout": c.MSRP.BindTimeout,
		"msrp.transaction_timeout": c.MSRP.TransactionTimeout, "shutdown_timeout": c.ShutdownTimeout,
		"drain_timeout": c.DrainTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be a positive duration", key))
		}
	}
	return errs
}

// checkLogAndStore checks logging, the store and the commit window.
func (c *Config) checkLogAndStore() (errs []error) {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not text or json", c.Log.Format))
	}
	switch c.Store.Driver {
	case StoreSQLite:
	case StorePostgres:
		if strings.TrimSpace(c.Store.DSN) == "" {
			errs = append(errs, fmt.Errorf("store.dsn: driver postgres needs a connection string (or %s)", EnvStoreDSN))
		}
	default:
		errs = append(errs, fmt.Errorf("store.driver: %q is not sqlite or postgres", c.Store.Driver))
	}
	errs = append(errs, c.checkCluster()...)
	if c.CommitWindow < 0 || c.CommitWindow > time.Second {
		errs = append(errs, fmt.Errorf("commit_window: must be between 0 and 1s, not %v", c.CommitWindow))
	}
	if c.GCHeapFloor < 0 {
		errs = append(errs, fmt.Errorf("gc_heap_floor: must not be negative"))
	}
	return errs
}

// checkContent checks the file quotas, message rates, nicknames and blueprints.
func (c *Config) checkContent() (errs []error) {
	if c.FileQuota < 0 {
		errs = append(errs, fmt.Errorf("file_quota: must not be negative"))
	}
	if c.FileTotalQuota < 0 {
		errs = append(errs, fmt.Errorf("file_total_quota: must not be negative"))
	}
	if c.MaxFileSize < 0 {
		errs = append(errs, fmt.Errorf("max_file_size: must not be negative"))
	}
	if c.MSRP.StreamThreshold < 0 {
		errs = append(errs, fmt.Errorf("msrp.stream_threshold: must not be negative"))
	}
	if c.MessageRate < 0 || c.MessageBurst < 0 {
		errs = append(errs, fmt.Errorf("message_rate, message_burst: must not be negative"))
	}
	if c.Nicknames.Scope != "system" && c.Nicknames.Scope != "room" {
		errs = append(errs, fmt.Errorf("nicknames.scope: %q is not system or room", c.Nicknames.Scope))
	}
	if c.Nicknames.Quarantine < 0 {
		errs = append(errs, fmt.Errorf("nicknames.quarantine: must not be negative"))
	}
	for i, b := range c.Blueprints {
		if !focus.ValidRoomName(b.Name) || len(b.Channels) == 0 {
			errs = append(errs, fmt.Errorf("blueprints[%d]: %q needs a valid name and at least one channel", i, b.Name))
		}
	}
	return errs
}

// checkCCMP checks CCMP: its users, the room creators, HTTPS and the request limits.
func (c *Config) checkCCMP() (errs []error) {
	for i, u := range c.CCMP.Auth.Users {
		if u.Name == "" || (u.Password == "") == (u.HA1 == "") {
			errs = append(errs, fmt.Errorf("ccmp.auth.users[%d]: needs a name and exactly one of password or ha1", i))
		} else if u.HA1 != "" && !isHexDigest(u.HA1) {
			errs = append(errs, fmt.Errorf("ccmp.auth.users[%d].ha1: not an MD5 or SHA-256 digest in hex", i))
		}
	}
	for i, e := range c.RoomCreators {
		if err := validCreator(e); err != nil {
			errs = append(errs, fmt.Errorf("room_creators[%d]: %v", i, err))
		}
	}
	if c.HTTP.TLSListen != "" && (c.HTTP.TLSCertFile == "" || c.HTTP.TLSKeyFile == "") {
		errs = append(errs, fmt.Errorf("http.tls_listen: needs http.tls_cert_file and http.tls_key_file"))
	}
	if c.CCMP.MaxBodyBytes < 1024 || c.CCMP.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ccmp.max_body_bytes must be at least 1024 and ccmp.request_timeout positive"))
	}
	if c.CCMP.RequestRate < 0 {
		errs = append(errs, fmt.Errorf("ccmp.request_rate: must not be negative"))
	}
	return errs
}

// resolveFactory checks sip.factory, which a bare user part makes sip:USER@DOMAIN, and returns its
// user part.
func (c *Config) resolveFactory() (factoryUser string, errs []error) {
	if f := c.SIP.Factory; f != "" && !strings.Contains(f, ":") {
		if !focus.ValidRoomName(f) {
			errs = append(errs, fmt.Errorf("sip.factory: %q is neither a SIP URI nor a valid user part", f))
		}
		c.SIP.Factory = "sip:" + f + "@" + c.Domain
	}
	if f := c.SIP.Factory; f != "" {
		lower := strings.ToLower(strings.Trim(f, "<>"))
		rest, ok := strings.CutPrefix(lower, "sip:")
		if !ok {
			rest, ok = strings.CutPrefix(lower, "sips:")
		}
		user, _, hasUser := strings.Cut(rest, "@")
		if !ok || !hasUser || user == "" {
			errs = append(errs, fmt.Errorf("sip.factory: %q is not a SIP URI with a user part", f))
		}
		factoryUser = user
	}
	return factoryUser, errs
}

// checkRooms checks the rooms: each entry, and no name twice or that of sip.factory's user part;
// owners become SIP URIs.
func (c *Config) checkRooms(factoryUser string) (errs []error) {
	seen := map[string]bool{}
	for i, r := range c.Rooms {
		errs = append(errs, r.errors(fmt.Sprintf("rooms[%d].", i))...)
		if factoryUser != "" && strings.EqualFold(r.Name, factoryUser) {
			errs = append(errs, fmt.Errorf("rooms[%d].name: %q is the user part of sip.factory", i, r.Name))
		}
		if seen[r.Name] {
			errs = append(errs, fmt.Errorf("rooms[%d].name: %q is listed twice", i, r.Name))
		}
		if owner, err := c.ownerURI(r.Owner); err != nil {
			errs = append(errs, fmt.Errorf("rooms[%d].owner: %v", i, err))
		} else {
			c.Rooms[i].Owner = owner
		}
		seen[r.Name] = true
	}
	return errs
}

// AdminIdentity is the SIP URI of the server's administrator: the first ccmp.auth.users entry
// with admin (sip:NAME@DOMAIN), or sip:admin@DOMAIN while CCMP authentication is off (loopback
// requests act as administrators then). Call it after Resolve has set the domain.
func (c *Config) AdminIdentity() string {
	for _, u := range c.CCMP.Auth.Users {
		if u.Admin && u.Name != "" {
			if strings.Contains(u.Name, "@") {
				return "sip:" + u.Name
			}
			return "sip:" + u.Name + "@" + c.Domain
		}
	}
	return "sip:admin@" + c.Domain
}

// ownerURI resolves a room's owner key: "" is the administrator identity, a bare name is
// sip:NAME@DOMAIN (NAME@HOST is sip:NAME@HOST), a SIP URI needs a user part and a host.
func (c *Config) ownerURI(owner string) (string, error) {
	o := strings.TrimSpace(owner)
	l := strings.ToLower(o)
	switch {
	case o == "":
		return c.AdminIdentity(), nil
	case strings.HasPrefix(l, "sip:"), strings.HasPrefix(l, "sips:"):
		_, rest, _ := strings.Cut(o, ":")
		if user, host, ok := strings.Cut(rest, "@"); ok && user != "" && host != "" && !strings.ContainsAny(rest, " <>;?") {
			return o, nil
		}
	case !strings.ContainsAny(o, ":<>; ") && !strings.HasPrefix(o, "@") && !strings.HasSuffix(o, "@") && strings.Count(o, "@") <= 1:
		if strings.Contains(o, "@") {
			return "sip:" + o, nil
		}
		return "sip:" + o + "@" + c.Domain, nil
	}
	return "", fmt.Errorf("%q is neither a SIP URI (sip:USER@HOST) nor a user name", owner)
}

// isHexDigest tells whether s is an MD5 or SHA-256 digest in hex (an HA1).
func isHexDigest(s string) bool {
	if len(s) != 32 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func isWildcard(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}

func firstInterfaceAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "127.0.0.1"
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return "127.0.0.1"
}

// validCreator checks one room_creators entry: "authenticated", "*@DOMAIN", a SIP URI or an
// XCON-USERID with a user part, or a user name (NAME or NAME@HOST).
func validCreator(e string) error {
	e = strings.TrimSpace(e)
	l := strings.ToLower(e)
	switch {
	case l == "authenticated":
		return nil
	case l == "any":
		return fmt.Errorf(`"any" is not accepted: creating rooms needs a proven identity; use "authenticated"`)
	case strings.HasPrefix(l, "*@"):
		if len(l) > 2 && !strings.ContainsAny(l[2:], "@:*; ") {
			return nil
		}
	case strings.HasPrefix(l, "sip:"), strings.HasPrefix(l, "sips:"), strings.HasPrefix(l, "xcon-userid:"):
		_, rest, _ := strings.Cut(e, ":")
		if user, host, ok := strings.Cut(rest, "@"); ok && user != "" && host != "" && !strings.ContainsAny(rest, "* ") {
			return nil
		}
	case e != "" && !strings.ContainsAny(e, ":* ;") && strings.Count(e, "@") <= 1 && !strings.HasPrefix(e, "@") && !strings.HasSuffix(e, "@"):
		return nil
	}
	return fmt.Errorf(`%q is neither "authenticated", "*@DOMAIN", a SIP URI, an XCON-USERID nor a user name`, e)
}

// errors checks a room entry by itself (name, history depth, channel labels); prefix names it
// in the messages ("rooms[3].").
func (r Room) errors(prefix string) []error {
	var errs []error
	if !focus.ValidRoomName(r.Name) {
		errs = append(errs, fmt.Errorf("%sname: %q is not a valid room name (letters, digits, . _ - +)", prefix, r.Name))
	}
	if r.History != nil && (*r.History < 0 || *r.History > 1000) {
		errs = append(errs, fmt.Errorf("%shistory: %d is not between 0 and 1000", prefix, *r.History))
	}
	if r.KeepFor < 0 || r.KeepMessages < 0 {
		errs = append(errs, fmt.Errorf("%skeep_for and keep_messages must not be negative", prefix))
	}
	if r.MaxUsers < 0 || int64(r.MaxUsers) > math.MaxUint32 {
		errs = append(errs, fmt.Errorf("%smax_users: %d is not between 0 (no limit) and %d", prefix, r.MaxUsers, uint32(math.MaxUint32)))
	}
	labels := map[string]bool{}
	for j, ch := range r.Channels {
		if ch.Label == "" || strings.ContainsAny(ch.Label, " \t\r\n") || labels[ch.Label] {
			errs = append(errs, fmt.Errorf("%schannels[%d].label: %q must be a unique token", prefix, j, ch.Label))
		}
		labels[ch.Label] = true
	}
	return errs
}

// ParseRoom reads one room in the shape of a rooms[] entry of parley.yaml (unknown keys are
// errors) and checks it as Resolve checks the entries of the file; name, when not empty,
// is the room's name and the file's name, if it has one, must agree.
func ParseRoom(data []byte, source, name string) (Room, error) {
	var r Room
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		if errors.Is(err, io.EOF) {
			return Room{}, fmt.Errorf("%s: empty room specification", source)
		}
		return Room{}, fmt.Errorf("%s: %w", source, err)
	}
	switch {
	case name == "":
	case r.Name == "":
		r.Name = name
	case !strings.EqualFold(r.Name, name):
		return Room{}, fmt.Errorf("%s: name %q differs from the room named on the command line (%q)", source, r.Name, name)
	}
	if errs := r.errors(""); len(errs) > 0 {
		return Room{}, fmt.Errorf("%s: %w", source, errors.Join(errs...))
	}
	return r, nil
}

// checkCluster checks the cluster section: several nodes need one store they all reach.
func (c *Config) checkCluster() (errs []error) {
	cl := c.Cluster
	if cl.NodeID != "" && !validNodeID(cl.NodeID) {
		errs = append(errs, fmt.Errorf("cluster.node_id: %q must be 1 to 64 letters, digits, '-', '_' or '.'", cl.NodeID))
	}
	if cl.StreamReplicas < 0 || cl.StreamReplicas > 5 {
		errs = append(errs, fmt.Errorf("cluster.stream_replicas: must be between 0 and 5 (JetStream's limit), not %d", cl.StreamReplicas))
	}
	if cl.DeadAfter < 3*time.Second || cl.DeadAfter > time.Hour {
		errs = append(errs, fmt.Errorf("cluster.dead_after: must be between 3s and 1h, not %v", cl.DeadAfter))
	}
	if strings.TrimSpace(cl.NATSURL) != "" && c.Store.Driver != StorePostgres {
		errs = append(errs, fmt.Errorf("cluster.nats_url: several nodes share their rooms through one database: set store.driver postgres"))
	}
	return errs
}

func validNodeID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
