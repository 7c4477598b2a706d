package xcon

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Partial updates (RFC 6503 §4.2, xcon-ccmp.md §3.9). The *Info of an update is a fragment
// holding only the changes. Convention: a leaf that is present replaces the value, an empty
// leaf removes it; keyed repeated elements merge by key (user and endpoint by entity, media
// by id, available-media entry by label, uris entries by uri, xcon:target by uri and method),
// a keyed element carrying state="deleted" is removed, an empty list removes every entry;
// other containers are replaced whole. Unknown elements of other namespaces replace the kept
// ones of the same name. Validation comes first and the change is applied to a copy, so an
// update is all or nothing.

// MergeRefusal classifies a change a merge refuses.
type MergeRefusal int

const (
	// Invalid: the delta is not a valid change (CCMP 400).
	Invalid MergeRefusal = iota
	// Forbidden: the delta changes what the server alone sets (CCMP 403).
	Forbidden
	// Conflict: the change contradicts the stored object (CCMP 409).
	Conflict
)

// MergeError is a delta a merge refuses; the object it was applied to may be
// partly changed, so merges are made on a copy.
type MergeError struct {
	Kind   MergeRefusal
	Reason string
}

func (e *MergeError) Error() string { return "xcon: merge refused: " + e.Reason }

func refuse(kind MergeRefusal, reason string) *MergeError {
	return &MergeError{Kind: kind, Reason: reason}
}

// MergeRules are the checks of a merge that belong to the caller.
type MergeRules struct {
	// Nickname, when set, vets the nickname a new user brings; an error
	// refuses the delta as Invalid, its text saying what is acceptable.
	Nickname func(nick string) error
}

// ConferenceDelta is a partial conference-type element (RFC 6503 §4.2): the
// tree of what it names, and its decoded content.
type ConferenceDelta struct {
	node       *node
	Conference *Conference
}

// UserDelta is a partial user-type element.
type UserDelta struct {
	node *node
	User *User
}

// ParseConferenceDelta reads a partial conference element such as CCMP's
// confInfo; errors wrap ErrInvalid.
func ParseConferenceDelta(el *etree.Element) (*ConferenceDelta, error) {
	n, err := parseDelta(el)
	if err != nil {
		return nil, err
	}
	c, err := DecodeElement(el)
	if err != nil {
		return nil, err
	}
	return &ConferenceDelta{node: n, Conference: c}, nil
}

// ParseUserDelta reads a partial user element such as CCMP's userInfo.
func ParseUserDelta(el *etree.Element) (*UserDelta, error) {
	n, err := parseDelta(el)
	if err != nil {
		return nil, err
	}
	u, err := DecodeUserElement(el)
	if err != nil {
		return nil, err
	}
	return &UserDelta{node: n, User: u}, nil
}

// Apply merges the delta into c.
func (d *ConferenceDelta) Apply(c *Conference, rules MergeRules) error {
	return mergeConference(c, d.node, d.Conference, rules)
}

// Apply merges the delta into u; the nickname is left to the caller, which
// must claim it first.
func (d *UserDelta) Apply(u *User) error { return mergeUser(u, d.node, d.User) }

// HasAttr tells whether the delta's element carries the attribute.
func (d *UserDelta) HasAttr(space, local string) bool {
	_, ok := d.node.attr(space, local)
	return ok
}

func parseDelta(el *etree.Element) (*node, error) {
	if el == nil {
		return nil, fmt.Errorf("xcon: %w: no element", ErrInvalid)
	}
	n, err := buildNode(el, scopeOf(el))
	if err != nil {
		return nil, err
	}
	n.prune()
	return n, nil
}

// node is an element of a delta with its expanded name.
type node struct {
	name  xml.Name
	el    *etree.Element
	attrs []xml.Attr
	text  string
	kids  []*node
}

func buildNode(el *etree.Element, sc *scope) (*node, error) {
	name, err := sc.resolveElement(el)
	if err != nil {
		return nil, err
	}
	n := &node{name: name, el: el, text: strings.TrimSpace(el.Text())}
	for _, a := range el.Attr {
		an, ok, err := sc.resolveAttr(a)
		if err != nil {
			return nil, err
		}
		if ok {
			n.attrs = append(n.attrs, xml.Attr{Name: an, Value: strings.TrimSpace(a.Value)})
		}
	}
	for _, c := range el.ChildElements() {
		k, err := buildNode(c, sc.enter(c))
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

func (n *node) attr(space, local string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// deleted tells whether the element carries state="deleted" (RFC 4575 §4.4), in any namespace.
func (n *node) deleted() bool {
	for _, a := range n.attrs {
		if a.Name.Local == "state" && a.Value == "deleted" {
			return true
		}
	}
	return false
}

func (n *node) empty() bool { return len(n.kids) == 0 && n.text == "" }

// prune removes empty leaves without attributes from the etree under n (their presence is
// kept in the node tree), so that the xcon decoder does not reject an empty number or boolean
// that means "remove".
func (n *node) prune() {
	for _, k := range n.kids {
		k.prune()
		if k.empty() && len(k.attrs) == 0 {
			n.el.RemoveChild(k.el)
		}
	}
}

// mergeConference applies delta d (decoded as dc) to c.
func mergeConference(c *Conference, d *node, dc *Conference, rules MergeRules) error {
	for _, k := range d.kids {
		switch k.name {
		case info("conference-description"):
			if err := mergeDescription(&c.Description, k, &dc.Description); err != nil {
				return err
			}
		case info("host-info"):
			c.HostInfo = dc.HostInfo
			if k.empty() {
				c.HostInfo = nil
			}
		case info("conference-state"):
			for _, s := range k.kids {
				switch s.name {
				case info("active"):
					c.State.Active = dc.State.Active
				case info("locked"):
					c.State.Locked = dc.State.Locked
				case xc("allow-conference-event-subscription"):
					c.State.AllowConferenceEventSubscription = dc.State.AllowConferenceEventSubscription
				case info("user-count"):
					// counted by the focus
				}
			}
		case info("users"):
			if err := mergeUsers(c, k, dc, rules); err != nil {
				return err
			}
		case info("sidebars-by-ref"), info("sidebars-by-val"):
			return refuse(Forbidden, "sidebars change through sidebarByValRequest and sidebarByRefRequest")
		case xc("floor-information"):
			c.FloorInformation = dc.FloorInformation
			if k.empty() {
				c.FloorInformation = nil
			}
		case xml.Name{Space: NSParley, Local: "room-policy"}:
			if err := mergePolicy(c, k); err != nil {
				return err
			}
		default:
			c.Extras.Replace(k.name, dc.Extras)
		}
	}
	return nil
}

// mergePolicy applies the attributes of a <parley:room-policy> delta; the successor is set
// only by the `parley` extension's close, which also moves everyone out.
func mergePolicy(c *Conference, k *node) error {
	p, _ := c.RoomPolicy()
	if v, ok := k.attr("", "logging"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return refuse(Invalid, "room-policy logging must be true or false")
		}
		p.Logging = b
	}
	if v, ok := k.attr("", "history"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10000 {
			return refuse(Invalid, "room-policy history must be a number from 0 to 10000")
		}
		p.History = n
	}
	if v, ok := k.attr("", "moderated"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return refuse(Invalid, "room-policy moderated must be true or false")
		}
		p.Moderated = b
	}
	if v, ok := k.attr("", "max-message-size"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return refuse(Invalid, "room-policy max-message-size must be a number of bytes, 0 for the focus's limit")
		}
		p.MaxMessageSize = n
	}
	if v, ok := k.attr("", "keep-for"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return refuse(Invalid, "room-policy keep-for must be a duration such as 720h, 0 to keep everything")
		}
		p.KeepFor = d
	}
	if v, ok := k.attr("", "keep-messages"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return refuse(Invalid, "room-policy keep-messages must be a number, 0 to keep everything")
		}
		p.KeepMessages = n
	}
	c.SetRoomPolicy(p)
	return nil
}

// Replace puts the kept elements of from named name in place of those of x.
func (x *Extras) Replace(name xml.Name, from Extras) {
	x.Elements = slices.DeleteFunc(slices.Clone(x.Elements), func(e *Element) bool { return e.Name == name })
	for _, e := range from.Elements {
		if e.Name == name {
			x.Elements = append(x.Elements, e)
		}
	}
}

func mergeDescription(c *Description, d *node, dd *Description) error {
	for _, k := range d.kids {
		switch k.name {
		case info("display-text"):
			c.DisplayText = k.text
		case info("subject"):
			c.Subject = k.text
		case info("free-text"):
			c.FreeText = k.text
		case info("keywords"):
			c.Keywords = strings.Fields(k.text)
		case info("conf-uris"):
			if err := mergeConfURIs(c, k, dd); err != nil {
				return err
			}
		case info("service-uris"):
			c.ServiceURIs = mergeURIs(c.ServiceURIs, k, dd.ServiceURIs)
		case info("maximum-user-count"):
			c.MaximumUserCount = dd.MaximumUserCount
		case info("available-media"):
			if err := mergeMedia(c, k, dd); err != nil {
				return err
			}
		case xc("language"):
			c.Language = k.text
		case xc("allow-sidebars"):
			c.AllowSidebars = dd.AllowSidebars
		case xc("cloning-parent"), xc("sidebar-parent"):
			return refuse(Forbidden, "the cloning and sidebar parents are set by the server")
		case xc("conference-time"):
			c.ConferenceTime = dd.ConferenceTime
			if k.empty() {
				c.ConferenceTime = nil
			}
		default:
			c.Extras.Replace(k.name, dd.Extras)
		}
	}
	return nil
}

// mergeConfURIs changes the password, display text or purpose of a conf-uris entry. The
// URIs themselves are the focus's signalling addresses: a client cannot add one.
func mergeConfURIs(c *Description, k *node, dd *Description) error {
	i := 0
	for _, e := range k.kids {
		if e.name != info("entry") {
			continue
		}
		de := dd.ConfURIs[i]
		i++
		at := slices.IndexFunc(c.ConfURIs, func(u URIEntry) bool { return strings.EqualFold(u.URI, de.URI) })
		if at < 0 {
			return refuse(Conflict, "conf-uris are the focus's own addresses; "+de.URI+" is not one")
		}
		cur := &c.ConfURIs[at]
		for _, f := range e.kids {
			switch f.name {
			case info("display-text"):
				cur.DisplayText = f.text
			case info("purpose"):
				cur.Purpose = f.text
			case xc("conference-password"):
				cur.Password = f.text
			}
		}
	}
	return nil
}

func mergeURIs(cur []URIEntry, k *node, delta []URIEntry) []URIEntry {
	if k.empty() {
		return nil
	}
	out := slices.Clone(cur)
	i := 0
	for _, e := range k.kids {
		if e.name != info("entry") {
			continue
		}
		de := delta[i]
		i++
		at := slices.IndexFunc(out, func(u URIEntry) bool { return strings.EqualFold(u.URI, de.URI) })
		switch {
		case e.deleted() && at >= 0:
			out = slices.Delete(out, at, at+1)
		case e.deleted():
		case at >= 0:
			out[at] = de
		default:
			out = append(out, de)
		}
	}
	return out
}

func mergeMedia(c *Description, k *node, dd *Description) error {
	if k.empty() {
		return refuse(Conflict, "a room keeps at least one channel")
	}
	i := 0
	for _, e := range k.kids {
		if e.name != info("entry") {
			continue
		}
		de := dd.Media[i]
		i++
		if de.Label == "" {
			return refuse(Invalid, "an available-media entry needs a label")
		}
		at := slices.IndexFunc(c.Media, func(m Channel) bool { return m.Label == de.Label })
		switch {
		case e.deleted():
			if at >= 0 {
				c.Media = slices.Delete(c.Media, at, at+1)
			}
			continue
		case at < 0:
			c.Media = append(c.Media, de)
			continue
		}
		cur := &c.Media[at]
		for _, f := range e.kids {
			switch f.name {
			case info("display-text"):
				cur.DisplayText = f.text
			case info("type"):
				cur.Type = f.text
			case info("status"):
				cur.Status = f.text
			case xc("language"):
				cur.Language = f.text
			case xc("mixing-mode"):
				cur.MixingMode = f.text
			default:
				cur.Extras.Replace(f.name, de.Extras)
			}
		}
	}
	if len(c.Media) == 0 {
		return refuse(Conflict, "a room keeps at least one channel")
	}
	return nil
}

// mergeUsers applies a <users> delta (usersInfo, or confInfo's users).
func mergeUsers(c *Conference, d *node, dc *Conference, rules MergeRules) error {
	ui := 0
	for _, k := range d.kids {
		switch k.name {
		case xc("join-handling"):
			c.JoinHandling = k.text
		case xc("user-admission-policy"):
			c.UserAdmissionPolicy = k.text
		case xc("allowed-users-list"):
			if err := checkTargets(k); err != nil {
				return err
			}
			c.AllowedUsers = mergeTargets(c.AllowedUsers, k, true)
			for _, p := range k.kids {
				if p.name == xc("persistent-list") {
					c.PersistentUsers = dc.PersistentUsers
				}
			}
			if k.empty() {
				c.PersistentUsers = nil
			}
		case xc("deny-users-list"):
			if err := checkTargets(k); err != nil {
				return err
			}
			c.DenyUsers = mergeTargets(c.DenyUsers, k, false)
		case info("user"):
			du := dc.Users[ui]
			ui++
			entity, _ := k.attr("", "entity")
			if entity == "" {
				return refuse(Invalid, "a user needs its entity")
			}
			if !isURI(entity) {
				return refuse(Invalid, "a user's entity must be a URI")
			}
			cur := c.User(entity)
			switch {
			case k.deleted():
				if cur == nil {
					return refuse(Conflict, "no user "+entity+" to remove")
				}
				c.Users = slices.DeleteFunc(c.Users, func(u *User) bool { return u == cur })
			case cur == nil:
				// The nickname a new user brings is held to the rule a claimed one is (PRECIS).
				if du.Nickname != "" && rules.Nickname != nil {
					if err := rules.Nickname(du.Nickname); err != nil {
						return refuse(Invalid, "the nickname of "+entity+" is not acceptable ("+err.Error()+")")
					}
				}
				du.Endpoints = nil
				c.Users = append(c.Users, du)
			default:
				if err := mergeUser(cur, k, du); err != nil {
					return err
				}
			}
		default:
			c.UsersExtras.Replace(k.name, dc.UsersExtras)
		}
	}
	return nil
}

// checkTargets refuses a list whose targets are not URIs.
func checkTargets(k *node) error {
	for _, t := range k.kids {
		if uri, _ := t.attr("", "uri"); t.name == xc("target") && !isURI(uri) {
			return refuse(Invalid, "a target's uri must be a URI")
		}
	}
	return nil
}

// isURI tells whether s has the shape of an absolute URI (RFC 3986 §3: a scheme, a colon,
// something) with no whitespace or control character: what may name a user or a target.
func isURI(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon < 1 || colon == len(s)-1 || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f {
			return false
		}
		if i < colon && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func mergeTargets(cur []Target, k *node, withMethod bool) []Target {
	if k.empty() {
		return nil
	}
	out := slices.Clone(cur)
	for _, t := range k.kids {
		if t.name != xc("target") {
			continue
		}
		uri, _ := t.attr("", "uri")
		method, _ := t.attr("", "method")
		if !withMethod {
			method = ""
		}
		same := func(x Target) bool {
			return strings.EqualFold(x.URI, uri) && (method == "" || x.Method == method)
		}
		if t.deleted() {
			out = slices.DeleteFunc(out, same)
			continue
		}
		if !slices.ContainsFunc(out, same) {
			out = append(out, Target{URI: uri, Method: method})
		}
	}
	return out
}

// mergeUser applies a <user> delta; the nickname is handled by the caller (it must be
// claimed first).
func mergeUser(u *User, d *node, du *User) error {
	ei := 0
	for _, k := range d.kids {
		switch k.name {
		case info("display-text"):
			u.DisplayText = k.text
		case info("associated-aors"):
			u.AssociatedAORs, u.AORDetails = du.AssociatedAORs, du.AORDetails
		case info("roles"):
			u.Roles = du.Roles
		case info("languages"):
			u.Languages = du.Languages
		case info("cascaded-focus"):
			u.CascadedFocus = k.text
		case info("endpoint"):
			de := du.Endpoints[ei]
			ei++
			if err := mergeEndpoint(u, k, de); err != nil {
				return err
			}
		case xc("provide-anonymity"):
			u.ProvideAnonymity = k.text
		case xc("allow-refer-users-dynamically"):
			u.AllowReferUsersDynamically = du.AllowReferUsersDynamically
		case xc("allow-invite-users-dynamically"):
			u.AllowInviteUsersDynamically = du.AllowInviteUsersDynamically
		case xc("allow-remove-users-dynamically"):
			u.AllowRemoveUsersDynamically = du.AllowRemoveUsersDynamically
		default:
			u.Extras.Replace(k.name, du.Extras)
		}
	}
	return nil
}

func mergeEndpoint(u *User, k *node, de *Endpoint) error {
	cur := u.Endpoint(de.Entity)
	switch {
	case k.deleted():
		if cur == nil {
			return refuse(Conflict, "no endpoint "+de.Entity+" to remove")
		}
		u.Endpoints = slices.DeleteFunc(u.Endpoints, func(e *Endpoint) bool { return e == cur })
		return nil
	case cur == nil:
		u.Endpoints = append(u.Endpoints, de)
		return nil
	}
	mi := 0
	for _, f := range k.kids {
		switch f.name {
		case info("display-text"):
			cur.DisplayText = f.text
		case info("status"):
			cur.Status = f.text
		case info("joining-method"):
			cur.JoiningMethod = f.text
		case info("disconnection-method"):
			cur.DisconnectionMethod = f.text
		case info("media"):
			dm := de.Media[mi]
			mi++
			at := slices.IndexFunc(cur.Media, func(m Media) bool { return m.ID == dm.ID })
			if at < 0 {
				cur.Media = append(cur.Media, dm)
				continue
			}
			m := &cur.Media[at]
			for _, g := range f.kids {
				switch g.name {
				case info("display-text"):
					m.DisplayText = g.text
				case info("type"):
					m.Type = g.text
				case info("label"):
					m.Label = g.text
				case info("src-id"):
					m.SrcID = g.text
				case info("status"):
					m.Status = g.text
				default:
					m.Extras.Replace(g.name, dm.Extras)
				}
			}
		}
	}
	return nil
}
