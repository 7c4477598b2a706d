package xcon

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

func ptr[T any](v T) *T { return &v }

// chatRoom is a room as the focus builds it: two chat channels, a user with
// a default nickname and two chat sessions (seed figures 3 and 4).
func chatRoom() *Conference {
	return &Conference{
		Entity:  "xcon:lobby@example.com",
		Version: 7,
		Description: Description{
			DisplayText:      "Lobby",
			Subject:          "Anything goes",
			Keywords:         []string{"chat", "lobby"},
			ConfURIs:         []URIEntry{{URI: "sip:lobby@example.com", DisplayText: "room", Purpose: "participation", Password: "1234"}},
			ServiceURIs:      []URIEntry{{URI: "https://example.com/lobby", Purpose: "web-page"}},
			MaximumUserCount: ptr(uint32(100)),
			Media: []Channel{
				{Label: "main", Type: "message", Status: "sendrecv", DisplayText: "Main channel"},
				{Label: "fr", Type: "message", Status: "sendrecv", DisplayText: "En français", Language: "fr"},
			},
			Language:      "en",
			AllowSidebars: ptr(false),
			CloningParent: "xcon:chat-blueprint@example.com",
		},
		HostInfo: &HostInfo{DisplayText: "Example", WebPage: "https://example.com/", URIs: []URIEntry{{URI: "sip:host@example.com"}}},
		State:    ConferenceState{UserCount: ptr(uint32(2)), Active: ptr(true), Locked: ptr(false), AllowConferenceEventSubscription: ptr(true)},
		Users: []*User{{
			Entity:         "xcon-userid:alice@example.com",
			Nickname:       "Alice",
			DisplayText:    "Alice A.",
			AssociatedAORs: []string{"sip:alice@example.com", "mailto:alice@example.com"},
			AORDetails:     []URIEntry{{URI: "mailto:alice@example.com", DisplayText: "email"}},
			Roles:          []string{"administrator", "participant"},
			Languages:      []string{"en", "fr"},
			Endpoints: []*Endpoint{
				{Entity: "38iuhds", Nickname: "Alice", Status: "connected", JoiningMethod: "dialed-in",
					JoiningInfo: &Execution{When: "2026-11-25T10:00:00Z", Reason: "join"},
					Media:       []Media{{ID: "1", Type: "message", Label: "main", Status: "sendrecv"}},
					CallInfo:    &CallInfo{SIP: &SIPDialogID{CallID: "abc", FromTag: "f", ToTag: "t"}}},
				{Entity: "838unaH", Nickname: "Alicia", Status: "connected", JoiningMethod: "dialed-in",
					Media: []Media{{ID: "1", Type: "message", Label: "fr", Status: "sendrecv"}}},
			},
			ProvideAnonymity:           "semi-private",
			AllowReferUsersDynamically: ptr(false),
		}, {
			Entity: "xcon-userid:bob@example.com", Nickname: "Bob",
		}},
		JoinHandling:        "allow",
		UserAdmissionPolicy: "openAuthenticated",
		AllowedUsers:        []Target{{URI: "sip:carol@example.com", Method: "dial-out"}},
		PersistentUsers:     []PersistentUser{{Name: "carol", Nickname: "Caz", ID: "xcon-userid:carol@example.com", Email: []string{"carol@example.com"}}},
		DenyUsers:           []Target{{URI: "sip:mallory@example.com"}},
		SidebarsByRef:       []URIEntry{{URI: "xcon:whisper@example.com", DisplayText: "whisper"}},
		SidebarsByVal: []*Conference{{
			Entity:      "xcon:side@example.com",
			Description: Description{DisplayText: "side", SidebarParent: "xcon:lobby@example.com"},
			Users:       []*User{{Entity: "xcon-userid:alice@example.com"}},
		}},
	}
}

func TestEncodeValidates(t *testing.T) {
	tests := []struct {
		name string
		conf *Conference
	}{
		{"minimal", &Conference{Entity: "xcon:empty@example.com"}},
		{"chat room", chatRoom()},
		{"control characters are replaced", &Conference{Entity: "xcon:x@example.com", Description: Description{DisplayText: "bell\x07 and \uFFFE"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := encode(t, tt.conf)
			validate(t, out)
			back, err := Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if again := encode(t, back); !bytes.Equal(again, out) {
				t.Fatalf("decode/encode is not stable\nfirst  %s\nsecond %s", out, again)
			}
		})
	}
}

func TestNicknameIsQualified(t *testing.T) {
	out := string(encode(t, chatRoom()))
	for _, want := range []string{
		`<info:user entity="xcon-userid:alice@example.com" xcon:nickname="Alice">`,
		`<info:endpoint entity="838unaH" xcon:nickname="Alicia">`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s\n%s", want, out)
		}
	}
}

// The same object spelled with different prefixes, or none, decodes the same
// (etree matches prefixes, not namespaces).
func TestDecodeMatchesNamespacesNotPrefixes(t *testing.T) {
	docs := map[string]string{
		"info prefix": `<info:conference-info xmlns:info="urn:ietf:params:xml:ns:conference-info" xmlns:xcon="urn:ietf:params:xml:ns:xcon-conference-info" entity="xcon:lobby@example.com">
			<info:users><info:user entity="xcon-userid:alice@example.com" xcon:nickname="Alice"/><xcon:join-handling>allow</xcon:join-handling></info:users></info:conference-info>`,
		"default namespace": `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="xcon:lobby@example.com">
			<users><user entity="xcon-userid:alice@example.com" xmlns:x="urn:ietf:params:xml:ns:xcon-conference-info" x:nickname="Alice"/>
			<join-handling xmlns="urn:ietf:params:xml:ns:xcon-conference-info">allow</join-handling></users></conference-info>`,
		"odd prefixes": `<a:conference-info xmlns:a="urn:ietf:params:xml:ns:conference-info" xmlns:b="urn:ietf:params:xml:ns:xcon-conference-info" entity="xcon:lobby@example.com">
			<a:users><a:user entity="xcon-userid:alice@example.com" b:nickname="Alice"/><b:join-handling> allow
			</b:join-handling></a:users></a:conference-info>`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			c, err := Decode(strings.NewReader(doc))
			if err != nil {
				t.Fatal(err)
			}
			u := c.User("XCON-USERID:Alice@example.com")
			if u == nil || u.Nickname != "Alice" || c.JoinHandling != "allow" || c.Name() != "lobby" {
				t.Fatalf("decoded %+v", c)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"two roots", `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="a"/><conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="b"/>`},
		{"trailing text", `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="a"/>garbage`},
		{"wrong root namespace", `<conference-info entity="a"/>`},
		{"wrong root name", `<users xmlns="urn:ietf:params:xml:ns:conference-info"/>`},
		{"bad boolean", `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="a"><conference-state><active>yes</active></conference-state></conference-info>`},
		{"bad count", `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="a"><conference-description><maximum-user-count>-1</maximum-user-count></conference-description></conference-info>`},
		{"undeclared prefix", `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="a"><x:users/></conference-info>`},
		{"external entity", `<!DOCTYPE c [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="&xxe;"/>`},
		{"too deep", `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="a">` + strings.Repeat("<x>", 100) + strings.Repeat("</x>", 100) + `</conference-info>`},
		{"empty", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(strings.NewReader(tt.doc)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode = %v, want ErrInvalid", err)
			}
		})
	}
}

// Unknown elements and attributes, in any namespace, survive a round trip.
func TestUnknownContentIsKept(t *testing.T) {
	in := `<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" xmlns:v="urn:example:vendor" entity="xcon:lobby@example.com" v:shard="7">
		<conference-description><display-text>Lobby</display-text><v:theme dark="yes"><v:color>blue</v:color></v:theme></conference-description>
		<users><user entity="xcon-userid:alice@example.com" v:karma="3"><endpoint entity="c1"><media id="1"><label>main</label><v:codec>utf8</v:codec></media></endpoint></user></users>
		<v:archive>on</v:archive>
	</conference-info>`
	c, err := Decode(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	out := encode(t, c)
	if got, want := canonical(t, out), canonical(t, []byte(in)); got != want {
		t.Fatalf("unknown content lost\n--- got\n%s\n--- want\n%s", got, want)
	}
	validate(t, out)
}

func TestElementEmbedsAsConfInfo(t *testing.T) {
	doc := etree.NewDocument()
	resp := doc.CreateElement("ccmp:ccmpResponse")
	resp.CreateAttr("xmlns:ccmp", "urn:ietf:params:xml:ns:xcon-ccmp")
	inner := resp.CreateElement("ccmpResponse")
	inner.AddChild(chatRoom().Element("confInfo"))
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	// Parse it back the way CCMP would and decode the embedded object.
	doc2 := etree.NewDocument()
	if err := doc2.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	el := doc2.FindElement("//confInfo")
	c, err := DecodeElement(el)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encode(t, c), encode(t, chatRoom())) {
		t.Fatalf("embedded object differs:\n%s", s)
	}
}

func TestCloneIsDeep(t *testing.T) {
	orig := chatRoom()
	orig.Extras.Elements = []*Element{{Name: xmlName("urn:example", "x"), Children: []*Element{{Name: xmlName("urn:example", "y"), Text: "1"}}}}
	before := encode(t, orig)
	c := orig.Clone()
	c.Users[0].Endpoints[0].Media[0].Status = "recvonly"
	c.Users[0].Roles[0] = "none"
	*c.State.Active = false
	*c.Description.MaximumUserCount = 1
	c.Description.Media[0].Label = "changed"
	c.SidebarsByVal[0].Users[0].Entity = "changed"
	c.Extras.Elements[0].Children[0].Text = "2"
	c.Users[0].Endpoints[0].CallInfo.SIP.CallID = "changed"
	if after := encode(t, orig); !bytes.Equal(before, after) {
		t.Fatalf("mutating the clone changed the original\nbefore %s\nafter  %s", before, after)
	}
	if !bytes.Equal(encode(t, orig.Clone()), before) {
		t.Fatal("clone encodes differently")
	}
}

func TestLookups(t *testing.T) {
	c := chatRoom()
	if c.Channel("fr") == nil || c.Channel("fr").Language != "fr" || c.Channel("de") != nil {
		t.Error("Channel lookup")
	}
	c.Channel("main").Status = "recvonly"
	if c.Description.Media[0].Status != "recvonly" {
		t.Error("Channel must return a pointer into the object")
	}
	if u := c.User("xcon-userid:BOB@example.com"); u == nil || u.Nickname != "Bob" {
		t.Error("User lookup must ignore case")
	}
	if c.User("xcon-userid:nobody@example.com") != nil {
		t.Error("unknown user found")
	}
	if e := c.Users[0].Endpoint("838unaH"); e == nil || e.Nickname != "Alicia" {
		t.Error("Endpoint lookup")
	}
}

func TestName(t *testing.T) {
	tests := []struct{ entity, want string }{
		{"xcon:lobby@example.com", "lobby"},
		{"xcon:AudioRoom@Example.com", "audioroom"},
		{"xcon:8977794@example.com", "8977794"},
		{"xcon:example.com", "example.com"},
		{"sip:lobby@example.com", "lobby"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := (&Conference{Entity: tt.entity}).Name(); got != tt.want {
			t.Errorf("Name(%q) = %q, want %q", tt.entity, got, tt.want)
		}
	}
}

func TestUserIDFromAOR(t *testing.T) {
	tests := []struct{ aor, want string }{
		{"sip:alice@example.com", "xcon-userid:alice@example.com"},
		{"sip:Alice@Example.COM;x=y", "xcon-userid:alice@example.com"},
		{"sips:alice@example.com:5061;transport=tls", "xcon-userid:alice@example.com"},
		{`"Alice" <sip:alice@example.com;gr>;tag=1`, "xcon-userid:alice@example.com"},
		{"sip:alice@[2001:db8::1]:5060", "xcon-userid:alice@[2001:db8::1]"},
		{"sip:alice@example.com?subject=hi", "xcon-userid:alice@example.com"},
		{"tel:+15551234", "xcon-userid:+15551234"},
		{"xcon-userid:bob@example.com", "xcon-userid:bob@example.com"},
	}
	for _, tt := range tests {
		if got := UserIDFromAOR(tt.aor); got != tt.want {
			t.Errorf("UserIDFromAOR(%q) = %q, want %q", tt.aor, got, tt.want)
		}
	}
}

// Decoding RFC 6501 §7 fills the modelled fields, not just Extras.
func TestDecodeRFC6501Example(t *testing.T) {
	c, err := Decode(bytes.NewReader(readExample(t, "92-rfc6501-conference-object-example.xml")))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Description
	checks := []struct {
		name string
		ok   bool
	}{
		{"lang", d.Lang == "en-us"},
		{"keywords", strings.Join(d.Keywords, ",") == "Formula-1,cars"},
		{"password", len(d.ConfURIs) == 2 && d.ConfURIs[0].Password == "5678"},
		{"max users", d.MaximumUserCount != nil && *d.MaximumUserCount == 50},
		{"mixing mode", len(d.Media) == 2 && d.Media[0].MixingMode == "automatic" && len(d.Media[0].Extras.Elements) == 2},
		{"language", d.Language == "En-us" && d.AllowSidebars != nil && *d.AllowSidebars},
		{"conference time", d.ConferenceTime != nil && d.ConferenceTime.Child(NSXcon, "entry") != nil},
		{"state", c.State.UserCount != nil && *c.State.UserCount == 3 && *c.State.AllowConferenceEventSubscription},
		{"users", len(c.Users) == 3 && c.Users[0].Roles[0] == "participant" && c.Users[0].AssociatedAORs[0] == "mailto:bob@example.com"},
		{"endpoint", c.Users[0].Endpoints[0].Referred.By == "sip:alice@example.com" && c.Users[0].Endpoints[0].CallInfo.SIP.CallID == "hsjh8980vhsb78"},
		{"policy", c.JoinHandling == "allow" && c.UserAdmissionPolicy == "openAuthenticated" && len(c.AllowedUsers) == 4 && c.DenyUsers[0].URI == "sip:charlie@example.com"},
		{"sidebars", len(c.SidebarsByRef) == 1 && len(c.SidebarsByVal) == 1 && len(c.SidebarsByVal[0].Users) == 2},
		{"floor", c.FloorInformation != nil && c.FloorInformation.Child(NSXcon, "conference-ID").Text == "567"},
		{"anonymity", c.Users[1].ProvideAnonymity == "private" && *c.Users[1].AllowReferUsersDynamically},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s not decoded", ch.name)
		}
	}
}
