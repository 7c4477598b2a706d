package xcon

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const deltaOpen = `<confInfo xmlns="` + NS + `" xmlns:x="` + NSXcon + `" xmlns:p="` + NSParley + `" entity="xcon:lobby@example.com">`

// applyDelta merges a confInfo delta into a copy of the chat room.
func applyDelta(t *testing.T, body string, rules MergeRules) (*Conference, error) {
	t.Helper()
	root, err := ReadRoot([]byte(deltaOpen + body + `</confInfo>`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseConferenceDelta(root)
	if err != nil {
		return nil, err
	}
	c := chatRoom()
	return c, d.Apply(c, rules)
}

func TestMerge(t *testing.T) {
	noBob := MergeRules{Nickname: func(n string) error {
		if strings.EqualFold(n, "bob") {
			return errors.New("taken")
		}
		return nil
	}}
	tests := []struct {
		name  string
		delta string
		rules MergeRules
		want  func(c *Conference) bool
		kind  MergeRefusal // with fails
		fails bool
	}{
		{name: "text leaf replaces", delta: `<conference-description><display-text>Hall</display-text></conference-description>`,
			want: func(c *Conference) bool {
				return c.Description.DisplayText == "Hall" && c.Description.Subject == "Anything goes"
			}},
		{name: "empty leaf removes", delta: `<conference-description><subject/><maximum-user-count/></conference-description>`,
			want: func(c *Conference) bool { return c.Description.Subject == "" && c.Description.MaximumUserCount == nil }},
		{name: "boolean leaf", delta: `<conference-description><x:allow-sidebars>true</x:allow-sidebars></conference-description>`,
			want: func(c *Conference) bool { return *c.Description.AllowSidebars }},
		{name: "words leaf", delta: `<conference-description><keywords>a b c</keywords></conference-description>`,
			want: func(c *Conference) bool { return strings.Join(c.Description.Keywords, ",") == "a,b,c" }},
		{name: "server-set parent refused", delta: `<conference-description><x:cloning-parent>xcon:x@example.com</x:cloning-parent></conference-description>`,
			fails: true, kind: Forbidden},
		{name: "sidebars refused", delta: `<sidebars-by-ref/>`, fails: true, kind: Forbidden},
		{name: "user count is the focus's", delta: `<conference-state><user-count>99</user-count><locked>true</locked><other/></conference-state>`,
			want: func(c *Conference) bool { return *c.State.UserCount == 2 && *c.State.Locked && c.State.Extras.IsZero() }},
		{name: "unknown element replaces the kept ones", delta: `<conference-description><p:note>n</p:note></conference-description>`,
			want: func(c *Conference) bool { return len(c.Description.Extras.Elements) == 1 }},
		{name: "service uri added", delta: `<conference-description><service-uris><entry><uri>https://example.com/x</uri></entry></service-uris></conference-description>`,
			want: func(c *Conference) bool { return len(c.Description.ServiceURIs) == 2 }},
		{name: "service uri deleted", delta: `<conference-description><service-uris><entry state="deleted"><uri>https://example.com/lobby</uri></entry></service-uris></conference-description>`,
			want: func(c *Conference) bool { return len(c.Description.ServiceURIs) == 0 }},
		{name: "uris entry needs its uri", delta: `<conference-description><service-uris><entry/><entry><uri>https://example.com/x</uri></entry></service-uris></conference-description>`,
			fails: true, kind: Invalid},
		{name: "empty media is an entry", delta: `<users><user entity="xcon-userid:alice@example.com"><endpoint entity="38iuhds"><media/><media id="1"><label>fr</label></media></endpoint></user></users>`,
			want: func(c *Conference) bool {
				e := c.User("xcon-userid:alice@example.com").Endpoint("38iuhds")
				return len(e.Media) == 2 && e.Media[0].Label == "fr"
			}},
		{name: "conf-uris password", delta: `<conference-description><conf-uris><entry><uri>sip:lobby@example.com</uri><x:conference-password>9</x:conference-password></entry></conf-uris></conference-description>`,
			want: func(c *Conference) bool {
				return c.Description.ConfURIs[0].Password == "9" && c.Description.ConfURIs[0].Purpose == "participation"
			}},
		{name: "conf-uris are the focus's", delta: `<conference-description><conf-uris><entry><uri>sip:other@example.com</uri></entry></conf-uris></conference-description>`,
			fails: true, kind: Conflict},
		{name: "channel added and changed", delta: `<conference-description><available-media><entry label="de"><type>message</type></entry><entry label="main"><status>recvonly</status></entry></available-media></conference-description>`,
			want: func(c *Conference) bool {
				return len(c.Description.Media) == 3 && c.Channel("main").Status == "recvonly" && c.Channel("main").DisplayText == "Main channel"
			}},
		{name: "last channel kept", delta: `<conference-description><available-media/></conference-description>`, fails: true, kind: Conflict},
		{name: "channel needs a label", delta: `<conference-description><available-media><entry/></available-media></conference-description>`, fails: true, kind: Invalid},
		{name: "host-info replaced whole", delta: `<host-info><web-page>https://x.example/</web-page></host-info>`,
			want: func(c *Conference) bool {
				return c.HostInfo.WebPage == "https://x.example/" && c.HostInfo.DisplayText == ""
			}},
		{name: "empty host-info removes", delta: `<host-info/>`, want: func(c *Conference) bool { return c.HostInfo == nil }},
		{name: "user added", delta: `<users><user entity="xcon-userid:dave@example.com" x:nickname="Dave"/></users>`, rules: noBob,
			want: func(c *Conference) bool { return c.User("xcon-userid:dave@example.com") != nil }},
		{name: "new user's nickname vetted", delta: `<users><user entity="xcon-userid:dave@example.com" x:nickname="Bob"/></users>`, rules: noBob,
			fails: true, kind: Invalid},
		{name: "user merged", delta: `<users><user entity="xcon-userid:alice@example.com"><display-text>Al</display-text><roles><entry>participant</entry></roles></user></users>`,
			want: func(c *Conference) bool {
				u := c.User("xcon-userid:alice@example.com")
				return u.DisplayText == "Al" && len(u.Roles) == 1 && len(u.Endpoints) == 2
			}},
		{name: "user deleted", delta: `<users><user entity="xcon-userid:bob@example.com" state="deleted"/></users>`,
			want: func(c *Conference) bool { return c.User("xcon-userid:bob@example.com") == nil }},
		{name: "no user to delete", delta: `<users><user entity="xcon-userid:zed@example.com" state="deleted"/></users>`, fails: true, kind: Conflict},
		{name: "user needs its entity", delta: `<users><user/></users>`, fails: true, kind: Invalid},
		{name: "user entity is a URI", delta: `<users><user entity="alice"/></users>`, fails: true, kind: Invalid},
		{name: "endpoint and media merged", delta: `<users><user entity="xcon-userid:alice@example.com"><endpoint entity="38iuhds"><status>on-hold</status><media id="1"><label>fr</label></media></endpoint></user></users>`,
			want: func(c *Conference) bool {
				e := c.User("xcon-userid:alice@example.com").Endpoint("38iuhds")
				return e.Status == "on-hold" && e.Media[0].Label == "fr" && e.Media[0].Type == "message" && e.JoiningInfo != nil
			}},
		{name: "endpoint needs its entity", delta: `<users><user entity="xcon-userid:alice@example.com"><endpoint/></user></users>`, fails: true, kind: Invalid},
		{name: "targets", delta: `<users><x:join-handling>block</x:join-handling><x:allowed-users-list><x:target uri="sip:dave@example.com" method="dial-in"/></x:allowed-users-list><x:deny-users-list><x:target uri="sip:mallory@example.com" state="deleted"/></x:deny-users-list></users>`,
			want: func(c *Conference) bool {
				return c.JoinHandling == "block" && len(c.AllowedUsers) == 2 && len(c.DenyUsers) == 0 && len(c.PersistentUsers) == 1
			}},
		{name: "target is a URI", delta: `<users><x:deny-users-list><x:target uri="nobody"/></x:deny-users-list></users>`, fails: true, kind: Invalid},
		{name: "room policy", delta: `<p:room-policy logging="true" history="5"/>`,
			want: func(c *Conference) bool { p, _ := c.RoomPolicy(); return p.Logging && p.History == 5 }},
		{name: "room policy checked", delta: `<p:room-policy history="lots"/>`, fails: true, kind: Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := applyDelta(t, tt.delta, tt.rules)
			if tt.fails {
				var me *MergeError
				if !errors.As(err, &me) || me.Kind != tt.kind {
					t.Fatalf("err %v, want a refusal of kind %d", err, tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Errorf("not merged as expected:\n%s", encode(t, c))
			}
		})
	}
}

func TestMergeUserDelta(t *testing.T) {
	root, err := ReadRoot([]byte(`<userInfo xmlns="` + NS + `" xmlns:x="` + NSXcon + `" entity="xcon-userid:alice@example.com" x:nickname="Al">` +
		`<languages>de</languages><x:allow-refer-users-dynamically>true</x:allow-refer-users-dynamically><cascaded-focus/></userInfo>`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseUserDelta(root)
	if err != nil {
		t.Fatal(err)
	}
	if !d.HasAttr(NSXcon, "nickname") || d.HasAttr("", "state") {
		t.Error("HasAttr")
	}
	u := chatRoom().User("xcon-userid:alice@example.com")
	if err := d.Apply(u); err != nil {
		t.Fatal(err)
	}
	if u.Nickname != "Alice" || strings.Join(u.Languages, " ") != "de" || !*u.AllowReferUsersDynamically || u.DisplayText != "Alice A." {
		t.Errorf("merged user: %+v", u)
	}
}

// FuzzMerge: whatever delta a client sends, parsing and applying it never
// panics, and a merged object encodes to a document Decode accepts.
func FuzzMerge(f *testing.F) {
	for _, s := range []string{
		`<conference-description><display-text>Hall</display-text><available-media><entry label="x"/></available-media></conference-description>`,
		`<users><user entity="xcon-userid:alice@example.com"><endpoint entity="38iuhds"><media id="1"/></endpoint></user><user/></users>`,
		`<users><x:allowed-users-list><x:target uri="sip:a@b"/><x:persistent-list/></x:allowed-users-list></users>`,
		`<conference-state><active/><locked>1</locked></conference-state><host-info/><x:floor-information/>`,
		`<conference-description><service-uris><entry state="deleted"><uri>https://example.com/lobby</uri></entry></service-uris><conf-uris><entry/></conf-uris></conference-description>`,
	} {
		f.Add(deltaOpen + s + `</confInfo>`)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		root, err := ReadRoot([]byte(doc))
		if err != nil {
			return
		}
		c := chatRoom()
		if d, err := ParseConferenceDelta(root); err == nil {
			if d.Apply(c, MergeRules{}) == nil {
				var buf bytes.Buffer
				if err := c.Encode(&buf); err != nil {
					t.Fatal(err)
				}
				if _, err := Decode(&buf); err != nil {
					t.Fatalf("merged object does not decode: %v", err)
				}
			}
		}
		if d, err := ParseUserDelta(root); err == nil {
			_ = d.Apply(chatRoom().Users[0])
		}
	})
}
