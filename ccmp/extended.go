package ccmp

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/xcon"
)

// ExtensionName is the name of Parley's CCMP extension (RFC 6503 §5.3.11). Its operations
// are elements of namespace NSParley inside extendedRequest:
//
//	<parley:history channel="en" from="2026-11-25T00:00:00Z" to="..." limit="50"/>  (retrieve)
//	<parley:history channel="en" since="2026-11-25T00:00:00Z" limit="50"/>          (retrieve)
//	<parley:history channel="en" after="1234" limit="50"/>                          (retrieve)
//	<parley:close successor="sip:new-room@example.com"/>                            (update)
//	<parley:audit limit="50"/>                                                      (retrieve)
//
// history answers <parley:history> holding one <parley:message> per logged message, oldest
// first (session-chat §5.3): with from and to the newest limit of that range; with since the first
// limit logged at or after it, and a next="…" cursor while more follow, which after= takes to
// read the following page. close closes the room with an alternate venue (session-chat §5.4), the SIP
// URI or XCON-URI of another open room of this server (404 otherwise): everyone is told and
// gets a BYE, the room is no longer listed and INVITEs are redirected (302); the answer is
// <parley:closed successor="SIP-URI">XCON-URI</parley:closed>. Every later answer about the
// closed room is a 404 carrying <parley:successor sip="SIP-URI">XCON-URI</parley:successor>.
// audit answers <parley:audit> holding the room's newest limit audit rows, oldest first, one
// <parley:entry id time principal remote request operation target code/> each (audit.go).
const ExtensionName = "parley"

// SchemaDef names the extension's definition in optionsResponse.
const SchemaDef = NSParley

const (
	maxHistory     = 1000
	defaultHistory = 50
)

func (h *Handler) extended(ctx context.Context, p *Principal, req *Request, resp *Response) error {
	resp.ExtensionName = req.ExtensionName
	if req.ExtensionName != ExtensionName {
		return fail(CodeNotImplemented, "extension "+strconv.Quote(req.ExtensionName)+" is not implemented; see optionsRequest")
	}
	var op *etree.Element
	for _, e := range req.Extensions {
		if ns, _ := nsOf(e); ns == NSParley {
			if op != nil {
				return fail(CodeBadRequest, "one parley operation per request")
			}
			op = e
		}
	}
	if op == nil {
		return fail(CodeBadRequest, "the parley extension needs <history>, <close> or <audit> in namespace "+NSParley)
	}
	if req.ConfObjID == "" {
		return fail(CodeBadRequest, "confObjID is required")
	}
	if op.Tag == "audit" {
		return h.auditRead(ctx, p, req, op, resp)
	}
	room, snap, err := h.room(req)
	if err != nil {
		return err
	}
	resp.ConfObjID = snap.Entity
	switch op.Tag {
	case "history":
		if req.Operation != "" && req.Operation != OpRetrieve {
			return fail(CodeForbidden, "history is retrieve-only")
		}
		return h.history(ctx, p, room, op, resp)
	case "close":
		if req.Operation != "" && req.Operation != OpUpdate {
			return fail(CodeForbidden, "close is an update")
		}
		if !p.administers(snap) {
			return fail(CodeUnauthorized, "only an administrator of the room may close it")
		}
		successor := strings.TrimSpace(op.SelectAttrValue("successor", ""))
		if successor == "" {
			return fail(CodeBadRequest, "close needs a successor SIP URI")
		}
		if room.Successor() != "" {
			return &Error{Code: CodeConflict, Reason: "the room is already closed", Version: snap.Version}
		}
		if err := h.focus.CloseRoom(ctx, room.Name(), successor); err != nil {
			if errors.Is(err, focus.ErrRoomNotFound) {
				return fail(CodeNotFound, "no conference "+req.ConfObjID)
			}
			if errors.Is(err, focus.ErrNoSuccessor) {
				// session-chat §5.4: the alternate venue is a conference object that exists.
				return fail(CodeNotFound, "successor "+successor+" is not an open conference of this server")
			}
			return err
		}
		resp.Version = room.Snapshot().Version
		// <parley:closed successor="SIP-URI">XCON-URI</parley:closed>, as <parley:successor>.
		el := h.successorElement(room.Successor())
		el.Tag = "closed"
		el.RemoveAttr("sip")
		el.CreateAttr("successor", room.Successor())
		resp.Extensions = []*etree.Element{el}
		return nil
	}
	return fail(CodeNotImplemented, "parley operation <"+op.Tag+"> is not implemented")
}

// history answers <parley:history>: the focus decides who may read the room's log and which of
// its messages each reader sees (focus.History).
func (h *Handler) history(ctx context.Context, p *Principal, room *focus.Room, op *etree.Element, resp *Response) error {
	parseTime := func(attr string) (time.Time, error) {
		v := strings.TrimSpace(op.SelectAttrValue(attr, ""))
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, fail(CodeBadRequest, attr+" must be an RFC 3339 time")
		}
		return t, nil
	}
	from, err := parseTime("from")
	if err != nil {
		return err
	}
	to, err := parseTime("to")
	if err != nil {
		return err
	}
	limit := defaultHistory
	if v := strings.TrimSpace(op.SelectAttrValue("limit", "")); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxHistory {
			return fail(CodeBadRequest, "limit must be from 1 to "+strconv.Itoa(maxHistory))
		}
	}
	since, err := parseTime("since")
	if err != nil {
		return err
	}
	var after int64
	if v := strings.TrimSpace(op.SelectAttrValue("after", "")); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 1 {
			return fail(CodeBadRequest, "after must be the next cursor of an earlier history answer")
		}
	}
	forwards := !since.IsZero() || after != 0
	if forwards && (!from.IsZero() || !to.IsZero()) {
		return fail(CodeBadRequest, "since and after read the log forwards; from and to read a range: not both")
	}
	channel := strings.TrimSpace(op.SelectAttrValue("channel", ""))
	reader := focus.Reader{UserID: p.UserID, Admin: p.Admin}
	var entries []xcon.LogEntry
	var next int64
	if forwards {
		entries, next, err = h.focus.HistoryFrom(ctx, room.Name(), reader, channel, since, after, limit)
	} else {
		entries, err = h.focus.History(ctx, room.Name(), reader, channel, from, to, limit)
	}
	if err != nil {
		var moved *focus.MovedError
		switch {
		case errors.Is(err, focus.ErrRoomNotFound):
			return fail(CodeNotFound, "no conference "+h.roomURI(room.Name()))
		case errors.As(err, &moved):
			return fail(CodeNotFound, "conference closed; it continues at "+moved.Successor)
		case errors.Is(err, focus.ErrForbidden):
			return fail(CodeUnauthorized, "only those the room admits may read its history")
		}
		return err
	}
	out := etree.NewElement("parley:history")
	out.CreateAttr("xmlns:parley", NSParley)
	if next != 0 {
		out.CreateAttr("next", strconv.FormatInt(next, 10))
	}
	for _, e := range entries {
		m := out.CreateElement("parley:message")
		m.CreateAttr("seq", strconv.FormatInt(e.Seq, 10))
		m.CreateAttr("time", e.Time.UTC().Format(time.RFC3339Nano))
		m.CreateAttr("channel", e.Channel)
		m.CreateAttr("sender", e.SenderID)
		if e.SenderNick != "" {
			m.CreateAttr("nickname", e.SenderNick)
		}
		if e.Recipient != "" {
			m.CreateAttr("recipient", e.Recipient)
		}
		m.CreateAttr("content-type", e.ContentType)
		if xmlSafe(e.Body) {
			m.SetText(string(e.Body))
		} else {
			m.CreateAttr("encoding", "base64")
			m.SetText(base64.StdEncoding.EncodeToString(e.Body))
		}
	}
	resp.Version = room.Snapshot().Version
	resp.Extensions = []*etree.Element{out}
	return nil
}

// xmlSafe tells whether b can travel as XML character data unchanged (CR would be
// normalised away, so it forces base64 too).
func xmlSafe(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if (r < 0x20 && r != '\t' && r != '\n') || r == 0xFFFE || r == 0xFFFF {
			return false
		}
	}
	return true
}

// options answers optionsRequest (RFC 6503 §5.3.12): what this server implements.
func (h *Handler) options(resp *Response) {
	resp.Options = &Options{
		Standard: []MessageInfo{
			{Name: "blueprintsRequest"},
			{Name: "blueprintRequest", Operations: []string{OpRetrieve}},
			{Name: "confsRequest"},
			{Name: "confRequest"},
			{Name: "usersRequest", Operations: []string{OpRetrieve, OpUpdate}},
			{Name: "userRequest"},
			{Name: "sidebarsByValRequest"},
			{Name: "sidebarByValRequest", Operations: []string{OpRetrieve, OpUpdate, OpDelete}}, // create: 403
			{Name: "sidebarsByRefRequest"},
			{Name: "sidebarByRefRequest"},
		},
		Extended: []MessageInfo{{
			Name:       ExtensionName,
			Operations: []string{OpRetrieve, OpUpdate},
			SchemaDef:  SchemaDef,
			Description: "Parley chat rooms: <parley:history channel from to limit/> (retrieve) returns logged messages, " +
				"<parley:history channel since after limit/> (retrieve) the log forwards a page at a time; " +
				"<parley:close successor/> (update) closes a room with an alternate venue; " +
				"<parley:audit limit/> (retrieve) returns the room's audit of CCMP changes.",
		}},
	}
}
