package xcon

import (
	"encoding/xml"
	"slices"

	"github.com/beevik/etree"
)

// The tables of the conference object, one per structure. They are built in
// init because the conference table refers to itself (sidebars by value).
var (
	conferenceSchema  *structure[Conference]
	descriptionSchema *structure[Description]
	channelSchema     *structure[Channel]
	uriSchema         *structure[URIEntry]
	executionSchema   *structure[Execution]
	hostInfoSchema    *structure[HostInfo]
	stateSchema       *structure[ConferenceState]
	usersSchema       *structure[Conference] // the <users> container
	userSchema        *structure[User]
	endpointSchema    *structure[Endpoint]
	mediaSchema       *structure[Media]
	sipSchema         *structure[SIPDialogID]
)

func init() {
	executionSchema = newStructure[Execution]("", nil,
		textRow(info("when"), func(x *Execution) *string { return &x.When }),
		textRow(info("reason"), func(x *Execution) *string { return &x.Reason }),
		textRow(info("by"), func(x *Execution) *string { return &x.By }),
	)

	// RFC 4575 uri-type; xcon:conference-password under conf-uris (RFC 6501 §4.2.6).
	uriSchema = newStructure("", func(u *URIEntry) *Extras { return &u.Extras },
		textRow(info("uri"), func(u *URIEntry) *string { return &u.URI }).always().focusSet(), // the key
		textRow(info("display-text"), func(u *URIEntry) *string { return &u.DisplayText }),
		textRow(info("purpose"), func(u *URIEntry) *string { return &u.Purpose }),
		partRow(info("modified"), executionPart("info:modified", func(u *URIEntry) **Execution { return &u.Modified })).single(),
		textRow(xc("conference-password"), func(u *URIEntry) *string { return &u.Password }),
	)
	uriSchema.ignoreUnknown = true

	// RFC 4575 §5.3.4 available-media entry, RFC 6501 §4.2.7.
	channelSchema = newStructure("", func(c *Channel) *Extras { return &c.Extras },
		attrRow(xml.Name{Local: "label"}, func(c *Channel) *string { return &c.Label }).always().trimmed(),
		textRow(info("display-text"), func(c *Channel) *string { return &c.DisplayText }),
		textRow(info("type"), func(c *Channel) *string { return &c.Type }),
		textRow(info("status"), func(c *Channel) *string { return &c.Status }),
		textRow(xc("mixing-mode"), func(c *Channel) *string { return &c.MixingMode }),
		textRow(xc("language"), func(c *Channel) *string { return &c.Language }),
	)

	// RFC 4575 §5.3, RFC 6501 §4.2.
	descriptionSchema = newStructure("/conference-description", func(d *Description) *Extras { return &d.Extras },
		attrRow(xml.Name{Space: NSXML, Local: "lang"}, func(d *Description) *string { return &d.Lang }),
		textRow(info("display-text"), func(d *Description) *string { return &d.DisplayText }),
		textRow(info("subject"), func(d *Description) *string { return &d.Subject }),
		textRow(info("free-text"), func(d *Description) *string { return &d.FreeText }),
		wordsRow(info("keywords"), func(d *Description) *[]string { return &d.Keywords }),
		partRow(info("conf-uris"), urisPart("info:conf-uris", func(d *Description) *[]URIEntry { return &d.ConfURIs }, mergeConfURIs)),
		partRow(info("service-uris"), urisPart("info:service-uris", func(d *Description) *[]URIEntry { return &d.ServiceURIs }, mergeURIsOf(func(d *Description) *[]URIEntry { return &d.ServiceURIs }))),
		uintRow(info("maximum-user-count"), func(d *Description) **uint32 { return &d.MaximumUserCount }),
		partRow(info("available-media"), part[Description]{
			decode: func(d *Description, k child, path string) error { return decodeMedia(d, k, path) },
			encode: func(e *encoder, el *etree.Element, d *Description) {
				if len(d.Media) > 0 {
					am := infoChild(el, "available-media")
					for i := range d.Media {
						channelSchema.encode(e, infoChild(am, "entry"), &d.Media[i])
					}
				}
			},
			clone: func(n, d *Description) {
				n.Media = cloneAll(d.Media, channelSchema)
			},
			zero:  func(d *Description) bool { return len(d.Media) == 0 },
			merge: mergeMedia,
		}),
		textRow(xc("language"), func(d *Description) *string { return &d.Language }),
		boolRow(xc("allow-sidebars"), func(d *Description) **bool { return &d.AllowSidebars }),
		textRow(xc("cloning-parent"), func(d *Description) *string { return &d.CloningParent }).serverSet(parentsRefusal),
		textRow(xc("sidebar-parent"), func(d *Description) *string { return &d.SidebarParent }).serverSet(parentsRefusal),
		partRow(xc("conference-time"), elementPart(func(d *Description) **Element { return &d.ConferenceTime })).single(),
	)

	// RFC 4575 §5.4.
	hostInfoSchema = newStructure("", func(h *HostInfo) *Extras { return &h.Extras },
		textRow(info("display-text"), func(h *HostInfo) *string { return &h.DisplayText }),
		textRow(info("web-page"), func(h *HostInfo) *string { return &h.WebPage }),
		partRow(info("uris"), urisPart("info:uris", func(h *HostInfo) *[]URIEntry { return &h.URIs }, nil)),
	)

	// RFC 4575 §5.5, RFC 6501 §4.4. The user count is the focus's.
	stateSchema = newStructure("/conference-state", func(s *ConferenceState) *Extras { return &s.Extras },
		uintRow(info("user-count"), func(s *ConferenceState) **uint32 { return &s.UserCount }).focusSet(),
		boolRow(info("active"), func(s *ConferenceState) **bool { return &s.Active }),
		boolRow(info("locked"), func(s *ConferenceState) **bool { return &s.Locked }),
		boolRow(xc("allow-conference-event-subscription"), func(s *ConferenceState) **bool { return &s.AllowConferenceEventSubscription }),
	)
	stateSchema.ignoreUnknown = true

	// RFC 4575 §5.8.
	mediaSchema = newStructure("", func(m *Media) *Extras { return &m.Extras },
		attrRow(xml.Name{Local: "id"}, func(m *Media) *string { return &m.ID }).trimmed(),
		textRow(info("display-text"), func(m *Media) *string { return &m.DisplayText }),
		textRow(info("type"), func(m *Media) *string { return &m.Type }),
		textRow(info("label"), func(m *Media) *string { return &m.Label }),
		textRow(info("src-id"), func(m *Media) *string { return &m.SrcID }),
		textRow(info("status"), func(m *Media) *string { return &m.Status }),
	)

	// RFC 4575 §5.7.1 sip-dialog-id-type.
	sipSchema = newStructure("", func(s *SIPDialogID) *Extras { return &s.Extras },
		textRow(info("display-text"), func(s *SIPDialogID) *string { return &s.DisplayText }),
		textRow(info("call-id"), func(s *SIPDialogID) *string { return &s.CallID }),
		textRow(info("from-tag"), func(s *SIPDialogID) *string { return &s.FromTag }),
		textRow(info("to-tag"), func(s *SIPDialogID) *string { return &s.ToTag }),
	)

	// RFC 4575 §5.7; xcon:nickname per chat-ID (session-chat figure 4). The
	// executions and the call-info are the focus's.
	endpointSchema = newStructure("/endpoint", func(e *Endpoint) *Extras { return &e.Extras },
		attrRow(xml.Name{Local: "entity"}, func(e *Endpoint) *string { return &e.Entity }).trimmed(),
		attrRow(xml.Name{Local: "state"}, func(e *Endpoint) *string { return &e.NotifyState }),
		attrRow(xc("nickname"), func(e *Endpoint) *string { return &e.Nickname }),
		textRow(info("display-text"), func(e *Endpoint) *string { return &e.DisplayText }),
		partRow(info("referred"), executionPart("info:referred", func(e *Endpoint) **Execution { return &e.Referred })).single(),
		textRow(info("status"), func(e *Endpoint) *string { return &e.Status }),
		textRow(info("joining-method"), func(e *Endpoint) *string { return &e.JoiningMethod }),
		partRow(info("joining-info"), executionPart("info:joining-info", func(e *Endpoint) **Execution { return &e.JoiningInfo })).single(),
		textRow(info("disconnection-method"), func(e *Endpoint) *string { return &e.DisconnectionMethod }),
		partRow(info("disconnection-info"), executionPart("info:disconnection-info", func(e *Endpoint) **Execution { return &e.DisconnectionInfo })).single(),
		partRow(info("media"), part[Endpoint]{
			decode: func(e *Endpoint, k child, path string) error {
				var m Media
				err := mediaSchema.decode(&m, k.el, k.scope, path)
				e.Media = append(e.Media, m)
				return err
			},
			encode: func(enc *encoder, el *etree.Element, e *Endpoint) {
				for i := range e.Media {
					mediaSchema.encode(enc, infoChild(el, "media"), &e.Media[i])
				}
			},
			clone: func(n, e *Endpoint) { n.Media = cloneAll(e.Media, mediaSchema) },
			zero:  func(e *Endpoint) bool { return len(e.Media) == 0 },
			merge: mergeEndpointMedia,
		}),
		partRow(info("call-info"), part[Endpoint]{
			decode: func(e *Endpoint, k child, path string) error {
				var err error
				e.CallInfo, err = decodeCallInfo(k, path)
				return err
			},
			encode: func(enc *encoder, el *etree.Element, e *Endpoint) {
				if ci := e.CallInfo; ci != nil {
					ce := infoChild(el, "call-info")
					enc.extraAttrs(ce, ci.Extras)
					if s := ci.SIP; s != nil {
						sipSchema.encode(enc, infoChild(ce, "sip"), s)
					}
					enc.extraElements(ce, ci.Extras)
				}
			},
			clone: func(n, e *Endpoint) {
				if e.CallInfo == nil {
					return
				}
				ci := CallInfo{Extras: e.CallInfo.Extras.Clone()}
				if s := e.CallInfo.SIP; s != nil {
					c := *s
					sipSchema.clone(&c, s)
					ci.SIP = &c
				}
				n.CallInfo = &ci
			},
			zero: func(e *Endpoint) bool { return e.CallInfo == nil },
		}).single(),
	)
	endpointSchema.ignoreUnknown = true

	// RFC 4575 §5.6, RFC 6501 §4.6.5; xcon:nickname (session-chat §5.1).
	userSchema = newStructure("/user", func(u *User) *Extras { return &u.Extras },
		attrRow(xml.Name{Local: "entity"}, func(u *User) *string { return &u.Entity }).trimmed(),
		attrRow(xml.Name{Local: "state"}, func(u *User) *string { return &u.NotifyState }),
		attrRow(xc("nickname"), func(u *User) *string { return &u.Nickname }),
		textRow(info("display-text"), func(u *User) *string { return &u.DisplayText }),
		partRow(info("associated-aors"), part[User]{
			decode: decodeAORs,
			encode: encodeAORs,
			clone: func(n, u *User) {
				n.AssociatedAORs = slices.Clone(u.AssociatedAORs)
				n.AORDetails = cloneAll(u.AORDetails, uriSchema)
			},
			zero: func(u *User) bool { return len(u.AssociatedAORs) == 0 },
			merge: func(u *User, _ *node, du *User, _ int, _ MergeRules) error {
				u.AssociatedAORs, u.AORDetails = du.AssociatedAORs, du.AORDetails
				return nil
			},
		}),
		partRow(info("roles"), part[User]{
			decode: func(u *User, k child, _ string) error {
				roles, err := children(k.el, k.scope)
				for _, r := range roles {
					if r.name == info("entry") {
						u.Roles = append(u.Roles, text(r.el))
					}
				}
				return err
			},
			encode: func(_ *encoder, el *etree.Element, u *User) {
				if len(u.Roles) > 0 {
					re := infoChild(el, "roles")
					for _, r := range u.Roles {
						re.CreateElement("info:entry").SetText(clean(r))
					}
				}
			},
			clone: func(n, u *User) { n.Roles = slices.Clone(u.Roles) },
			zero:  func(u *User) bool { return len(u.Roles) == 0 },
			merge: func(u *User, _ *node, du *User, _ int, _ MergeRules) error {
				u.Roles = du.Roles
				return nil
			},
		}),
		wordsRow(info("languages"), func(u *User) *[]string { return &u.Languages }),
		textRow(info("cascaded-focus"), func(u *User) *string { return &u.CascadedFocus }),
		partRow(info("endpoint"), part[User]{
			decode: func(u *User, k child, path string) error {
				e := &Endpoint{}
				if err := endpointSchema.decode(e, k.el, k.scope, path); err != nil {
					return err
				}
				u.Endpoints = append(u.Endpoints, e)
				return nil
			},
			encode: func(enc *encoder, el *etree.Element, u *User) {
				for _, ep := range u.Endpoints {
					endpointSchema.encode(enc, infoChild(el, "endpoint"), ep)
				}
			},
			clone: func(n, u *User) {
				if u.Endpoints != nil {
					n.Endpoints = make([]*Endpoint, len(u.Endpoints))
					for i, e := range u.Endpoints {
						n.Endpoints[i] = e.Clone()
					}
				}
			},
			zero:  func(u *User) bool { return len(u.Endpoints) == 0 },
			merge: mergeEndpoint,
		}),
		textRow(xc("provide-anonymity"), func(u *User) *string { return &u.ProvideAnonymity }),
		boolRow(xc("allow-refer-users-dynamically"), func(u *User) **bool { return &u.AllowReferUsersDynamically }),
		boolRow(xc("allow-invite-users-dynamically"), func(u *User) **bool { return &u.AllowInviteUsersDynamically }),
		boolRow(xc("allow-remove-users-dynamically"), func(u *User) **bool { return &u.AllowRemoveUsersDynamically }),
	)

	// RFC 4575 §5.6 users-type, RFC 6501 §4.6.
	usersSchema = newStructure("/users", func(c *Conference) *Extras { return &c.UsersExtras },
		attrRow(xml.Name{Local: "state"}, func(c *Conference) *string { return &c.UsersState }),
		partRow(info("user"), part[Conference]{
			decode: func(c *Conference, k child, path string) error {
				u, err := decodeUser(k.el, k.scope, path)
				if err == nil {
					c.Users = append(c.Users, u)
				}
				return err
			},
			encode: func(e *encoder, el *etree.Element, c *Conference) {
				for _, u := range c.Users {
					userSchema.encode(e, infoChild(el, "user"), u)
				}
			},
			clone: func(n, c *Conference) {
				if c.Users != nil {
					n.Users = make([]*User, len(c.Users))
					for i, u := range c.Users {
						n.Users[i] = u.Clone()
					}
				}
			},
			zero:  func(c *Conference) bool { return len(c.Users) == 0 },
			merge: mergeUserEntry,
		}),
		textRow(xc("join-handling"), func(c *Conference) *string { return &c.JoinHandling }),
		textRow(xc("user-admission-policy"), func(c *Conference) *string { return &c.UserAdmissionPolicy }),
		partRow(xc("allowed-users-list"), part[Conference]{
			decode: func(c *Conference, k child, _ string) error { return decodeAllowed(c, k) },
			encode: encodeAllowed,
			clone: func(n, c *Conference) {
				n.AllowedUsers = slices.Clone(c.AllowedUsers)
				if c.PersistentUsers != nil {
					n.PersistentUsers = make([]PersistentUser, len(c.PersistentUsers))
					for i, p := range c.PersistentUsers {
						p.Email = slices.Clone(p.Email)
						n.PersistentUsers[i] = p
					}
				}
			},
			zero:  func(c *Conference) bool { return len(c.AllowedUsers) == 0 && len(c.PersistentUsers) == 0 },
			merge: mergeAllowed,
		}),
		partRow(xc("deny-users-list"), part[Conference]{
			decode: func(c *Conference, k child, _ string) error {
				t, err := decodeTargets(k)
				c.DenyUsers = append(c.DenyUsers, t...)
				return err
			},
			encode: func(_ *encoder, el *etree.Element, c *Conference) {
				if len(c.DenyUsers) > 0 {
					targets(el.CreateElement("xcon:deny-users-list"), c.DenyUsers, false)
				}
			},
			clone: func(n, c *Conference) { n.DenyUsers = slices.Clone(c.DenyUsers) },
			zero:  func(c *Conference) bool { return len(c.DenyUsers) == 0 },
			merge: mergeDenied,
		}),
	)

	// RFC 4575 §5.1 conference-type, RFC 6501 §4.1.
	conferenceSchema = newStructure("", func(c *Conference) *Extras { return &c.Extras },
		attrRow(xml.Name{Local: "entity"}, func(c *Conference) *string { return &c.Entity }).always().trimmed(),
		attrRow(xml.Name{Local: "state"}, func(c *Conference) *string { return &c.NotifyState }),
		field[Conference]{name: xml.Name{Local: "version"}, kind: uint64Attr, u64: func(c *Conference) *uint64 { return &c.Version }},
		partRow(info("conference-description"), part[Conference]{
			decode: func(c *Conference, k child, path string) error {
				return descriptionSchema.decode(&c.Description, k.el, k.scope, path)
			},
			encode: func(e *encoder, el *etree.Element, c *Conference) {
				if !descriptionSchema.isZero(&c.Description) {
					descriptionSchema.encode(e, infoChild(el, "conference-description"), &c.Description)
				}
			},
			clone: func(n, c *Conference) { descriptionSchema.clone(&n.Description, &c.Description) },
			zero:  func(c *Conference) bool { return descriptionSchema.isZero(&c.Description) },
			merge: func(c *Conference, k *node, dc *Conference, _ int, rules MergeRules) error {
				return descriptionSchema.merge(&c.Description, k, &dc.Description, rules)
			},
		}).single(),
		partRow(info("host-info"), part[Conference]{
			decode: func(c *Conference, k child, path string) error {
				c.HostInfo = &HostInfo{}
				return hostInfoSchema.decode(c.HostInfo, k.el, k.scope, path)
			},
			encode: func(e *encoder, el *etree.Element, c *Conference) {
				if c.HostInfo != nil {
					hostInfoSchema.encode(e, infoChild(el, "host-info"), c.HostInfo)
				}
			},
			clone: func(n, c *Conference) {
				if c.HostInfo != nil {
					h := *c.HostInfo
					hostInfoSchema.clone(&h, c.HostInfo)
					n.HostInfo = &h
				}
			},
			zero: func(c *Conference) bool { return c.HostInfo == nil },
			merge: func(c *Conference, k *node, dc *Conference, _ int, _ MergeRules) error {
				c.HostInfo = dc.HostInfo // replaced whole
				if k.empty() {
					c.HostInfo = nil
				}
				return nil
			},
		}).single(),
		partRow(info("conference-state"), part[Conference]{
			decode: func(c *Conference, k child, path string) error {
				return stateSchema.decode(&c.State, k.el, k.scope, path)
			},
			encode: func(e *encoder, el *etree.Element, c *Conference) {
				if !stateSchema.isZero(&c.State) {
					stateSchema.encode(e, infoChild(el, "conference-state"), &c.State)
				}
			},
			clone: func(n, c *Conference) { stateSchema.clone(&n.State, &c.State) },
			zero:  func(c *Conference) bool { return stateSchema.isZero(&c.State) },
			merge: func(c *Conference, k *node, dc *Conference, _ int, rules MergeRules) error {
				return stateSchema.merge(&c.State, k, &dc.State, rules)
			},
		}).single(),
		partRow(info("users"), part[Conference]{
			decode: func(c *Conference, k child, path string) error {
				return usersSchema.decode(c, k.el, k.scope, path)
			},
			encode: func(e *encoder, el *etree.Element, c *Conference) {
				if !usersSchema.isZero(c) {
					usersSchema.encode(e, infoChild(el, "users"), c)
				}
			},
			clone: func(n, c *Conference) { usersSchema.clone(n, c) },
			zero:  func(c *Conference) bool { return usersSchema.isZero(c) },
			merge: func(c *Conference, k *node, dc *Conference, _ int, rules MergeRules) error {
				return usersSchema.merge(c, k, dc, rules)
			},
		}).single(),
		partRow(info("sidebars-by-ref"), part[Conference]{
			decode: func(c *Conference, k child, path string) error {
				var err error
				c.SidebarsByRef, err = decodeURIs(k, path)
				if err == nil && c.SidebarsByRef == nil {
					c.SidebarsByRef = []URIEntry{}
				}
				return err
			},
			encode: func(e *encoder, el *etree.Element, c *Conference) {
				if c.SidebarsByRef != nil {
					e.uris(infoChild(el, "sidebars-by-ref"), c.SidebarsByRef)
				}
			},
			clone: func(n, c *Conference) { n.SidebarsByRef = cloneAll(c.SidebarsByRef, uriSchema) },
			zero:  func(c *Conference) bool { return c.SidebarsByRef == nil },
		}).single().serverSet(sidebarsRefusal),
		partRow(info("sidebars-by-val"), part[Conference]{
			decode: decodeSidebarsByVal,
			encode: func(e *encoder, el *etree.Element, c *Conference) {
				if c.SidebarsByVal != nil {
					sv := infoChild(el, "sidebars-by-val")
					for _, s := range c.SidebarsByVal {
						conferenceSchema.encode(e, infoChild(sv, "entry"), s)
					}
				}
			},
			clone: func(n, c *Conference) {
				if c.SidebarsByVal != nil {
					n.SidebarsByVal = make([]*Conference, len(c.SidebarsByVal))
					for i, s := range c.SidebarsByVal {
						n.SidebarsByVal[i] = s.Clone()
					}
				}
			},
			zero: func(c *Conference) bool { return c.SidebarsByVal == nil },
		}).single().serverSet(sidebarsRefusal),
		partRow(xc("floor-information"), elementPart(func(c *Conference) **Element { return &c.FloorInformation })).single(),
		// The room policy is kept with the extras; a delta changes it attribute by attribute.
		partRow(xml.Name{Space: NSParley, Local: "room-policy"}, part[Conference]{
			decode: func(c *Conference, k child, _ string) error { return c.Extras.keep(k) },
			merge: func(c *Conference, k *node, _ *Conference, _ int, _ MergeRules) error {
				return mergePolicy(c, k)
			},
		}),
	)
}

const (
	parentsRefusal  = "the cloning and sidebar parents are set by the server"
	sidebarsRefusal = "sidebars change through sidebarByValRequest and sidebarByRefRequest"
)

// executionPart is an execution-type child (RFC 4575 §5.7), the focus's record.
func executionPart[T any](tag string, at func(*T) **Execution) part[T] {
	return part[T]{
		decode: func(t *T, k child, path string) error {
			x := &Execution{}
			*at(t) = x
			return executionSchema.decode(x, k.el, k.scope, path)
		},
		encode: func(e *encoder, el *etree.Element, t *T) {
			if x := *at(t); x != nil {
				executionSchema.encode(e, el.CreateElement(tag), x)
			}
		},
		clone: func(n, t *T) { *at(n) = clonePtr(*at(t)) },
		zero:  func(t *T) bool { return *at(t) == nil },
	}
}

// elementPart is a child kept as data; a delta replaces it whole, an empty
// one removes it.
func elementPart[T any](at func(*T) **Element) part[T] {
	return part[T]{
		decode: func(t *T, k child, _ string) error {
			var err error
			*at(t), err = toElement(k)
			return err
		},
		encode: func(e *encoder, el *etree.Element, t *T) { e.element(el, *at(t)) },
		clone:  func(n, t *T) { *at(n) = (*at(t)).Clone() },
		zero:   func(t *T) bool { return *at(t) == nil },
		merge: func(cur *T, k *node, delta *T, _ int, _ MergeRules) error {
			*at(cur) = *at(delta)
			if k.empty() {
				*at(cur) = nil
			}
			return nil
		},
	}
}

// urisPart is a uris-type container (RFC 4575 §5.3.1) whose entries append.
func urisPart[T any](tag string, at func(*T) *[]URIEntry, merge func(*T, *node, *T, int, MergeRules) error) part[T] {
	return part[T]{
		decode: func(t *T, k child, path string) error {
			u, err := decodeURIs(k, path)
			*at(t) = append(*at(t), u...)
			return err
		},
		encode: func(e *encoder, el *etree.Element, t *T) {
			if us := *at(t); len(us) > 0 {
				e.uris(el.CreateElement(tag), us)
			}
		},
		clone: func(n, t *T) { *at(n) = cloneAll(*at(t), uriSchema) },
		zero:  func(t *T) bool { return len(*at(t)) == 0 },
		merge: merge,
	}
}

// cloneAll deep-copies a slice of values of a structure.
func cloneAll[T any](in []T, s *structure[T]) []T {
	if in == nil {
		return nil
	}
	out := make([]T, len(in))
	for i := range in {
		out[i] = in[i]
		s.clone(&out[i], &in[i])
	}
	return out
}
