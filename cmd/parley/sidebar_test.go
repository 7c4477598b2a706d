package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/xcon"
)

// createSidebarByRef clones a sidebar by reference from the lobby over CCMP and returns its
// name; the response validates against ccmp.xsd and names the sidebar's SIP URI.
func createSidebarByRef(t *testing.T, p *ccmpPeer) string {
	t.Helper()
	r := p.do(&ccmp.Request{Type: ccmp.TypeSidebarByRef, ConfObjID: "xcon:lobby@example.net", Operation: ccmp.OpCreate, HasBody: true})
	if r.Code != 200 || r.Info == nil {
		t.Fatalf("sidebarByRefRequest create: %d %s", r.Code, r.Reason)
	}
	sb, err := xcon.DecodeElement(r.Info)
	if err != nil {
		t.Fatal(err)
	}
	name := xcon.NameFromURI(r.ConfObjID)
	if len(sb.Description.ConfURIs) != 1 || !sameURI(sb.Description.ConfURIs[0].URI, "sip:"+name+"@example.net") {
		t.Fatalf("sidebar %s: conf-uris %+v, want its SIP URI", name, sb.Description.ConfURIs)
	}
	return name
}

// chatIn has from send a message in room and checks to receives it unchanged.
func chatIn(t *testing.T, room string, from, to *participant, text string) {
	t.Helper()
	body := cpimBody("sip:"+from.name+"@example.com", "sip:"+room+"@example.net", text)
	from.msrp.send("message/cpim", body)
	got := to.msrp.nextMessage(t)
	if !bytes.Equal(got.Body, body) {
		t.Fatalf("%s got %q in %s, want %q", to.name, got.Body, room, body)
	}
}

// TestSidebarByRefChat: a sidebar by reference cloned from the lobby is dialable at its SIP
// URI right after creation, its members chat in it over SIP/MSRP apart from the lobby, and
// confsRequest lists it.
func TestSidebarByRefChat(t *testing.T) {
	d := startTestDaemon(t, nil)
	p := newCCMPPeer(t, d)
	carol := joinLobby(t, d, "carol", "tcp")
	dave := joinLobby(t, d, "dave", "tcp")
	name := createSidebarByRef(t, p)

	// The clone keeps the lobby's logging: each joiner is told first.
	alice := joinRoom(t, d, name, "alice", "tcp", true)
	bob := joinRoom(t, d, name, "bob", "udp", true)
	chatIn(t, name, alice, bob, "in the sidebar")
	chatIn(t, name, bob, alice, "reply in the sidebar")
	// The lobby's people saw none of it: dave's next message is carol's, sent afterwards.
	chatIn(t, "lobby", carol, dave, "in the lobby")

	// The object says what the joins showed.
	r := p.do(&ccmp.Request{Type: ccmp.TypeSidebarByRef, ConfObjID: "xcon:" + name + "@example.net", Operation: ccmp.OpRetrieve, HasBody: true})
	sb, err := xcon.DecodeElement(r.Info)
	if err != nil || sb.State.Active == nil || !*sb.State.Active || sb.User("xcon-userid:alice@example.com") == nil {
		t.Fatalf("sidebar %s after the chat: %v %+v", name, err, sb)
	}
}

// TestSidebarsListedAndKeptAcrossRestart: confsRequest lists sidebars by reference with their
// XCON-URIs, and a sidebar survives a restart: still listed by its parent, still active, still
// dialable, and its members chat in it.
func TestSidebarsListedAndKeptAcrossRestart(t *testing.T) {
	cfg := testConfig(t)
	d := startConfigured(t, cfg)
	name := createSidebarByRef(t, newCCMPPeer(t, d))
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}

	d2 := startConfigured(t, cfg)
	defer d2.shutdown()
	p := newCCMPPeer(t, d2)
	want := "xcon:" + name + "@example.net"
	if uris := confsURIs(t, p, ccmpClient(d2)); !slices.Contains(uris, want+" xcon:lobby@example.net") || !slices.Contains(uris, "xcon:lobby@example.net") {
		t.Fatalf("confsRequest after restart: %v, want the lobby and %s", uris, want)
	}
	if m := p.retrieveConf("xcon:lobby@example.net"); len(m.SidebarsByRef) != 1 || !sameURI(m.SidebarsByRef[0].URI, want) {
		t.Fatalf("lobby after restart lists %+v, want %s", m.SidebarsByRef, want)
	}
	alice := joinRoom(t, d2, name, "alice", "tcp", true)
	bob := joinRoom(t, d2, name, "bob", "tcp", true)
	chatIn(t, name, alice, bob, "after the restart")
}

// confsURIs asks for confsRequest as c and returns the listed XCON-URIs, each entry's
// xcon:sidebar-parent beside it (after a space), validating the answer against ccmp.xsd.
func confsURIs(t *testing.T, p *ccmpPeer, c *ccmp.Client) []string {
	t.Helper()
	resp, raw, err := c.Exchange(context.Background(), &ccmp.Request{Type: ccmp.TypeConfs, ConfUserID: c.UserID, HasBody: true})
	if err != nil || resp.Code != 200 {
		t.Fatalf("confsRequest as %s: %v %v", c.Username, resp, err)
	}
	p.validate(raw)
	var out []string
	if resp.Info != nil {
		for _, e := range resp.Info.ChildElements() {
			s := strings.TrimSpace(e.SelectElement("uri").Text())
			if sp := e.SelectElement("sidebar-parent"); sp != nil {
				s += " " + strings.TrimSpace(sp.Text())
			}
			out = append(out, s)
		}
	}
	return out
}

// TestConfsListsSidebarsToThoseAdmitted: confsRequest lists a sidebar by reference with its
// parent named (xcon:sidebar-parent) to whoever may read it, and not to a user both the sidebar
// and its parent bar (nor the parent itself).
func TestConfsListsSidebarsToThoseAdmitted(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.CCMP.Auth.Users = []configs.CCMPUser{{Name: "root", Password: "root-pw", Admin: true},
			{Name: "eve", Password: "eve-pw"}, {Name: "fay", Password: "fay-pw"}}
	})
	p := newCCMPPeer(t, d)
	as := func(who string) *ccmp.Client {
		return &ccmp.Client{URL: p.url, UserID: "xcon-userid:" + who + "@example.net", Username: who, Secret: who + "-pw"}
	}
	ctx := context.Background()
	if _, err := d.focus.UpdateRoom(ctx, "lobby", func(c *xcon.Conference) error {
		c.DenyUsers = append(c.DenyUsers, xcon.Target{URI: "sip:eve@example.net"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	root := as("root")
	resp, raw, err := root.Exchange(ctx, &ccmp.Request{Type: ccmp.TypeSidebarByRef, ConfObjID: "xcon:lobby@example.net",
		Operation: ccmp.OpCreate, ConfUserID: root.UserID, HasBody: true})
	if err != nil || resp.Code != 200 {
		t.Fatalf("sidebar create: %v %v", resp, err)
	}
	p.validate(raw)
	entry := strings.ToLower(resp.ConfObjID) + " xcon:lobby@example.net"
	for _, c := range []struct {
		who  string
		want bool
	}{{"root", true}, {"fay", true}, {"eve", false}} {
		got := confsURIs(t, p, as(c.who))
		// The parent is listed to the same people: eve, whom it bans, learns of neither.
		if slices.Contains(got, entry) != c.want || slices.Contains(got, "xcon:lobby@example.net") != c.want {
			t.Errorf("%s: confsRequest lists %v; sidebar entry %q listed: want %v", c.who, got, entry, c.want)
		}
	}
}

// TestSidebarByValRefused: a sidebar by value would have no room to dial, so its creation is
// refused with 403 and a reason that names sidebarByRefRequest; the parent is unchanged, and
// the options say so (sidebarByValRequest lists no create).
func TestSidebarByValRefused(t *testing.T) {
	d := startTestDaemon(t, nil)
	p := newCCMPPeer(t, d)
	before := p.retrieveConf("xcon:lobby@example.net")
	r := p.do(&ccmp.Request{Type: ccmp.TypeSidebarByVal, ConfObjID: "xcon:lobby@example.net", Operation: ccmp.OpCreate, HasBody: true})
	if r.Code != 403 || !strings.Contains(r.Reason, "sidebarByRefRequest") {
		t.Fatalf("sidebarByValRequest create: %d %q, want 403 naming sidebarByRefRequest", r.Code, r.Reason)
	}
	if after := p.retrieveConf("xcon:lobby@example.net"); after.Version != before.Version || len(after.SidebarsByVal) != 0 {
		t.Fatalf("lobby after a refused sidebar: version %d (was %d), %d sidebars by value", after.Version, before.Version, len(after.SidebarsByVal))
	}
	o := p.do(&ccmp.Request{Type: ccmp.TypeOptions, HasBody: true})
	for _, m := range o.Options.Standard {
		if m.Name == "sidebarByValRequest" && (len(m.Operations) == 0 || slices.Contains(m.Operations, ccmp.OpCreate)) {
			t.Fatalf("options list create for sidebarByValRequest: %v", m.Operations)
		}
	}
}

// TestSidebarCloneTakesProvisionedUsersOnly: a sidebar by reference cloned from a room takes
// the users the room provisions, with their roles (a moderator stays one, an observer stays
// one), and its creator as administrator; the people who only dialled in to the parent are not
// users of the sidebar, and nobody has a chat session in it before dialling it.
func TestSidebarCloneTakesProvisionedUsersOnly(t *testing.T) {
	d := startTestDaemon(t, nil)
	p := newCCMPPeer(t, d)
	p.addUser("lobby", `<userInfo entity="xcon-userid:mo@example.com"><info:roles><info:entry>moderator</info:entry></info:roles></userInfo>`)
	p.addUser("lobby", `<userInfo entity="xcon-userid:ob@example.com"><info:roles><info:entry>observer</info:entry></info:roles></userInfo>`)
	joinLobby(t, d, "carol", "tcp")
	joinLobby(t, d, "mo", "tcp") // provisioned, and present in the parent too
	name := createSidebarByRef(t, p)

	r := p.do(&ccmp.Request{Type: ccmp.TypeSidebarByRef, ConfObjID: "xcon:" + name + "@example.net", Operation: ccmp.OpRetrieve, HasBody: true})
	sb, err := xcon.DecodeElement(r.Info)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, u := range sb.Users {
		roles[u.Entity] = strings.Join(u.Roles, ",")
		if len(u.Endpoints) > 0 {
			t.Errorf("sidebar user %s has chat sessions %+v before dialling the sidebar", u.Entity, u.Endpoints)
		}
	}
	want := map[string]string{"xcon-userid:mo@example.com": "moderator", "xcon-userid:ob@example.com": "observer",
		"xcon-userid:admin@example.com": "administrator,organizer"}
	for id, role := range want {
		if roles[id] != role {
			t.Errorf("sidebar user %s: roles %q, want %q (all: %v)", id, roles[id], role, roles)
		}
	}
	if _, ok := roles["xcon-userid:carol@example.com"]; ok {
		t.Errorf("carol, who only dialled in to the parent, is a user of the sidebar: %v", roles)
	}
	// carol can still dial the sidebar (it admits what the parent admits) and becomes its user.
	joinRoom(t, d, name, "carol", "tcp", true)
	if sb := p.retrieveSidebar(name); sb.User("xcon-userid:carol@example.com") == nil {
		t.Fatalf("carol after dialling the sidebar is not its user")
	}
}

func (p *ccmpPeer) retrieveSidebar(name string) *xcon.Conference {
	p.t.Helper()
	r := p.do(&ccmp.Request{Type: ccmp.TypeSidebarByRef, ConfObjID: "xcon:" + name + "@" + p.domain, Operation: ccmp.OpRetrieve, HasBody: true})
	sb, err := xcon.DecodeElement(r.Info)
	if err != nil {
		p.t.Fatal(err)
	}
	return sb
}
