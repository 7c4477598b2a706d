// Package confinfo is the application/conference-info+xml document of the conference event
// package (RFC 4575) as a chat focus publishes it: what a subscriber may see of a room's
// conference object (View), the full and partial notification bodies built from it (Full,
// Partial), and the subscriber's side of the same documents (Unmarshal, Apply).
//
// The document is an xcon.Conference whose Entity is the room's SIP URI (RFC 4575 §5: the
// conference URI) and whose NotifyState and Version carry the notification's state and
// per-subscription version (§4.4, §5.2). Users keep their XCON-USERID as entity and endpoints
// their chat-ID; the user's default nickname and each endpoint's nickname travel in the
// xcon:nickname attribute (RFC 7701 §7.4, seed figure 4), and each user's SIP address of
// record in associated-aors, which is what a chat client maps a CPIM From to a nickname with.
//
// The package does no I/O and keeps no state; values are safe to use from one goroutine at a
// time.
package confinfo

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/parleychat/parley/xcon"
)

// ContentType is the MIME type of the document (RFC 4575 §3.4).
const ContentType = "application/conference-info+xml"

// Notification states (RFC 4575 §4.4).
const (
	StateFull    = "full"
	StatePartial = "partial"
	StateDeleted = "deleted"
)

// Errors of Unmarshal and Apply. ErrInvalid wraps xcon.ErrInvalid for malformed documents.
var (
	ErrInvalid = errors.New("confinfo: invalid conference-info document")
	// ErrStale: the document's version is not above the local one; it is ignored (§4.6).
	ErrStale = errors.New("confinfo: notification older than the local state")
	// ErrGap: a partial notification skipped a version, or came with no full state to apply it
	// to; the subscriber refreshes its subscription to get full state (§4.6).
	ErrGap = errors.New("confinfo: partial notification does not follow the local state")
)

// Options tune View.
type Options struct {
	// AnonymityKey keys the pseudonyms of users who asked for anonymity (RFC 6501
	// provide-anonymity private or semi-private): their entity and AOR become
	// sip:anonymous-…@anonymous.invalid (RFC 4575 §5.6), stable for one key. A nil key still
	// hides the identity but the pseudonym can be confirmed by whoever guesses the AOR.
	AnonymityKey []byte
}

// View returns what a subscriber may see of a conference object: its description (without
// conference passwords or extensions), its state with whether the room is logged
// (LoggingElement), and the users present now (those with at least one endpoint), under
// entity, the room's SIP URI. Provisioning data of the XCON model (join handling, allowed and
// deny lists, floor control) is never published. The result is independent of c and carries
// no notification state or version.
func View(c *xcon.Conference, entity string, opt Options) *xcon.Conference {
	v := &xcon.Conference{Entity: entity}
	d := &c.Description
	v.Description = xcon.Description{
		Lang:             d.Lang,
		DisplayText:      d.DisplayText,
		Subject:          d.Subject,
		FreeText:         d.FreeText,
		Keywords:         slices.Clone(d.Keywords),
		ConfURIs:         publicURIs(d.ConfURIs),
		ServiceURIs:      publicURIs(d.ServiceURIs),
		MaximumUserCount: clonePtr(d.MaximumUserCount),
		Language:         d.Language,
	}
	for _, m := range d.Media {
		v.Description.Media = append(v.Description.Media, xcon.Channel{Label: m.Label, Type: m.Type, Status: m.Status,
			DisplayText: m.DisplayText, Language: m.Language})
	}
	for _, u := range c.Users {
		if len(u.Endpoints) == 0 || strings.EqualFold(u.ProvideAnonymity, "hidden") {
			continue
		}
		v.Users = append(v.Users, publicUser(u, opt))
	}
	policy, _ := c.RoomPolicy()
	if policy.Successor != "" {
		v.Users = nil // a closed room holds nobody
	}
	n := uint32(len(v.Users))
	v.State = xcon.ConferenceState{UserCount: &n, Active: clonePtr(c.State.Active), Locked: clonePtr(c.State.Locked)}
	v.State.Extras.Elements = []*xcon.Element{LoggingElement(policy.Logging)}
	if policy.Moderated {
		v.State.Extras.Elements = append(v.State.Extras.Elements, ModeratedElement())
	}
	if policy.Successor != "" {
		v.State.Extras.Elements = append(v.State.Extras.Elements, SuccessorElement(policy.Successor))
	}
	return v
}

// SuccessorElement is <successor> in Parley's namespace (xcon.NSParley): the SIP URI of the
// room that replaces a closed one (session-chat §5.4), published in <conference-state> of the last
// NOTIFY of a closed room's subscriptions, so that watchers can follow it.
func SuccessorElement(sipURI string) *xcon.Element {
	return &xcon.Element{Name: xml.Name{Space: xcon.NSParley, Local: "successor"}, Text: sipURI}
}

// Successor reads SuccessorElement from a document's conference-state: "" without it.
func Successor(doc *xcon.Conference) string {
	for _, e := range doc.State.Extras.Elements {
		if e.Name.Space == xcon.NSParley && e.Name.Local == "successor" {
			return strings.TrimSpace(e.Text)
		}
	}
	return ""
}

// LoggingElement is <logging> in Parley's namespace (xcon.NSParley): whether the room logs what
// is said (session-chat §5.2). It is published in <conference-state>, which RFC 4575 §5.5 lets carry
// elements of other namespaces, and in the CCMP userResponse of a joiner.
func LoggingElement(logged bool) *xcon.Element {
	return &xcon.Element{Name: xml.Name{Space: xcon.NSParley, Local: "logging"}, Text: strconv.FormatBool(logged)}
}

// ModeratedElement is <moderated>true</moderated> in Parley's namespace (xcon.NSParley),
// published in <conference-state> of a moderated room: joiners without a role are visitors,
// shown with the role observer, until a moderator gives them voice. Open rooms omit it.
func ModeratedElement() *xcon.Element {
	return &xcon.Element{Name: xml.Name{Space: xcon.NSParley, Local: "moderated"}, Text: "true"}
}

// Moderated reads ModeratedElement from a document's conference-state.
func Moderated(doc *xcon.Conference) bool {
	for _, e := range doc.State.Extras.Elements {
		if e.Name.Space == xcon.NSParley && e.Name.Local == "moderated" {
			return strings.TrimSpace(e.Text) == "true"
		}
	}
	return false
}

// Logged reads LoggingElement from a document's conference-state: ok is false without it.
func Logged(doc *xcon.Conference) (logged, ok bool) {
	for _, e := range doc.State.Extras.Elements {
		if e.Name.Space == xcon.NSParley && e.Name.Local == "logging" {
			return e.Text == "true", true
		}
	}
	return false, false
}

func publicURIs(us []xcon.URIEntry) []xcon.URIEntry {
	var out []xcon.URIEntry
	for _, u := range us {
		out = append(out, xcon.URIEntry{URI: u.URI, DisplayText: u.DisplayText, Purpose: u.Purpose})
	}
	return out
}

func publicUser(u *xcon.User, opt Options) *xcon.User {
	p := &xcon.User{
		Entity:         u.Entity,
		Nickname:       u.Nickname,
		DisplayText:    u.DisplayText,
		AssociatedAORs: slices.Clone(u.AssociatedAORs),
		Roles:          slices.Clone(u.Roles),
		Languages:      slices.Clone(u.Languages),
	}
	if a := strings.ToLower(u.ProvideAnonymity); a == "private" || a == "semi-private" {
		pseudonym := anonymous(u.Entity, opt.AnonymityKey)
		p.Entity = "xcon-userid:" + pseudonym
		p.DisplayText = ""
		p.AssociatedAORs = []string{"sip:" + pseudonym}
	}
	for _, e := range u.Endpoints {
		pe := &xcon.Endpoint{Entity: e.Entity, Nickname: e.Nickname, DisplayText: e.DisplayText, Status: e.Status,
			JoiningMethod: e.JoiningMethod}
		if e.JoiningInfo != nil {
			ji := *e.JoiningInfo
			pe.JoiningInfo = &ji
		}
		for _, m := range e.Media {
			pe.Media = append(pe.Media, xcon.Media{ID: m.ID, DisplayText: m.DisplayText, Type: m.Type, Label: m.Label, Status: m.Status})
		}
		if e.PageMode() {
			pe.Extras.Elements = []*xcon.Element{xcon.PageModeElement()} // a SIP MESSAGE member
		}
		p.Endpoints = append(p.Endpoints, pe)
	}
	return p
}

// anonymous returns "anonymous-<tag>@anonymous.invalid" for a user entity.
func anonymous(entity string, key []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(strings.ToLower(entity)))
	return "anonymous-" + hex.EncodeToString(mac.Sum(nil)[:8]) + "@anonymous.invalid"
}

// Full returns the full-state document of view v with the given version (RFC 4575 §5.2: it
// carries at least conference-description and users, even an empty <users/>).
func Full(v *xcon.Conference, version uint32) *xcon.Conference {
	doc := v.Clone()
	doc.NotifyState = StateFull
	doc.Version = uint64(version)
	doc.UsersState = StateFull
	for _, u := range doc.Users {
		u.NotifyState = ""
	}
	return doc
}

// Partial returns the partial document that takes a subscriber from view prev to view next
// (RFC 4575 §4.4), or nil when nothing a subscriber sees changed. Users who are new or
// changed are sent whole (state="full"), users who went are sent as state="deleted" with no
// children; conference-description and conference-state, which have no state attribute, are
// sent whole when they changed.
func Partial(prev, next *xcon.Conference, version uint32) *xcon.Conference {
	doc := &xcon.Conference{Entity: next.Entity, NotifyState: StatePartial, Version: uint64(version)}
	changed := false
	if !reflect.DeepEqual(prev.Description, next.Description) {
		doc.Description = next.Clone().Description
		changed = true
	}
	if !reflect.DeepEqual(prev.State, next.State) {
		doc.State = next.Clone().State
		changed = true
	}
	before := map[string]*xcon.User{}
	for _, u := range prev.Users {
		before[u.Entity] = u
	}
	after := map[string]bool{}
	var users []*xcon.User
	for _, u := range next.Users {
		after[u.Entity] = true
		if old := before[u.Entity]; old == nil || !reflect.DeepEqual(old, u) {
			c := u.Clone()
			c.NotifyState = StateFull
			users = append(users, c)
		}
	}
	for _, u := range prev.Users {
		if !after[u.Entity] {
			users = append(users, &xcon.User{Entity: u.Entity, NotifyState: StateDeleted})
		}
	}
	if len(users) > 0 {
		doc.UsersState = StatePartial
		doc.Users = users
		changed = true
	}
	if !changed {
		return nil
	}
	return doc
}

// Deleted returns the document that tells a subscriber the conference is gone (RFC 4575
// §4.6: root state deleted).
func Deleted(entity string, version uint32) *xcon.Conference {
	return &xcon.Conference{Entity: entity, NotifyState: StateDeleted, Version: uint64(version)}
}

// Marshal encodes a document as UTF-8 XML.
func Marshal(doc *xcon.Conference) ([]byte, error) {
	var buf bytes.Buffer
	if err := doc.Encode(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes a notification body and checks what RFC 4575 requires of it beyond
// well-formedness: an entity, a version (§5.2) and a known state (§4.4) on the root and on
// users and endpoints.
func Unmarshal(b []byte) (*xcon.Conference, error) {
	doc, err := xcon.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if doc.Entity == "" {
		return nil, fmt.Errorf("%w: no entity", ErrInvalid)
	}
	if doc.Version == 0 || doc.Version > 1<<32-1 {
		return nil, fmt.Errorf("%w: version missing or not a 32-bit number", ErrInvalid)
	}
	states := []string{doc.NotifyState, doc.UsersState}
	for _, u := range doc.Users {
		states = append(states, u.NotifyState)
		for _, e := range u.Endpoints {
			states = append(states, e.NotifyState)
		}
	}
	for _, s := range states {
		switch s {
		case "", StateFull, StatePartial, StateDeleted:
		default:
			return nil, fmt.Errorf("%w: unknown state %q", ErrInvalid, s)
		}
	}
	return doc, nil
}

// Apply is the subscriber's processing of a notification (RFC 4575 §4.6): it returns the new
// local state given the current one (nil before the first notification) and a decoded
// document. A stale document returns ErrStale, a partial one that skips a version ErrGap
// (refresh the subscription); a root state of deleted returns the document itself, whose
// NotifyState tells the caller the conference is gone. local is not modified.
func Apply(local, doc *xcon.Conference) (*xcon.Conference, error) {
	if local != nil && doc.Version <= local.Version {
		return nil, ErrStale
	}
	switch doc.NotifyState {
	case StateDeleted:
		return doc.Clone(), nil
	case "", StateFull:
		n := doc.Clone()
		n.NotifyState, n.UsersState = "", ""
		clearStates(n.Users)
		return n, nil
	}
	if local == nil || doc.Version != local.Version+1 {
		return nil, ErrGap
	}
	n := local.Clone()
	n.Version = doc.Version
	if !reflect.DeepEqual(doc.Description, xcon.Description{}) {
		n.Description = doc.Clone().Description
	}
	if !reflect.DeepEqual(doc.State, xcon.ConferenceState{}) {
		n.State = doc.Clone().State
	}
	if doc.UsersState == "" || doc.UsersState == StateFull {
		if len(doc.Users) > 0 || doc.UsersState == StateFull {
			n.Users = cloneUsers(doc.Users)
			clearStates(n.Users)
		}
		return n, nil
	}
	for _, u := range doc.Users {
		i := slices.IndexFunc(n.Users, func(x *xcon.User) bool { return x.Entity == u.Entity })
		switch u.NotifyState {
		case StateDeleted:
			if i >= 0 {
				n.Users = slices.Delete(n.Users, i, i+1)
			}
		case StatePartial:
			if i < 0 {
				return nil, ErrGap // a partial user we never had
			}
			mergeUser(n.Users[i], u)
		default:
			c := u.Clone()
			c.NotifyState = ""
			clearEndpointStates(c)
			if i >= 0 {
				n.Users[i] = c
			} else {
				n.Users = append(n.Users, c)
			}
		}
	}
	return n, nil
}

// mergeUser applies a partial <user>: the elements present replace the local ones, endpoints
// are merged by entity.
func mergeUser(dst, src *xcon.User) {
	if src.Nickname != "" {
		dst.Nickname = src.Nickname
	}
	if src.DisplayText != "" {
		dst.DisplayText = src.DisplayText
	}
	if len(src.AssociatedAORs) > 0 {
		dst.AssociatedAORs = slices.Clone(src.AssociatedAORs)
	}
	if len(src.Roles) > 0 {
		dst.Roles = slices.Clone(src.Roles)
	}
	if len(src.Languages) > 0 {
		dst.Languages = slices.Clone(src.Languages)
	}
	for _, e := range src.Endpoints {
		i := slices.IndexFunc(dst.Endpoints, func(x *xcon.Endpoint) bool { return x.Entity == e.Entity })
		switch {
		case e.NotifyState == StateDeleted:
			if i >= 0 {
				dst.Endpoints = slices.Delete(dst.Endpoints, i, i+1)
			}
		case e.NotifyState == StatePartial && i >= 0:
			mergeEndpoint(dst.Endpoints[i], e)
		default:
			c := e.Clone()
			c.NotifyState = ""
			if i >= 0 {
				dst.Endpoints[i] = c
			} else {
				dst.Endpoints = append(dst.Endpoints, c)
			}
		}
	}
}

func mergeEndpoint(dst, src *xcon.Endpoint) {
	if src.Nickname != "" {
		dst.Nickname = src.Nickname
	}
	if src.DisplayText != "" {
		dst.DisplayText = src.DisplayText
	}
	if src.Status != "" {
		dst.Status = src.Status
	}
	if src.JoiningMethod != "" {
		dst.JoiningMethod = src.JoiningMethod
	}
	for _, m := range src.Media {
		i := slices.IndexFunc(dst.Media, func(x xcon.Media) bool { return x.ID == m.ID })
		if i >= 0 {
			dst.Media[i] = m
		} else {
			dst.Media = append(dst.Media, m)
		}
	}
}

func cloneUsers(us []*xcon.User) []*xcon.User {
	out := make([]*xcon.User, len(us))
	for i, u := range us {
		out[i] = u.Clone()
	}
	return out
}

func clearStates(us []*xcon.User) {
	for _, u := range us {
		u.NotifyState = ""
		clearEndpointStates(u)
	}
}

func clearEndpointStates(u *xcon.User) {
	for _, e := range u.Endpoints {
		e.NotifyState = ""
	}
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
