package ccmp

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/internal/digest"
	"github.com/parleychat/parley/internal/randomid"
	"github.com/parleychat/parley/xcon"
)

// Client speaks CCMP over HTTP to a conference server (`parley room`).
type Client struct {
	URL      string       // e.g. http://127.0.0.1:8080/ccmp
	UserID   string       // the confUserID of every request
	Password string       // conference-password sent with requests that target a room, if set
	HTTP     *http.Client // nil: a client with a 30 s timeout (RFC 6503 §4.4)
	// Username and Secret answer an HTTP 401 challenge (Digest, SHA-256 preferred; Basic
	// only over https).
	Username string
	Secret   string
}

// ResponseError is a CCMP response other than 200.
type ResponseError struct {
	Code   int
	Reason string
	// Successor is the XCON-URI, and SuccessorSIP the SIP URI, of the room that replaces a
	// closed one, when the answer names it (<parley:successor>).
	Successor, SuccessorSIP string
}

func (e *ResponseError) Error() string {
	if e.Reason != "" && e.Reason != ReasonPhrase(e.Code) {
		return fmt.Sprintf("CCMP %d %s: %s", e.Code, ReasonPhrase(e.Code), e.Reason)
	}
	return fmt.Sprintf("CCMP %d %s", e.Code, ReasonPhrase(e.Code))
}

// Exchange sends a request and returns the decoded response with its raw body. An HTTP
// status other than 200 is an error; a CCMP code other than 200 is not (see Do).
func (c *Client) Exchange(ctx context.Context, req *Request) (*Response, []byte, error) {
	var body bytes.Buffer
	if err := req.Encode(&body); err != nil {
		return nil, nil, err
	}
	post := func(authorization string) (*http.Response, error) {
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body.Bytes()))
		if err != nil {
			return nil, err
		}
		hr.Header.Set("Content-Type", MediaType+"; charset=utf-8")
		hr.Header.Set("Accept", MediaType)
		if authorization != "" {
			hr.Header.Set("Authorization", authorization)
		}
		hc := c.HTTP
		if hc == nil {
			hc = &http.Client{Timeout: 30 * time.Second}
		}
		return hc.Do(hr)
	}
	res, err := post("")
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode == http.StatusUnauthorized && c.Username != "" {
		if a := c.authorization(res); a != "" {
			res.Body.Close()
			if res, err = post(a); err != nil {
				return nil, nil, err
			}
		}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, raw, fmt.Errorf("HTTP %s: %s", res.Status, strings.TrimSpace(string(raw)))
	}
	resp, err := DecodeResponse(bytes.NewReader(raw))
	if err != nil {
		return nil, raw, err
	}
	return resp, raw, nil
}

// Do sends a request; a CCMP code other than 200 comes back as a *ResponseError.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	if req.ConfUserID == "" {
		req.ConfUserID = c.UserID
	}
	if c.Password != "" && req.ConfObjID != "" && req.Password == nil {
		pw := c.Password
		req.Password = &pw
	}
	resp, _, err := c.Exchange(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.Code != CodeSuccess {
		re := &ResponseError{Code: resp.Code, Reason: resp.Reason}
		for _, x := range resp.Extensions {
			if ns, _ := nsOf(x); ns == NSParley && x.Tag == "successor" {
				re.Successor, re.SuccessorSIP = strings.TrimSpace(x.Text()), x.SelectAttrValue("sip", "")
			}
		}
		return resp, re
	}
	return resp, nil
}

// RoomURI returns the XCON-URI a room name stands for; "xcon:NAME" without a host names a
// room of the server's own domain.
func RoomURI(nameOrURI string) string {
	if strings.HasPrefix(strings.ToLower(nameOrURI), "xcon:") {
		return nameOrURI
	}
	return "xcon:" + nameOrURI
}

// RoomSpec is what `parley room create` asks for.
type RoomSpec struct {
	Name        string // "" lets the server choose
	Blueprint   string // "" for the default (chat); else a blueprint name or XCON-URI
	DisplayText string
	Subject     string
	Password    string
	Logging     bool
	History     int  // messages replayed to joiners of a logged room; 0: server default
	Moderated   bool // joiners without a role are visitors until a moderator gives them voice
	// HistorySet makes History 0 mean none replayed instead of the server default.
	HistorySet bool
	// Log retention (zero keeps everything).
	KeepFor      time.Duration
	KeepMessages int
	// MaxUsers, when above 0, is the room's maximum-user-count.
	MaxUsers int
	// Channels replace the blueprint's chat channels when not empty.
	Channels []xcon.Channel
	// Owner, when set, is recorded as the room's administrator and organizer (a SIP URI).
	Owner string
}

// RoomInfo is one entry of a room list.
type RoomInfo struct {
	URI         string `json:"uri"`
	DisplayText string `json:"display_text,omitempty"`
	// SidebarOf is the parent's XCON-URI when the entry is a sidebar by reference (its
	// xcon:sidebar-parent); "" for a room of its own.
	SidebarOf string `json:"sidebar_of,omitempty"`
}

// Blueprints lists the server's blueprints.
func (c *Client) Blueprints(ctx context.Context) ([]RoomInfo, error) {
	resp, err := c.Do(ctx, &Request{Type: TypeBlueprints, HasBody: true})
	if err != nil {
		return nil, err
	}
	return uriList(resp.Info), nil
}

// Rooms lists the open rooms.
func (c *Client) Rooms(ctx context.Context) ([]RoomInfo, error) {
	resp, err := c.Do(ctx, &Request{Type: TypeConfs, HasBody: true})
	if err != nil {
		return nil, err
	}
	return uriList(resp.Info), nil
}

func uriList(info *etree.Element) []RoomInfo {
	var out []RoomInfo
	if info == nil {
		return out
	}
	for _, e := range info.ChildElements() {
		var ri RoomInfo
		for _, f := range e.ChildElements() {
			switch f.Tag {
			case "uri":
				ri.URI = textOf(f)
			case "display-text":
				ri.DisplayText = textOf(f)
			case "sidebar-parent":
				ri.SidebarOf = textOf(f)
			}
		}
		out = append(out, ri)
	}
	return out
}

// CreateRoomFromInfo creates a room described by a conference object (RFC 6501), sent as the
// confInfo of a confRequest create (RFC 6503 §5.3.4; an entity of xcon:AUTO_GENERATE_1 lets
// the server name it), and returns its object as created.
func (c *Client) CreateRoomFromInfo(ctx context.Context, conf *xcon.Conference) (*xcon.Conference, error) {
	resp, err := c.Do(ctx, &Request{Type: TypeConf, Operation: OpCreate, HasBody: true, Info: conf.Element("confInfo")})
	if err != nil {
		return nil, err
	}
	if resp.Info == nil {
		return &xcon.Conference{Entity: resp.ConfObjID, Version: resp.Version}, nil
	}
	return xcon.DecodeElement(resp.Info)
}

// CreateRoom creates a room from a blueprint with the spec's name, title and policy, and
// returns its object as created.
func (c *Client) CreateRoom(ctx context.Context, spec RoomSpec) (*xcon.Conference, error) {
	bp := spec.Blueprint
	if bp == "" {
		bp = BlueprintChat
	}
	if !strings.HasPrefix(strings.ToLower(bp), "xcon:") {
		list, err := c.Blueprints(ctx)
		if err != nil {
			return nil, err
		}
		found := ""
		for _, b := range list {
			if strings.HasPrefix(strings.ToLower(b.URI), "xcon:"+strings.ToLower(bp)+"@") {
				found = b.URI
			}
		}
		if found == "" {
			return nil, fmt.Errorf("no blueprint %q on the server", bp)
		}
		bp = found
	}
	resp, err := c.Do(ctx, &Request{Type: TypeBlueprint, ConfObjID: bp, Operation: OpRetrieve, HasBody: true})
	if err != nil {
		return nil, err
	}
	if resp.Info == nil {
		return nil, fmt.Errorf("blueprint %s came without blueprintInfo", bp)
	}
	conf, err := xcon.DecodeElement(resp.Info)
	if err != nil {
		return nil, err
	}
	conf.Description.CloningParent = conf.Entity
	conf.Entity = "xcon:AUTO_GENERATE_1"
	if spec.Name != "" {
		conf.Entity = "xcon:" + spec.Name
	}
	conf.Version = 0
	if spec.DisplayText != "" {
		conf.Description.DisplayText = spec.DisplayText
	}
	if spec.Subject != "" {
		conf.Description.Subject = spec.Subject
	}
	if spec.Password != "" {
		conf.Description.ConfURIs = []xcon.URIEntry{{URI: "sip:" + strings.TrimPrefix(conf.Entity, "xcon:"), Password: spec.Password}}
	}
	history := spec.History
	if history == 0 && !spec.HistorySet {
		history = 20
	}
	conf.SetRoomPolicy(xcon.RoomPolicy{Logging: spec.Logging, History: history, Moderated: spec.Moderated,
		KeepFor: spec.KeepFor, KeepMessages: spec.KeepMessages})
	if len(spec.Channels) > 0 {
		conf.Description.Media = nil
		for _, ch := range spec.Channels {
			ch.Type, ch.Status = "message", "sendrecv"
			conf.Description.Media = append(conf.Description.Media, ch)
		}
	}
	if spec.MaxUsers > 0 {
		n := uint32(spec.MaxUsers)
		conf.Description.MaximumUserCount = &n
	}
	if spec.Owner != "" {
		conf.Users = append(conf.Users, &xcon.User{Entity: xcon.UserIDFromAOR(spec.Owner),
			AssociatedAORs: []string{spec.Owner}, Roles: []string{"administrator", "organizer"}})
	}
	resp, err = c.Do(ctx, &Request{Type: TypeConf, Operation: OpCreate, HasBody: true, Info: conf.Element("confInfo")})
	if err != nil {
		return nil, err
	}
	if resp.Info == nil {
		return &xcon.Conference{Entity: resp.ConfObjID, Version: resp.Version}, nil
	}
	return xcon.DecodeElement(resp.Info)
}

// Room retrieves a room's conference object.
func (c *Client) Room(ctx context.Context, room string) (*xcon.Conference, error) {
	resp, err := c.Do(ctx, &Request{Type: TypeConf, ConfObjID: RoomURI(room), Operation: OpRetrieve, HasBody: true})
	if err != nil {
		return nil, err
	}
	if resp.Info == nil {
		return nil, fmt.Errorf("confResponse without confInfo")
	}
	conf, err := xcon.DecodeElement(resp.Info)
	if err != nil {
		return nil, err
	}
	conf.Version = resp.Version
	return conf, nil
}

// UpdateRoom sends a confInfo delta (see package documentation) and returns the new version.
func (c *Client) UpdateRoom(ctx context.Context, room string, delta *etree.Element) (uint64, error) {
	resp, err := c.Do(ctx, &Request{Type: TypeConf, ConfObjID: RoomURI(room), Operation: OpUpdate, HasBody: true, Info: delta})
	if err != nil {
		return 0, err
	}
	return resp.Version, nil
}

// DeleteRoom deletes a room: everyone in it is told and gets a BYE.
func (c *Client) DeleteRoom(ctx context.Context, room string) error {
	_, err := c.Do(ctx, &Request{Type: TypeConf, ConfObjID: RoomURI(room), Operation: OpDelete, HasBody: true})
	return err
}

// CloseRoom closes a room with an alternate venue (the `parley` extension).
func (c *Client) CloseRoom(ctx context.Context, room, successor string) (uint64, error) {
	op := etree.NewElement("parley:close")
	op.CreateAttr("xmlns:parley", NSParley)
	op.CreateAttr("successor", successor)
	resp, err := c.Do(ctx, &Request{Type: TypeExtended, ConfObjID: RoomURI(room), Operation: OpUpdate, HasBody: true,
		ExtensionName: ExtensionName, Extensions: []*etree.Element{op}})
	if err != nil {
		return 0, err
	}
	return resp.Version, nil
}

// SetDenied adds a user (XCON-USERID or SIP URI) to a room's deny list (RFC 6501
// <deny-users-list>), or with deny false removes the entry; a denied user's joins get 403.
// It returns the room's new version.
func (c *Client) SetDenied(ctx context.Context, room, user string, deny bool) (uint64, error) {
	info := etree.NewElement("confInfo")
	info.CreateAttr("xmlns:info", xcon.NS)
	info.CreateAttr("xmlns:xcon", xcon.NSXcon)
	t := info.CreateElement("info:users").CreateElement("xcon:deny-users-list").CreateElement("xcon:target")
	t.CreateAttr("uri", user)
	if !deny {
		t.CreateAttr("state", "deleted")
	}
	return c.UpdateRoom(ctx, room, info)
}

// RoomUpdate is what `parley room update` changes; nil fields stay as they are.
type RoomUpdate struct {
	DisplayText, Subject *string
	Logging, Moderated   *bool
	History, MaxUsers    *int // MaxUsers 0 removes the limit

	// The room's limits, <parley:room-policy> attributes; 0 returns each to its default
	// (the focus's msrp.max_message_size, a log kept whole).
	MaxMessageSize *int64
	KeepFor        *time.Duration
	KeepMessages   *int
}

// Empty tells whether u changes nothing.
func (u RoomUpdate) Empty() bool {
	return u.DisplayText == nil && u.Subject == nil && u.Logging == nil && u.Moderated == nil && u.History == nil && u.MaxUsers == nil &&
		u.MaxMessageSize == nil && u.KeepFor == nil && u.KeepMessages == nil
}

// Delta is the confInfo delta of u (see package documentation).
func (u RoomUpdate) Delta() *etree.Element {
	info := etree.NewElement("confInfo")
	info.CreateAttr("xmlns:info", xcon.NS)
	if u.DisplayText != nil || u.Subject != nil || u.MaxUsers != nil {
		d := info.CreateElement("info:conference-description")
		if u.DisplayText != nil {
			d.CreateElement("info:display-text").SetText(*u.DisplayText)
		}
		if u.Subject != nil {
			d.CreateElement("info:subject").SetText(*u.Subject)
		}
		if u.MaxUsers != nil {
			m := d.CreateElement("info:maximum-user-count")
			if *u.MaxUsers > 0 {
				m.SetText(strconv.Itoa(*u.MaxUsers))
			}
		}
	}
	if u.Logging != nil || u.Moderated != nil || u.History != nil || u.MaxMessageSize != nil || u.KeepFor != nil || u.KeepMessages != nil {
		info.CreateAttr("xmlns:policy", xcon.NSParley)
		p := info.CreateElement("policy:room-policy")
		if u.Logging != nil {
			p.CreateAttr("logging", strconv.FormatBool(*u.Logging))
		}
		if u.History != nil {
			p.CreateAttr("history", strconv.Itoa(*u.History))
		}
		if u.Moderated != nil {
			p.CreateAttr("moderated", strconv.FormatBool(*u.Moderated))
		}
		if u.MaxMessageSize != nil {
			p.CreateAttr("max-message-size", strconv.FormatInt(*u.MaxMessageSize, 10))
		}
		if u.KeepFor != nil {
			p.CreateAttr("keep-for", u.KeepFor.String())
		}
		if u.KeepMessages != nil {
			p.CreateAttr("keep-messages", strconv.Itoa(*u.KeepMessages))
		}
	}
	return info
}

// Users retrieves the users of a room.
func (c *Client) Users(ctx context.Context, room string) ([]*xcon.User, error) {
	conf, err := c.Room(ctx, room)
	if err != nil {
		return nil, err
	}
	return conf.Users, nil
}

// Kick removes a user from a room (userRequest/delete): a participant present gets a notice
// and a BYE.
func (c *Client) Kick(ctx context.Context, room, userID string) error {
	u := etree.NewElement("userInfo")
	u.CreateAttr("entity", userID)
	_, err := c.Do(ctx, &Request{Type: TypeUser, ConfObjID: RoomURI(room), Operation: OpDelete, HasBody: true, Info: u})
	return err
}

// Nick sets a user's nickname in a room: userRequest/update with xcon:nickname, or
// userRequest/create when the user is not in the room yet. It returns the nickname the
// server allocated.
func (c *Client) Nick(ctx context.Context, room, userID, nickname string) (string, error) {
	return c.nick(ctx, room, userID, nickname, false)
}

// NickExact is Nick for this nickname and no other: a taken one is CCMP 409 rather than
// another one allocated.
func (c *Client) NickExact(ctx context.Context, room, userID, nickname string) (string, error) {
	return c.nick(ctx, room, userID, nickname, true)
}

func (c *Client) nick(ctx context.Context, room, userID, nickname string, exact bool) (string, error) {
	if userID == "" {
		userID = c.UserID
	}
	u := &xcon.User{Entity: userID, Nickname: nickname}
	info := func() *etree.Element {
		el := u.Element("userInfo")
		if exact {
			el.CreateAttr("xmlns:parley", NSParley)
			el.CreateAttr("parley:"+exactNicknameAttr, "true")
		}
		return el
	}
	resp, err := c.Do(ctx, &Request{Type: TypeUser, ConfObjID: RoomURI(room), Operation: OpUpdate, HasBody: true, Info: info()})
	if re, ok := err.(*ResponseError); ok && re.Code == CodeUserNotFound {
		resp, err = c.Do(ctx, &Request{Type: TypeUser, ConfObjID: RoomURI(room), Operation: OpCreate, HasBody: true, Info: info()})
	}
	if err != nil {
		return "", err
	}
	if resp.Info == nil {
		return "", nil
	}
	got, err := xcon.DecodeUserElement(resp.Info)
	if err != nil {
		return "", err
	}
	return got.Nickname, nil
}

// SetHistoryOnJoin sets how much of room's history userID ("" for the client's own) is
// replayed on joining it (xcon.HistoryOnJoin: a count, 0 for none, and an optional maximum
// age), by updating the user or, when the room has no such user yet, creating it (for oneself:
// a CCMP join). It returns the setting in effect: the server bounds the count by the room's
// history depth.
func (c *Client) SetHistoryOnJoin(ctx context.Context, room, userID string, h xcon.HistoryOnJoin) (xcon.HistoryOnJoin, error) {
	if userID == "" {
		userID = c.UserID
	}
	u := &xcon.User{Entity: userID}
	u.SetHistoryOnJoin(&h)
	resp, err := c.Do(ctx, &Request{Type: TypeUser, ConfObjID: RoomURI(room), Operation: OpUpdate, HasBody: true, Info: u.Element("userInfo")})
	if re, ok := err.(*ResponseError); ok && re.Code == CodeUserNotFound {
		resp, err = c.Do(ctx, &Request{Type: TypeUser, ConfObjID: RoomURI(room), Operation: OpCreate, HasBody: true, Info: u.Element("userInfo")})
	}
	if err != nil {
		return xcon.HistoryOnJoin{}, err
	}
	if resp.Info == nil {
		return xcon.HistoryOnJoin{}, errors.New("the userResponse carries no userInfo")
	}
	got, err := xcon.DecodeUserElement(resp.Info)
	if err != nil {
		return xcon.HistoryOnJoin{}, err
	}
	eff, ok := got.HistoryOnJoin()
	if !ok {
		return xcon.HistoryOnJoin{}, errors.New("the server did not keep the history setting")
	}
	return eff, nil
}

// SetRole gives a user of a room one role (RFC 6501 <roles>: administrator, moderator,
// participant, observer): userRequest/update, or userRequest/create when the room does not
// list the user yet (a moderator giving voice to someone not present). In a moderated room the
// role participant is voice, observer takes it. It returns the user as the server holds him.
func (c *Client) SetRole(ctx context.Context, room, userID, role string) (*xcon.User, error) {
	u := &xcon.User{Entity: userID, Roles: []string{role}}
	resp, err := c.Do(ctx, &Request{Type: TypeUser, ConfObjID: RoomURI(room), Operation: OpUpdate, HasBody: true, Info: u.Element("userInfo")})
	if re, ok := err.(*ResponseError); ok && re.Code == CodeUserNotFound {
		resp, err = c.Do(ctx, &Request{Type: TypeUser, ConfObjID: RoomURI(room), Operation: OpCreate, HasBody: true, Info: u.Element("userInfo")})
	}
	if err != nil {
		return nil, err
	}
	if resp.Info == nil {
		return u, nil
	}
	return xcon.DecodeUserElement(resp.Info)
}

// HistoryQuery selects logged messages of a room.
type HistoryQuery struct {
	Channel  string
	From, To time.Time
	Limit    int
	// Since reads the log forwards from a time, After from the cursor of an earlier page
	// (HistoryPage); neither goes with From or To.
	Since time.Time
	After string
}

// HistoryEntry is one logged message.
type HistoryEntry struct {
	Seq         int64     `json:"seq"`
	Time        time.Time `json:"time"`
	Channel     string    `json:"channel"`
	Sender      string    `json:"sender"`
	Nickname    string    `json:"nickname,omitempty"`
	Recipient   string    `json:"recipient,omitempty"`
	ContentType string    `json:"content_type"`
	Body        []byte    `json:"body"`
}

// History retrieves logged messages (the `parley` extension).
func (c *Client) History(ctx context.Context, room string, q HistoryQuery) ([]HistoryEntry, error) {
	out, _, err := c.HistoryPage(ctx, room, q)
	return out, err
}

// HistoryPage is History that also returns the cursor of the next page ("" when no more
// follow), for q.After.
func (c *Client) HistoryPage(ctx context.Context, room string, q HistoryQuery) ([]HistoryEntry, string, error) {
	op := etree.NewElement("parley:history")
	op.CreateAttr("xmlns:parley", NSParley)
	if q.Channel != "" {
		op.CreateAttr("channel", q.Channel)
	}
	if !q.From.IsZero() {
		op.CreateAttr("from", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		op.CreateAttr("to", q.To.UTC().Format(time.RFC3339))
	}
	if !q.Since.IsZero() {
		op.CreateAttr("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.After != "" {
		op.CreateAttr("after", q.After)
	}
	if q.Limit > 0 {
		op.CreateAttr("limit", strconv.Itoa(q.Limit))
	}
	resp, err := c.Do(ctx, &Request{Type: TypeExtended, ConfObjID: RoomURI(room), Operation: OpRetrieve, HasBody: true,
		ExtensionName: ExtensionName, Extensions: []*etree.Element{op}})
	if err != nil {
		return nil, "", err
	}
	var out []HistoryEntry
	next := ""
	for _, x := range resp.Extensions {
		if ns, _ := nsOf(x); ns != NSParley || x.Tag != "history" {
			continue
		}
		next = x.SelectAttrValue("next", "")
		for _, m := range x.ChildElements() {
			e := HistoryEntry{
				Channel: m.SelectAttrValue("channel", ""), Sender: m.SelectAttrValue("sender", ""),
				Nickname: m.SelectAttrValue("nickname", ""), Recipient: m.SelectAttrValue("recipient", ""),
				ContentType: m.SelectAttrValue("content-type", ""),
			}
			e.Seq, _ = strconv.ParseInt(m.SelectAttrValue("seq", ""), 10, 64)
			e.Time, _ = time.Parse(time.RFC3339Nano, m.SelectAttrValue("time", ""))
			if m.SelectAttrValue("encoding", "") == "base64" {
				e.Body, err = base64.StdEncoding.DecodeString(strings.TrimSpace(m.Text()))
				if err != nil {
					return nil, "", fmt.Errorf("history message %d: %w", e.Seq, err)
				}
			} else {
				e.Body = []byte(m.Text())
			}
			out = append(out, e)
		}
	}
	return out, next, nil
}

// Audit retrieves the newest limit audit rows of a room (0: the server's default), oldest
// first (the `parley` extension's audit).
func (c *Client) Audit(ctx context.Context, room string, limit int) ([]xcon.AuditEntry, error) {
	op := etree.NewElement("parley:audit")
	op.CreateAttr("xmlns:parley", NSParley)
	if limit > 0 {
		op.CreateAttr("limit", strconv.Itoa(limit))
	}
	resp, err := c.Do(ctx, &Request{Type: TypeExtended, ConfObjID: RoomURI(room), Operation: OpRetrieve, HasBody: true,
		ExtensionName: ExtensionName, Extensions: []*etree.Element{op}})
	if err != nil {
		return nil, err
	}
	var out []xcon.AuditEntry
	for _, x := range resp.Extensions {
		if ns, _ := nsOf(x); ns != NSParley || x.Tag != "audit" {
			continue
		}
		for _, m := range x.ChildElements() {
			e := xcon.AuditEntry{Room: strings.ToLower(room), Principal: m.SelectAttrValue("principal", ""),
				Remote: m.SelectAttrValue("remote", ""), Request: m.SelectAttrValue("request", ""),
				Operation: m.SelectAttrValue("operation", ""), Target: m.SelectAttrValue("target", "")}
			e.ID, _ = strconv.ParseInt(m.SelectAttrValue("id", ""), 10, 64)
			e.Time, _ = time.Parse(time.RFC3339Nano, m.SelectAttrValue("time", ""))
			e.Code, _ = strconv.Atoi(m.SelectAttrValue("code", ""))
			out = append(out, e)
		}
	}
	return out, nil
}

// Options asks the server what it implements.
func (c *Client) Options(ctx context.Context) (*Options, error) {
	resp, err := c.Do(ctx, &Request{Type: TypeOptions})
	if err != nil {
		return nil, err
	}
	if resp.Options == nil {
		return &Options{}, nil
	}
	return resp.Options, nil
}

// authorization answers the challenges of a 401: Digest (SHA-256 before MD5, qop=auth),
// else Basic when the URL is https. "" when none can be answered.
func (c *Client) authorization(res *http.Response) string {
	var chosen *digest.Challenge
	basic := false
	for _, h := range res.Header.Values("WWW-Authenticate") {
		scheme, _, _ := strings.Cut(h, " ")
		switch {
		case strings.EqualFold(scheme, "Digest"):
			ch, ok := digest.ParseChallenge(h)
			if !ok || !ch.OffersAuth() || !digest.Supported(ch.Algorithm) {
				continue
			}
			if chosen == nil || strings.EqualFold(ch.Algorithm, digest.SHA256) && !strings.EqualFold(chosen.Algorithm, digest.SHA256) {
				chosen = &ch
			}
		case strings.EqualFold(scheme, "Basic"):
			basic = true
		}
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return ""
	}
	if chosen != nil {
		return chosen.Authorize(c.Username, c.Secret, http.MethodPost, u.RequestURI(), randomid.String(cnonceAlphabet, 24))
	}
	if basic && u.Scheme == "https" {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Secret))
	}
	return ""
}

// cnonceAlphabet: a cnonce is a quoted string of the client's choosing (RFC 7616 §3.4).
const cnonceAlphabet = "0123456789abcdef"
