package confinfo

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/peers"
	"github.com/parleychat/parley/xcon"
)

const roomURI = "sip:lobby@example.net"

// room returns a conference object as the focus keeps it: provisioning data, a password, a
// provisioned user who is not connected, and live users with endpoints.
func room() *xcon.Conference {
	c := &xcon.Conference{Entity: "xcon:lobby@example.net", Version: 7, JoinHandling: "allow",
		AllowedUsers: []xcon.Target{{URI: "sip:alice@example.com", Method: "dial-in"}},
		DenyUsers:    []xcon.Target{{URI: "sip:mallory@example.com"}}}
	c.Description.DisplayText = "Lobby"
	c.Description.Subject = "Welcome"
	c.Description.ConfURIs = []xcon.URIEntry{{URI: roomURI, Purpose: "participation", Password: "s3cret"}}
	c.Description.Media = []xcon.Channel{{Label: "main", Type: "message", Status: "sendrecv"}}
	c.Users = []*xcon.User{
		{Entity: "xcon-userid:provisioned@example.com", AssociatedAORs: []string{"sip:provisioned@example.com"}},
		user("alice", "Alice Liddell"),
		user("bob", ""),
	}
	return c
}

func user(name, nick string) *xcon.User {
	return &xcon.User{Entity: "xcon-userid:" + name + "@example.com", Nickname: nick, DisplayText: strings.ToUpper(name[:1]) + name[1:],
		AssociatedAORs: []string{"sip:" + name + "@example.com"}, Roles: []string{"participant"},
		Endpoints: []*xcon.Endpoint{{Entity: "chat" + name, Nickname: nick, Status: "connected", JoiningMethod: "dialed-in",
			Media:    []xcon.Media{{ID: "1", Type: "message", Label: "main", Status: "sendrecv"}},
			CallInfo: &xcon.CallInfo{SIP: &xcon.SIPDialogID{CallID: "secret-call-id"}}}}}
}

func TestViewPublishesPresentUsersOnly(t *testing.T) {
	v := View(room(), roomURI, Options{})
	body, err := Marshal(Full(v, 1))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, body)
	s := string(body)
	for _, want := range []string{`entity="sip:lobby@example.net"`, `state="full"`, `version="1"`,
		`<info:user entity="xcon-userid:alice@example.com" xcon:nickname="Alice Liddell">`,
		`<info:uri>sip:alice@example.com</info:uri>`, `<info:endpoint entity="chatalice" xcon:nickname="Alice Liddell">`,
		`<info:label>main</info:label>`, `<info:user-count>2</info:user-count>`, `<info:subject>Welcome</info:subject>`} {
		if !strings.Contains(s, want) {
			t.Errorf("full document lacks %s\n%s", want, s)
		}
	}
	for _, secret := range []string{"s3cret", "mallory", "allowed-users", "join-handling", "provisioned", "secret-call-id"} {
		if strings.Contains(s, secret) {
			t.Errorf("full document publishes %q\n%s", secret, s)
		}
	}
}

func TestEmptyRoomHasUsersElement(t *testing.T) {
	c := room()
	c.Users = nil
	body, err := Marshal(Full(View(c, roomURI, Options{}), 3))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, body)
	if !strings.Contains(string(body), `<info:users state="full"/>`) {
		t.Fatalf("an empty room's full state must still carry <users>:\n%s", body)
	}
}

func TestAnonymousUser(t *testing.T) {
	c := room()
	c.Users[1].ProvideAnonymity = "private"
	c.Users[2].ProvideAnonymity = "hidden"
	v := View(c, roomURI, Options{AnonymityKey: []byte("k")})
	if len(v.Users) != 1 {
		t.Fatalf("hidden user listed: %d users", len(v.Users))
	}
	u := v.Users[0]
	if !strings.HasSuffix(u.AssociatedAORs[0], "@anonymous.invalid") || strings.Contains(u.Entity, "alice") || u.DisplayText != "" {
		t.Fatalf("anonymous user published as %+v", u)
	}
	if again := View(c, roomURI, Options{AnonymityKey: []byte("k")}); again.Users[0].Entity != u.Entity {
		t.Fatal("pseudonym is not stable")
	}
	body, _ := Marshal(Full(v, 1))
	validate(t, body)
}

// TestPartialsReplay runs a room through join, nickname, leave and subject changes; each
// partial validates, carries only what changed, and a subscriber applying them in order ends
// with exactly the full view.
func TestPartialsReplay(t *testing.T) {
	c := room()
	prev := View(c, roomURI, Options{})
	version := uint32(1)
	local, err := Apply(nil, roundTrip(t, Full(prev, version)))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		change func(c *xcon.Conference)
		want   []string
		absent []string
	}{
		{"join", func(c *xcon.Conference) { c.Users = append(c.Users, user("carol", "")) },
			[]string{`state="partial"`, `<info:user entity="xcon-userid:carol@example.com" state="full">`, `<info:user-count>3</info:user-count>`},
			[]string{"alice", "conference-description"}},
		{"nickname", func(c *xcon.Conference) { c.Users[2].Nickname, c.Users[2].Endpoints[0].Nickname = "Builder", "Builder" },
			[]string{`xcon:nickname="Builder"`},
			[]string{"alice", "carol", "user-count"}},
		{"leave", func(c *xcon.Conference) { c.Users = append(c.Users[:1], c.Users[2:]...) },
			[]string{`<info:user entity="xcon-userid:alice@example.com" state="deleted"/>`},
			[]string{"bob", "<info:endpoint"}},
		{"subject", func(c *xcon.Conference) { c.Description.Subject = "Moved on" },
			[]string{"<info:subject>Moved on</info:subject>"}, []string{"<info:users"}},
	}
	for _, s := range steps {
		s.change(c)
		next := View(c, roomURI, Options{})
		version++
		doc := Partial(prev, next, version)
		if doc == nil {
			t.Fatalf("%s: no partial", s.name)
		}
		body, err := Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		validate(t, body)
		for _, w := range s.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("%s: partial lacks %s\n%s", s.name, w, body)
			}
		}
		for _, a := range s.absent {
			if strings.Contains(string(body), a) {
				t.Errorf("%s: partial carries %s\n%s", s.name, a, body)
			}
		}
		local, err = Apply(local, roundTrip(t, doc))
		if err != nil {
			t.Fatalf("%s: apply: %v", s.name, err)
		}
		prev = next
	}
	if Partial(prev, View(c, roomURI, Options{}), version+1) != nil {
		t.Fatal("a partial without changes")
	}
	want := roundTrip(t, Full(prev, version))
	want.NotifyState, want.UsersState = "", ""
	if !reflect.DeepEqual(local, want) {
		a, _ := Marshal(local)
		b, _ := Marshal(want)
		t.Fatalf("replayed state differs from the full view\nreplayed %s\nfull     %s", a, b)
	}

	if _, err := Apply(local, roundTrip(t, Partial(prev, View(room(), roomURI, Options{}), version))); !errors.Is(err, ErrStale) {
		t.Fatalf("stale partial: %v", err)
	}
	if _, err := Apply(local, roundTrip(t, Partial(prev, View(room(), roomURI, Options{}), version+2))); !errors.Is(err, ErrGap) {
		t.Fatalf("partial after a gap: %v", err)
	}
	gone, err := Apply(local, roundTrip(t, Deleted(roomURI, version+1)))
	if err != nil || gone.NotifyState != StateDeleted {
		t.Fatalf("deleted: %v %+v", err, gone)
	}
	body, _ := Marshal(Deleted(roomURI, 9))
	validate(t, body)
}

func TestUnmarshalRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"not xml":    "hello",
		"other root": `<a xmlns="urn:x" entity="e" version="1"/>`,
		"no entity":  `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" version="1"/>`,
		"no version": `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b"/>`,
		"bad state":  `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b" version="1" state="some"/>`,
		"bad user state": `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b" version="1">` +
			`<users><user entity="u" state="gone"/></users></conference-info>`,
	} {
		if _, err := Unmarshal([]byte(doc)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

func roundTrip(t testing.TB, doc *xcon.Conference) *xcon.Conference {
	t.Helper()
	b, err := Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Unmarshal(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return d
}

// validate checks a document against the RFC 4575 schema as extended by RFC 6501 with xmllint.
func validate(t testing.TB, doc []byte) {
	t.Helper()
	peers.Validate(t, peers.ConfInfoSchema, doc)
}

// TestModeratedRoomState: a moderated room says so in conference-state, valid against the
// schema and read back by Moderated; an open room does not.
func TestModeratedRoomState(t *testing.T) {
	c := room()
	if Moderated(View(c, roomURI, Options{})) {
		t.Fatal("an open room is published as moderated")
	}
	c.SetRoomPolicy(xcon.RoomPolicy{Moderated: true})
	body, err := Marshal(Full(View(c, roomURI, Options{}), 1))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, body)
	doc, err := Unmarshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if !Moderated(doc) {
		t.Fatalf("a moderated room's document does not say so:\n%s", body)
	}
}
