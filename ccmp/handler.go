package ccmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/focus"
)

// HandlerConfig configures the CCMP server.
type HandlerConfig struct {
	// Domain is the host part of the rooms' XCON-URIs (xcon:NAME@Domain); blueprints live in
	// their own name space, xcon:NAME@blueprints.Domain.
	Domain string
	// MaxBodyBytes bounds a request body; larger ones get HTTP 413. Default 64 KiB.
	MaxBodyBytes int64
	// RequestTimeout bounds one operation; an operation that takes longer is answered with
	// CCMP 510. Default 10 s (clients give up after about 30 s, RFC 6503 §4.4).
	RequestTimeout time.Duration
	// Blueprints are the room templates offered (configs.Config.Blueprints); the first is the
	// default blueprint. None: DefaultBlueprints.
	Blueprints []BlueprintSpec
	// DefaultHistory is the history depth given to rooms created over CCMP. Default 20.
	DefaultHistory int
	// Credentials turn on authentication: HTTP Digest, Basic over TLS or the CCMP subject,
	// against a list of users (see Credentials). Nil, with Authenticate nil, is the embedded
	// default: requests from a loopback address act as administrators under any well-formed
	// confUserID; others are answered 424.
	Credentials *Credentials
	// DialOut turns on the dial-out policy: allowed-users-list targets with method dial-out,
	// when they are added, make the focus call them into the room (RFC 6503 §3.2). Off by
	// default; the CCMP answer never waits on the call.
	DialOut bool
	// RequestRate is how many requests per second one source IP may send (a second's worth may
	// come at once); more are answered HTTP 429 with Retry-After before they are read. 0: no limit.
	RequestRate float64
	// Authenticate decides who is asking; it overrides both of the above.
	Authenticate Authenticator
	Logger       *slog.Logger
}

// Principal is the requester an Authenticator vouches for.
type Principal struct {
	UserID        string // the XCON-USERID the request acts as
	Name          string // the authenticated user's name, "" without authentication
	Admin         bool   // may do everything to every room
	Authenticated bool   // proven by credentials (not by coming from loopback)
}

// Authenticator maps an HTTP request and its CCMP request to a principal, or returns an
// *Error (424 for missing or bad credentials, 421 for an unacceptable confUserID).
type Authenticator func(r *http.Request, req *Request) (*Principal, error)

// LoopbackAdmin is the embedded default Authenticator: no credentials are checked, any
// well-formed confUserID is provisioned on first use, and requests from loopback are
// administrators. Requests from elsewhere get 424.
func LoopbackAdmin(r *http.Request, req *Request) (*Principal, error) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fail(CodeAuthenticationNeeded, "this server takes unauthenticated CCMP requests from loopback only")
	}
	return &Principal{UserID: req.ConfUserID, Admin: true}, nil
}

// Handler serves POST /ccmp.
type Handler struct {
	cfg        HandlerConfig
	focus      *focus.Focus
	log        *slog.Logger
	blueprints []*blueprint
	auth       *auth                         // nil without Credentials
	limiter    atomic.Pointer[sourceLimiter] // RequestRate of the moment (SetRequestRate); nil inside: no limit
	rateMu     sync.Mutex
	rate       float64

	requests *prometheus.CounterVec
	rejected *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

// NewHandler returns the CCMP server of focus f.
func NewHandler(cfg HandlerConfig, f *focus.Focus) *Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if len(cfg.Blueprints) == 0 {
		cfg.Blueprints = DefaultBlueprints()
	}
	if cfg.DefaultHistory == 0 {
		cfg.DefaultHistory = 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Domain = strings.ToLower(cfg.Domain)
	h := &Handler{cfg: cfg, focus: f, log: cfg.Logger, rate: cfg.RequestRate}
	h.limiter.Store(newSourceLimiter(cfg.RequestRate))
	if cfg.Credentials != nil && cfg.Authenticate == nil {
		h.auth = newAuth(cfg.Credentials, cfg.Domain)
		h.cfg.Authenticate = h.auth.principal
	}
	if h.cfg.Authenticate == nil {
		h.cfg.Authenticate = LoopbackAdmin
	}
	h.blueprints = newBlueprints(cfg.Domain, cfg.Blueprints)
	h.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "parley", Subsystem: "ccmp", Name: "requests_total",
		Help: "CCMP requests answered, by request type and CCMP response code.",
	}, []string{"request", "code"})
	h.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "parley", Subsystem: "ccmp", Name: "rejected_total",
		Help: "HTTP requests to /ccmp refused before CCMP: method, media_type, not_acceptable, precondition, too_large, unauthenticated, rate.",
	}, []string{"reason"})
	for _, reason := range []string{"method", "media_type", "not_acceptable", "precondition", "too_large", "unauthenticated", "rate"} {
		h.rejected.WithLabelValues(reason) // exported at 0 before the first refusal
	}
	h.seconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "parley", Subsystem: "ccmp", Name: "request_seconds",
		Help:    "Time to answer a CCMP request (decoded to answered, before the response is written), by request type.",
		Buckets: []float64{2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	}, []string{"request"})
	return h
}

// Collectors returns the handler's Prometheus collectors, for the daemon's registry.
func (h *Handler) Collectors() []prometheus.Collector {
	return []prometheus.Collector{h.requests, h.rejected, h.seconds}
}

// ServeHTTP implements the HTTP binding of RFC 6503 §9: every CCMP outcome travels in an
// HTTP 200; HTTP errors are kept for what is not CCMP at all.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !h.limiter.Load().allow(r.RemoteAddr) {
		h.rejected.WithLabelValues("rate").Inc()
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many CCMP requests from this address; slow down", http.StatusTooManyRequests)
		return
	}
	if r.Method != http.MethodPost {
		h.rejected.WithLabelValues("method").Inc()
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "CCMP takes POST only", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != MediaType {
		h.rejected.WithLabelValues("media_type").Inc()
		http.Error(w, "Content-Type must be "+MediaType, http.StatusUnsupportedMediaType)
		return
	}
	if !acceptable(r.Header.Values("Accept")) {
		h.rejected.WithLabelValues("not_acceptable").Inc()
		http.Error(w, "CCMP answers in "+MediaType, http.StatusNotAcceptable)
		return
	}
	for name := range r.Header {
		if strings.HasPrefix(name, "If-") {
			h.rejected.WithLabelValues("precondition").Inc()
			http.Error(w, "CCMP requests are not conditional", http.StatusPreconditionFailed)
			return
		}
	}
	body := http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	req, err := DecodeRequest(body)
	if isMaxBytes(err) {
		h.rejected.WithLabelValues("too_large").Inc()
		http.Error(w, fmt.Sprintf("a CCMP request may be at most %d bytes", h.cfg.MaxBodyBytes), http.StatusRequestEntityTooLarge)
		return
	}
	r, ok := h.withAuth(w, r, req)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	resp := h.Serve(ctx, r, req, err)
	var out bytes.Buffer
	if err := resp.Encode(&out); err != nil {
		h.log.Error("ccmp: encode response", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", MediaType+"; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.Bytes())
}

// acceptable tells whether an Accept header admits CCMP; no header admits anything.
func acceptable(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			fields := strings.Split(part, ";")
			mt := strings.ToLower(strings.TrimSpace(fields[0]))
			if mt != MediaType && mt != "application/*" && mt != "*/*" {
				continue
			}
			q := 1.0
			for _, p := range fields[1:] {
				if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(val, 64); err == nil {
						q = f
					}
				}
			}
			if q > 0 {
				return true
			}
		}
	}
	return false
}

// Serve answers one decoded request (decodeErr is DecodeRequest's error). It is the whole
// CCMP server without HTTP; r supplies what the Authenticator needs.
func (h *Handler) Serve(ctx context.Context, r *http.Request, req *Request, decodeErr error) (resp *Response) {
	start := time.Now()
	var p *Principal
	resp = &Response{Type: TypeOptions}
	if req != nil {
		resp.Type, resp.ConfUserID, resp.ConfObjID, resp.Operation = req.Type, req.ConfUserID, req.ConfObjID, req.Operation
	}
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("ccmp: operation panicked", "request", resp.Type, "panic", v)
			*resp = Response{Type: resp.Type, ConfUserID: resp.ConfUserID, ConfObjID: resp.ConfObjID,
				Operation: resp.Operation, Code: CodeServerError}
		}
		h.requests.WithLabelValues(resp.Type, strconv.Itoa(resp.Code)).Inc()
		h.seconds.WithLabelValues(resp.Type).Observe(time.Since(start).Seconds())
		level := slog.LevelDebug
		if resp.Code >= 500 {
			level = slog.LevelWarn
		}
		h.log.Log(ctx, level, "ccmp request", "request", resp.Type, "operation", resp.Operation,
			"conf", resp.ConfObjID, "user", resp.ConfUserID, "code", resp.Code, "reason", resp.Reason,
			"took", time.Since(start))
		if req != nil {
			h.audit(ctx, r, req, resp, p)
		}
	}()
	if decodeErr != nil {
		resp.Code, resp.Reason = CodeBadRequest, decodeErr.Error()
		// The schema wants the specialised element even when the request had none.
		return resp
	}
	err := h.dispatch(ctx, r, req, resp, &p)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	var ce *Error
	switch {
	case err == nil:
		resp.Code = CodeSuccess
		return resp
	case errors.As(err, &ce):
	case errors.Is(err, context.DeadlineExceeded):
		ce = fail(CodeTimeout, "the operation took too long; try again later")
	default:
		h.log.Error("ccmp: operation failed", "request", req.Type, "operation", req.Operation, "conf", req.ConfObjID, "err", err)
		ce = fail(CodeServerError, "")
	}
	resp.Code, resp.Reason, resp.Version = ce.Code, ce.Reason, ce.Version
	resp.Info, resp.Extensions, resp.Options = nil, ce.Extensions, nil
	return resp
}

// dispatch answers req; it sets *who to the requester once established.
func (h *Handler) dispatch(ctx context.Context, r *http.Request, req *Request, resp *Response, who **Principal) error {
	// Message and operation legality first (400/403), then the requester (421/424).
	if err := checkShape(req); err != nil {
		return err
	}
	p, err := h.principal(r, req)
	if err != nil {
		return err
	}
	*who = p
	switch req.Type {
	case TypeBlueprints:
		return h.blueprintsList(ctx, p, req, resp)
	case TypeBlueprint:
		return h.blueprintRetrieve(ctx, p, req, resp)
	case TypeConfs:
		return h.confsList(ctx, p, req, resp)
	case TypeConf:
		return h.conf(ctx, p, req, resp)
	case TypeUsers:
		return h.users(ctx, p, req, resp)
	case TypeUser:
		return h.user(ctx, p, req, resp)
	case TypeExtended:
		return h.extended(ctx, p, req, resp)
	case TypeOptions:
		h.options(resp)
		return nil
	case TypeSidebarsByVal, TypeSidebarsByRef:
		return h.sidebarsList(ctx, p, req, resp)
	case TypeSidebarByVal:
		return h.sidebarByVal(ctx, p, req, resp)
	case TypeSidebarByRef:
		return h.sidebarByRef(ctx, p, req, resp)
	}
	return fail(CodeNotImplemented, req.Type+"Request is not implemented by this server")
}

// checkShape enforces the presence rules of RFC 6503 §5.3 for each request type.
func checkShape(req *Request) error {
	switch req.Type {
	case TypeBlueprints, TypeConfs, TypeSidebarsByVal, TypeSidebarsByRef, TypeOptions:
		if req.Operation != "" {
			return fail(CodeBadRequest, req.Type+"Request takes no operation")
		}
		if req.ConfObjID != "" && (req.Type == TypeBlueprints || req.Type == TypeConfs) {
			return fail(CodeBadRequest, req.Type+"Request takes no confObjID")
		}
		return nil
	case TypeExtended:
		return nil
	}
	if req.Operation == "" {
		return fail(CodeBadRequest, "operation is required")
	}
	switch req.Type {
	case TypeBlueprint:
		if req.Operation != OpRetrieve {
			return fail(CodeForbidden, "blueprints are read-only")
		}
	case TypeUsers:
		if req.Operation == OpCreate || req.Operation == OpDelete {
			return fail(CodeForbidden, "the users container lives and dies with its conference")
		}
	}
	if req.ConfObjID == "" && !(req.Type == TypeConf && req.Operation == OpCreate) {
		return fail(CodeBadRequest, "confObjID is required")
	}
	return nil
}

func (h *Handler) principal(r *http.Request, req *Request) (*Principal, error) {
	anonymousJoin := req.Type == TypeUser && req.Operation == OpCreate && req.ConfUserID == ""
	if !anonymousJoin {
		if req.ConfUserID == "" {
			return nil, fail(CodeBadRequest, "confUserID is required")
		}
		if !validUserID(req.ConfUserID) {
			return nil, fail(CodeInvalidConfUserID, "confUserID must be an XCON-USERID (xcon-userid:user@domain)")
		}
	}
	p, err := h.cfg.Authenticate(r, req)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// validUserID accepts "xcon-userid:" followed by unreserved characters, "@" (as every example
// of RFC 6501 and RFC 6503 has it) and a few sub-delims.
func validUserID(s string) bool {
	if len(s) < len("xcon-userid:")+1 || len(s) > 256 || !strings.EqualFold(s[:len("xcon-userid:")], "xcon-userid:") {
		return false
	}
	if strings.Contains(s, "AUTO_GENERATE") {
		return false
	}
	for _, c := range s[len("xcon-userid:"):] {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("-._~@+=!$&'()*,;%", c):
		default:
			return false
		}
	}
	return true
}
