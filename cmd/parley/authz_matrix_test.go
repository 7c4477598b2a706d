package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/confinfo"
)

// The authorization matrix: every role tries every door of one room, and each answer on the
// wire is the one a production server should give. Codes: SIP and MSRP status codes, CCMP
// response codes; httpChallenge is an HTTP 401 before any CCMP (no credentials).
const httpChallenge = -401

// matrixRoles are the roles, in the order of the table's rows, and the user playing each: a SIP
// Digest user and a CCMP user of the same name (sip:NAME@example.net, xcon-userid:NAME@example.net).
var matrixRoles = []struct{ role, user string }{
	{"anonymous", ""}, // no credentials at all
	{"banned", "ban"},
	{"non-member", "stranger"},
	{"participant", "part"},
	{"observer", "obs"},
	{"moderator", "mod"},
	{"organizer", "org"},
	{"administrator", "root"},
}

// matrixOps are the operations, in the order of the table's columns.
var matrixOps = []string{
	"SIP join", "SIP join Privacy", "SIP SUBSCRIBE", "MSRP send", "MSRP private", "MSRP NICKNAME",
	"CCMP retrieve", "CCMP update", "CCMP users", "CCMP history", "CCMP sidebars", "CCMP sidebar create",
	"CCMP join", "CCMP delete", "CCMP create", "SIP ad-hoc create", "CCMP voice", "CCMP promote",
}

// matrixWant is the table. The room is members-only (allowed-users-list: part, obs, buddy),
// bans ban, and holds the users org (its creator: administrator, organizer), mod (moderator),
// part (participant), obs (observer). root is a server administrator; org is the one listed in
// room_creators. A role whose join is refused has no MSRP session: it tries one it guessed (481).
// A CCMP join (userRequest create of oneself) by a user in the room (here: joined over SIP) is 409.
// "CCMP voice" gives the observer voicee the role participant, "CCMP promote" makes the
// participant promo a moderator (userRequest update of their <roles>; both are reset after
// each row): moderators give voice, only administrators other roles.
var matrixWant = map[string][]int{
	//              join Priv subs send priv nick retr upd  users hist sideb sbnew join del  create adhoc voice promote
	"anonymous":     {401, 401, 401, 481, 481, 481, ch, ch, ch, ch, ch, ch, ch, ch, ch, 401, ch, ch},
	"banned":        {403, 403, 403, 481, 481, 481, 401, 401, 401, 401, 401, 401, 401, 401, 401, 403, 401, 401},
	"non-member":    {403, 403, 403, 481, 481, 481, 401, 401, 401, 401, 401, 401, 401, 401, 401, 403, 401, 401},
	"participant":   {200, 200, 200, 200, 200, 200, 200, 401, 200, 200, 200, 401, 409, 401, 401, 403, 401, 401},
	"observer":      {200, 200, 200, 403, 403, 200, 200, 401, 200, 200, 200, 401, 409, 401, 401, 403, 401, 401},
	"moderator":     {200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 409, 401, 401, 403, 200, 401},
	"organizer":     {200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 409, 200, 200, 200, 200, 200},
	"administrator": {200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 409, 200, 200, 200, 200, 200},
}

const ch = httpChallenge

// TestAuthorizationMatrix runs matrixWant over real sockets: SIP with Digest, MSRP on the
// sessions the joins got, CCMP over HTTP with Digest, all against one daemon.
func TestAuthorizationMatrix(t *testing.T) {
	users := []string{"buddy"}
	for _, r := range matrixRoles {
		if r.user != "" {
			users = append(users, r.user)
		}
	}
	d := startTestDaemon(t, func(c *configs.Config) {
		c.SIP.Auth = configs.SIPAuth{Realm: "parley-test", NonceTTL: time.Minute}
		c.CCMP.Auth.Users = nil
		for _, u := range users {
			c.SIP.Auth.Users = append(c.SIP.Auth.Users, configs.SIPUser{Name: u, Password: u + "-pw"})
			c.CCMP.Auth.Users = append(c.CCMP.Auth.Users, configs.CCMPUser{Name: u, Password: u + "-pw", Admin: u == "root"})
		}
		c.RoomCreators = []string{"org"}
	})
	ctx := context.Background()
	const domain = "example.net"
	id := func(user string) string { return "xcon-userid:" + user + "@" + domain }
	client := func(user string) *ccmp.Client {
		return &ccmp.Client{URL: "http://" + d.httpAddr.String() + "/ccmp", UserID: id(user), Username: user, Secret: user + "-pw"}
	}
	ccmpCode := func(user string, req *ccmp.Request) int {
		t.Helper()
		c := client(user)
		if user == "" {
			c.UserID, c.Username = id("nobody"), ""
		}
		req.ConfUserID, req.HasBody = c.UserID, true
		resp, _, err := c.Exchange(ctx, req)
		switch {
		case err != nil && strings.HasPrefix(err.Error(), "HTTP 401"):
			return httpChallenge
		case err != nil:
			t.Fatalf("%s %s/%s: %v", user, req.Type, req.Operation, err)
		}
		return resp.Code
	}
	const ns = `xmlns:info="urn:ietf:params:xml:ns:conference-info" xmlns:xcon="urn:ietf:params:xml:ns:xcon-conference-info"`

	// The rooms: matrix, and one copy per role for the delete column, each created by org.
	members := func(c *xcon.Conference) error {
		for _, u := range []struct{ name, role string }{{"mod", "moderator"}, {"part", "participant"}, {"obs", "observer"}, {"buddy", "participant"},
			{"voicee", "observer"}, {"promo", "participant"}} {
			c.Users = append(c.Users, &xcon.User{Entity: id(u.name), Roles: []string{u.role}})
		}
		c.AllowedUsers = []xcon.Target{{URI: id("part")}, {URI: id("obs")}, {URI: id("buddy")}}
		c.DenyUsers = []xcon.Target{{URI: id("ban")}}
		p, _ := c.RoomPolicy()
		p.Logging = true
		c.SetRoomPolicy(p)
		return nil
	}
	newRoom := func(name string) {
		t.Helper()
		if code := ccmpCode("org", &ccmp.Request{Type: ccmp.TypeConf, Operation: ccmp.OpCreate,
			Info: etreeDelta(t, `<confInfo `+ns+` entity="xcon:`+name+`@`+domain+`"/>`)}); code != 200 {
			t.Fatalf("org creating %s: %d", name, code)
		}
		if _, err := d.focus.UpdateRoom(ctx, name, members); err != nil {
			t.Fatal(err)
		}
	}
	newRoom("matrix")
	for _, r := range matrixRoles {
		newRoom("del-" + strings.ReplaceAll(r.role, "-", ""))
	}
	const room = "xcon:matrix@" + domain
	roomSIP := "sip:matrix@" + domain

	// buddy is there to receive private messages.
	buddy := newMSRPPeer(t)
	if _, res := inviteDigest(t, d, "matrix", "buddy", buddy.offer(t, "main")); res.StatusCode != 200 {
		t.Fatalf("buddy's join: %d", res.StatusCode)
	}

	var table strings.Builder
	fmt.Fprintf(&table, "%-14s %s\n", "", strings.Join(matrixOps, " | "))
	for _, r := range matrixRoles {
		got := make([]int, 0, len(matrixOps))
		user := r.user

		// SIP, and MSRP on the session the join got (or on a guessed one).
		peer := newMSRPPeer(t)
		dlg, res := inviteDigest(t, d, "matrix", user, peer.offer(t, "main"))
		got = append(got, res.StatusCode)
		if res.StatusCode == 200 {
			peer.connect(t, res.Body(), 0)
		} else {
			peer = strayMSRP(t, d)
		}
		hidden, resHidden := inviteDigest(t, d, "matrix", user, newMSRPPeer(t).offer(t, "main"), sip.NewHeader("Privacy", "id"))
		got = append(got, resHidden.StatusCode)
		if resHidden.StatusCode == 200 {
			_ = hidden.Bye(ctx)
		}
		got = append(got, watchCode(t, d, "matrix", user))
		from := "sip:" + user + "@" + domain
		code := func(m *msrp.Message) int { return peer.response(t, peer.write(m)).StatusCode }
		body := cpimBody(from, roomSIP, "hello from "+r.role)
		got = append(got, code(&msrp.Message{Method: "SEND", MessageID: msrp.NewMessageID(), ContentType: "message/cpim",
			Body: body, ByteRange: msrp.ByteRange{Start: 1, End: int64(len(body)), Total: int64(len(body))}}))
		body = cpimBody(from, "sip:buddy@"+domain, "psst from "+r.role)
		got = append(got, code(&msrp.Message{Method: "SEND", MessageID: msrp.NewMessageID(), ContentType: "message/cpim",
			Body: body, ByteRange: msrp.ByteRange{Start: 1, End: int64(len(body)), Total: int64(len(body))}}))
		got = append(got, code(&msrp.Message{Method: "NICKNAME",
			Headers: []msrp.Header{{Name: "Use-Nickname", Value: `"` + r.role + ` nick"`}}}))

		// CCMP.
		history := etree.NewElement("parley:history")
		history.CreateAttr("xmlns:parley", ccmp.NSParley)
		got = append(got,
			ccmpCode(user, &ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpRetrieve}),
			ccmpCode(user, &ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpUpdate,
				Info: etreeDelta(t, `<confInfo `+ns+`><info:conference-description><info:subject>by `+r.role+`</info:subject></info:conference-description></confInfo>`)}),
			ccmpCode(user, &ccmp.Request{Type: ccmp.TypeUsers, ConfObjID: room, Operation: ccmp.OpRetrieve}),
			ccmpCode(user, &ccmp.Request{Type: ccmp.TypeExtended, ConfObjID: room, Operation: ccmp.OpRetrieve,
				ExtensionName: ccmp.ExtensionName, Extensions: []*etree.Element{history}}),
			ccmpCode(user, &ccmp.Request{Type: ccmp.TypeSidebarsByRef, ConfObjID: room}),
			ccmpCode(user, &ccmp.Request{Type: ccmp.TypeSidebarByRef, ConfObjID: room, Operation: ccmp.OpCreate}),
			ccmpCode(user, &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpCreate}),
			ccmpCode(user, &ccmp.Request{Type: ccmp.TypeConf, ConfObjID: "xcon:del-" + strings.ReplaceAll(r.role, "-", "") + "@" + domain,
				Operation: ccmp.OpDelete}),
			ccmpCode(user, &ccmp.Request{Type: ccmp.TypeConf, Operation: ccmp.OpCreate}),
		)

		// The conference factory.
		adhoc, resAdhoc := inviteDigest(t, d, "adhoc", user, newMSRPPeer(t).offer(t, "main"))
		got = append(got, resAdhoc.StatusCode)
		if resAdhoc.StatusCode == 200 {
			_ = adhoc.Bye(ctx)
		}
		if res.StatusCode == 200 {
			_ = dlg.Bye(ctx)
		}

		// Roles.
		setRole := func(user, target, role string) int {
			u := &xcon.User{Entity: id(target), Roles: []string{role}}
			return ccmpCode(user, &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpUpdate, Info: u.Element("userInfo")})
		}
		got = append(got, setRole(user, "voicee", "participant"), setRole(user, "promo", "moderator"))
		if _, err := d.focus.UpdateRoom(ctx, "matrix", func(c *xcon.Conference) error {
			c.User(id("voicee")).Roles, c.User(id("promo")).Roles = []string{"observer"}, []string{"participant"}
			return nil
		}); err != nil {
			t.Fatal(err)
		}

		fmt.Fprintf(&table, "%-14s %v\n", r.role, got)
		for i, want := range matrixWant[r.role] {
			if got[i] != want {
				t.Errorf("%s, %s: %d, want %d", r.role, matrixOps[i], got[i], want)
			}
		}
	}
	if t.Failed() {
		t.Logf("answers:\n%s", table.String())
	}

	// The deny list wins over a role, on every door: a banned moderator joins neither over SIP
	// nor over CCMP, though he still reads the room he moderates.
	if _, err := d.focus.UpdateRoom(ctx, "matrix", func(c *xcon.Conference) error {
		c.DenyUsers = append(c.DenyUsers, xcon.Target{URI: id("mod")})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, res := inviteDigest(t, d, "matrix", "mod", newMSRPPeer(t).offer(t, "main")); res.StatusCode != 403 {
		t.Errorf("banned moderator, SIP join: %d, want 403", res.StatusCode)
	}
	if code := ccmpCode("mod", &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpCreate}); code != 401 {
		t.Errorf("banned moderator, CCMP join: %d, want 401", code)
	}
	if code := ccmpCode("mod", &ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpRetrieve}); code != 200 {
		t.Errorf("banned moderator, CCMP retrieve: %d, want 200", code)
	}
}

// inviteDigest sends an INVITE for sip:room@example.net as the SIP Digest user (none when
// user is ""), with extra headers, answering the challenge; a 2xx is ACKed.
func inviteDigest(t *testing.T, d *daemon, room, user string, body []byte, extra ...sip.Header) (*sipgo.DialogClientSession, *sip.Response) {
	t.Helper()
	name := user
	if name == "" {
		name = "nobody"
	}
	p := newListeningPeer(t, name, "example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: room, Host: "example.net"})
	req.SetTransport("TCP")
	req.SetDestination(d.sipAddr())
	req.SetBody(body)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	for _, h := range extra {
		req.AppendHeader(h)
	}
	dlg, err := p.dialogUA.WriteInvite(ctx, req)
	if err != nil {
		t.Fatalf("INVITE as %q: %v", user, err)
	}
	var final *sip.Response
	opts := sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode >= 200 {
			final = res
		}
		return nil
	}}
	if user != "" {
		opts.Username, opts.Password = user, user+"-pw"
	}
	if err := dlg.WaitAnswer(ctx, opts); err != nil {
		if final == nil {
			t.Fatalf("INVITE as %q: no final response (%v)", user, err)
		}
		return dlg, final
	}
	if err := dlg.Ack(ctx); err != nil {
		t.Fatalf("ACK: %v", err)
	}
	return dlg, dlg.InviteResponse
}

// strayMSRP is an MSRP peer on a session nobody was given: what someone refused entry tries.
func strayMSRP(t *testing.T, d *daemon) *msrpPeer {
	t.Helper()
	m := newMSRPPeer(t)
	addr := d.msrpAddr.(*net.TCPAddr)
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	m.attach(conn, []msrp.URI{{Host: "127.0.0.1", Port: addr.Port, SessionID: msrp.NewSessionID(), Transport: "tcp"}})
	return m
}

// watchCode fetches the roster of room (a SUBSCRIBE to the conference event package with
// Expires 0) as the SIP Digest user (none when user is "") and returns the final answer's code.
func watchCode(t *testing.T, d *daemon, room, user string) int {
	t.Helper()
	name := user
	if name == "" {
		name = "nobody"
	}
	s := newSubscriber(t, name, "tcp")
	target := sip.Uri{Scheme: "sip", User: room, Host: "127.0.0.1", Port: d.sip.Port(), UriParams: sip.NewParams()}
	req := sip.NewRequest(sip.SUBSCRIBE, target)
	req.SetTransport("tcp")
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: name, Host: "example.com"}, Params: sip.NewParams()}
	from.Params.Add("tag", s.fromTag)
	callID := sip.CallIDHeader(s.callID)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: room, Host: "example.net"}, Params: sip.NewParams()})
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: name, Host: "127.0.0.1"}})
	req.AppendHeader(sip.NewHeader("Accept", confinfo.ContentType))
	req.AppendHeader(sip.NewHeader("Event", "conference"))
	req.AppendHeader(sip.NewHeader("Expires", "0"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.client.Do(ctx, req)
	if err == nil && res.StatusCode == 401 && user != "" {
		res, err = s.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: user + "-pw"})
	}
	if err != nil {
		t.Fatalf("%s SUBSCRIBE: %v", name, err)
	}
	return res.StatusCode
}
