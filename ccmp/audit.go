package ccmp

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/xcon"
)

const (
	maxAudit     = 1000
	defaultAudit = 50
)

// changes tells whether req asks to change state (every create, update and delete, and the
// parley extension's close); retrieves and listings are not audited. It returns the request
// label the audit records: the request type, "extended:OP" for the extension.
func changes(req *Request) (label, operation string, ok bool) {
	switch req.Type {
	case TypeConf, TypeUser, TypeUsers, TypeSidebarByVal, TypeSidebarByRef:
		switch req.Operation {
		case OpCreate, OpUpdate, OpDelete:
			return req.Type, req.Operation, true
		}
	case TypeExtended:
		for _, e := range req.Extensions {
			if ns, _ := nsOf(e); ns == NSParley && e.Tag == "close" {
				op := req.Operation
				if op == "" {
					op = OpUpdate
				}
				return TypeExtended + ":close", op, true
			}
		}
	}
	return "", "", false
}

// audit writes the structured log line and the audit row of one answered change request. p
// is nil when the requester was not established (a 421 or 424).
func (h *Handler) audit(ctx context.Context, r *http.Request, req *Request, resp *Response, p *Principal) {
	label, op, ok := changes(req)
	if !ok {
		return
	}
	e := xcon.AuditEntry{Time: time.Now(), Request: label, Operation: op, Code: resp.Code, Principal: req.ConfUserID}
	if p != nil {
		e.Principal = p.UserID
		if p.Name != "" {
			e.Principal = p.Name
		}
	}
	if r != nil {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		e.Remote = host
	}
	for _, uri := range []string{resp.ConfObjID, req.ConfObjID} {
		if kind, name := h.resolve(uri); kind == kindRoom && name != "" {
			e.Room = name
			break
		}
	}
	if e.Room == "" && req.Type == TypeConf && req.Info != nil {
		// A create names its room in confInfo's entity.
		if kind, name := h.resolve(req.Info.SelectAttrValue("entity", "")); kind == kindRoom && !strings.Contains(name, "auto_generate") {
			e.Room = name
		}
	}
	if req.Type == TypeUser {
		for _, info := range []*etree.Element{resp.Info, req.Info} {
			if info != nil {
				if t := info.SelectAttrValue("entity", ""); t != "" && !strings.Contains(t, "AUTO_GENERATE") {
					e.Target = t
					break
				}
			}
		}
	}
	h.log.Info("ccmp change", "principal", e.Principal, "remote", e.Remote, "room", e.Room,
		"request", e.Request, "operation", e.Operation, "target", e.Target, "code", e.Code)
	// The row is written even when the request's own deadline has passed.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.focus.RecordAudit(wctx, e); err != nil {
		h.log.Warn("ccmp: audit row not stored", "room", e.Room, "request", e.Request, "err", err)
	}
}

// auditRead answers <parley:audit limit="N"/> (retrieve): the newest audit rows of a room,
// oldest first. Moderators and administrators of the room and server administrators may read
// it; server administrators also after the room is deleted.
func (h *Handler) auditRead(ctx context.Context, p *Principal, req *Request, op *etree.Element, resp *Response) error {
	if req.Operation != "" && req.Operation != OpRetrieve {
		return fail(CodeForbidden, "audit is retrieve-only")
	}
	limit := defaultAudit
	if v := strings.TrimSpace(op.SelectAttrValue("limit", "")); v != "" {
		var err error
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxAudit {
			return fail(CodeBadRequest, "limit must be from 1 to "+strconv.Itoa(maxAudit))
		}
	}
	kind, name := h.resolve(req.ConfObjID)
	if kind != kindRoom || name == "" {
		return fail(CodeNotFound, "no conference "+req.ConfObjID)
	}
	if room := h.focus.Room(name); room != nil {
		snap := room.Snapshot()
		resp.ConfObjID = snap.Entity
		if !p.moderates(snap) {
			return fail(CodeUnauthorized, "only moderators and administrators of the room may read its audit")
		}
	} else if !p.Admin {
		return fail(CodeNotFound, "no conference "+req.ConfObjID)
	}
	entries, err := h.focus.Audit(ctx, name, limit)
	if err != nil {
		return err
	}
	out := etree.NewElement("parley:audit")
	out.CreateAttr("xmlns:parley", NSParley)
	for _, e := range entries {
		el := out.CreateElement("parley:entry")
		el.CreateAttr("id", strconv.FormatInt(e.ID, 10))
		el.CreateAttr("time", e.Time.UTC().Format(time.RFC3339Nano))
		el.CreateAttr("principal", e.Principal)
		el.CreateAttr("remote", e.Remote)
		el.CreateAttr("request", e.Request)
		el.CreateAttr("operation", e.Operation)
		if e.Target != "" {
			el.CreateAttr("target", e.Target)
		}
		el.CreateAttr("code", strconv.Itoa(e.Code))
	}
	resp.Extensions = []*etree.Element{out}
	return nil
}
