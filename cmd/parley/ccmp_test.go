package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/internal/peers"
	"github.com/parleychat/parley/xcon"
)

const examplesDir = "../../testdata/spec/ccmp-examples/corrected"

// ccmpPeer posts CCMP documents to the daemon and checks every response against the RFC
// schema with xmllint.
type ccmpPeer struct {
	t       *testing.T
	url     string
	xmllint string
	dir     string
	domain  string
	n       int
}

func newCCMPPeer(t *testing.T, d *daemon) *ccmpPeer {
	return &ccmpPeer{t: t, url: "http://" + d.httpAddr.String() + "/ccmp",
		xmllint: peers.Xmllint(t), dir: t.TempDir(), domain: d.cfg.Domain}
}

// post sends body and returns the decoded response after validating it.
func (p *ccmpPeer) post(body []byte) *ccmp.Response {
	p.t.Helper()
	res, err := http.Post(p.url, "application/ccmp+xml", bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	var raw bytes.Buffer
	raw.ReadFrom(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/ccmp+xml") ||
		res.Header.Get("Cache-Control") != "no-store" {
		p.t.Fatalf("HTTP %d %q %q: %s", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"), raw.Bytes())
	}
	p.validate(raw.Bytes())
	resp, err := ccmp.DecodeResponse(bytes.NewReader(raw.Bytes()))
	if err != nil {
		p.t.Fatalf("decode response: %v\n%s", err, raw.Bytes())
	}
	return resp
}

func (p *ccmpPeer) validate(doc []byte) {
	p.t.Helper()
	p.n++
	peers.ValidateWith(p.t, p.xmllint, "ccmp.xsd", doc)
}

// do encodes a request, posts it and returns the response.
func (p *ccmpPeer) do(req *ccmp.Request) *ccmp.Response {
	p.t.Helper()
	if req.ConfUserID == "" {
		req.ConfUserID = "xcon-userid:admin@example.com"
	}
	var b bytes.Buffer
	if err := req.Encode(&b); err != nil {
		p.t.Fatal(err)
	}
	return p.post(b.Bytes())
}

func (p *ccmpPeer) retrieve(uri string) *ccmp.Response {
	p.t.Helper()
	return p.do(&ccmp.Request{Type: ccmp.TypeConf, ConfObjID: uri, Operation: ccmp.OpRetrieve, HasBody: true})
}

func (p *ccmpPeer) retrieveConf(uri string) *xcon.Conference {
	p.t.Helper()
	r := p.retrieve(uri)
	if r.Code != 200 || r.Info == nil {
		p.t.Fatalf("retrieve %s: %d %s", uri, r.Code, r.Reason)
	}
	c, err := xcon.DecodeElement(r.Info)
	if err != nil {
		p.t.Fatal(err)
	}
	if r.Version != c.Version {
		p.t.Fatalf("retrieve %s: response version %d, object version %d", uri, r.Version, c.Version)
	}
	return c
}

// createRoom creates a room by name with the given extra confInfo children (raw XML).
func (p *ccmpPeer) createRoom(name, inner string) {
	p.t.Helper()
	body := `<?xml version="1.0" encoding="UTF-8"?>
<ccmp:ccmpRequest xmlns:ccmp="urn:ietf:params:xml:ns:xcon-ccmp" xmlns:info="urn:ietf:params:xml:ns:conference-info"
 xmlns:xcon="urn:ietf:params:xml:ns:xcon-conference-info" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <ccmpRequest xsi:type="ccmp:ccmp-conf-request-message-type">
  <confUserID>xcon-userid:admin@example.com</confUserID>
  <operation>create</operation>
  <ccmp:confRequest><confInfo entity="xcon:` + name + `@` + p.domain + `">` + inner + `</confInfo></ccmp:confRequest>
 </ccmpRequest>
</ccmp:ccmpRequest>`
	if r := p.post([]byte(body)); r.Code != 200 || r.Version != 1 {
		p.t.Fatalf("create %s: %d %s (version %d)", name, r.Code, r.Reason, r.Version)
	}
}

func (p *ccmpPeer) addUser(room, inner string) {
	p.t.Helper()
	body := `<?xml version="1.0" encoding="UTF-8"?>
<ccmp:ccmpRequest xmlns:ccmp="urn:ietf:params:xml:ns:xcon-ccmp" xmlns:info="urn:ietf:params:xml:ns:conference-info"
 xmlns:xcon="urn:ietf:params:xml:ns:xcon-conference-info" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <ccmpRequest xsi:type="ccmp:ccmp-user-request-message-type">
  <confUserID>xcon-userid:admin@example.com</confUserID>
  <confObjID>xcon:` + room + `@` + p.domain + `</confObjID>
  <operation>create</operation>
  <ccmp:userRequest>` + inner + `</ccmp:userRequest>
 </ccmpRequest>
</ccmp:ccmpRequest>`
	if r := p.post([]byte(body)); r.Code != 200 {
		p.t.Fatalf("add user to %s: %d %s", room, r.Code, r.Reason)
	}
}

func readExample(t *testing.T, name string, subs map[string]string) []byte {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(examplesDir, name+"*-request.xml"))
	if len(matches) != 1 {
		t.Fatalf("example %s: %v", name, matches)
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for from, to := range subs {
		s = strings.ReplaceAll(s, from, to)
	}
	return []byte(s)
}

func sameURI(a, b string) bool { return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b)) }

// TestCCMPReplayRFCFlows replays every corrected RFC 6503 §6 and RFC 6504 request of
// testdata/spec/ccmp-examples against the real handler of a real daemon, in order, with the
// RFC's blueprints mapped onto ours (AudioRoom → chat, VideoRoom → chat-multilingual) and the
// conferences the RFC 6504 flows presuppose created first. It asserts the response code, the
// operation echo, confObjID/confUserID, versions and the state a later retrieve shows; every
// response is validated against ccmp.xsd.
func TestCCMPReplayRFCFlows(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.Domain = "example.com" })
	p := newCCMPPeer(t, d)

	// State the RFC 6504 flows presuppose.
	bob := `<info:associated-aors><info:entry><info:uri>sip:bob83@example.com</info:uri></info:entry></info:associated-aors>
	  <info:endpoint entity="sip:bob83@example.com"><info:media id="1"><info:type>audio</info:type><info:label>123</info:label>
	  <info:status>sendrecv</info:status></info:media></info:endpoint>`
	p.createRoom("8977878", "")
	p.addUser("8977878", `<userInfo entity="xcon-userid:Bob@example.com">`+bob+`</userInfo>`)
	p.createRoom("6845432", `<info:conference-description><info:display-text>Reservation</info:display-text></info:conference-description>`)
	p.createRoom("bobconf", "")
	p.createRoom("8977777", `<info:conference-description><info:conf-uris><info:entry><info:uri>sip:8977777@example.com</info:uri>
	  <xcon:conference-password>8601</xcon:conference-password></info:entry></info:conf-uris></info:conference-description>`)
	p.createRoom("8977794", "")
	p.addUser("8977794", `<userInfo entity="xcon-userid:Bob@example.com"/>`)
	p.createRoom("8978383", "")
	const main = "xcon:8977878@example.com"
	var byRef, coach string

	blueprints := map[string]string{
		"xcon:AudioRoom@example.com": "xcon:chat@blueprints.example.com",
		"xcon:VideoRoom@example.com": "xcon:chat-multilingual@blueprints.example.com",
	}
	var story string // the conference the RFC 6503 §6 story creates (xcon:8977794 there)
	var storyVersion uint64
	storySubs := func() map[string]string {
		return map[string]string{"xcon:8977794@example.com": story}
	}
	version := func(uri string) uint64 { return p.retrieveConf(uri).Version }

	type vector struct {
		nn    string
		subs  func() map[string]string
		code  int
		check func(t *testing.T, r *ccmp.Response)
	}
	var before uint64
	vectors := []vector{
		{"01", nil, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Operation != "" || r.ConfObjID != "" || r.Info == nil || len(r.Info.ChildElements()) != 2 {
				t.Fatalf("blueprints list: op %q obj %q info %v", r.Operation, r.ConfObjID, r.Info)
			}
			for _, e := range r.Info.ChildElements() {
				if u := e.SelectElement("uri"); u == nil || !strings.HasPrefix(u.Text(), "xcon:") || !strings.Contains(u.Text(), "@blueprints.example.com") {
					t.Fatalf("blueprint entry %v", u)
				}
			}
		}},
		{"02", func() map[string]string { return blueprints }, 200, func(t *testing.T, r *ccmp.Response) {
			c, err := xcon.DecodeElement(r.Info)
			if err != nil || !sameURI(c.Entity, r.ConfObjID) || r.Operation != "retrieve" || len(c.Description.Media) != 1 || c.Description.Media[0].Type != "message" {
				t.Fatalf("blueprint: %v %+v", err, c)
			}
		}},
		{"03", func() map[string]string { return blueprints }, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Operation != "create" || r.Version != 1 || strings.Contains(r.ConfObjID, "blueprints") || !strings.HasSuffix(r.ConfObjID, "@example.com") {
				t.Fatalf("clone: op %q version %d obj %q", r.Operation, r.Version, r.ConfObjID)
			}
			c, _ := xcon.DecodeElement(r.Info)
			if !sameURI(c.Entity, r.ConfObjID) || c.Description.CloningParent != "xcon:chat@blueprints.example.com" {
				t.Fatalf("clone object: %q parent %q", c.Entity, c.Description.CloningParent)
			}
			story, storyVersion = r.ConfObjID, 1
		}},
		{"04", storySubs, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Operation != "update" || !sameURI(r.ConfObjID, story) || r.Version != storyVersion+1 {
				t.Fatalf("update: op %q obj %q version %d", r.Operation, r.ConfObjID, r.Version)
			}
			storyVersion++
			if c := p.retrieveConf(story); c.Description.DisplayText != "Alice's conference" {
				t.Fatalf("title after update: %q", c.Description.DisplayText)
			}
		}},
		{"05", storySubs, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Operation != "update" || r.Version != storyVersion+1 || r.Info != nil {
				t.Fatalf("users update: op %q version %d info %v", r.Operation, r.Version, r.Info)
			}
			storyVersion++
			if c := p.retrieveConf(story); len(c.AllowedUsers) != 3 || c.AllowedUsers[0].Method != "dial-out" {
				t.Fatalf("allowed list: %+v", c.AllowedUsers)
			}
		}},
		{"06", storySubs, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Operation != "create" || r.Version != storyVersion+1 || !sameURI(r.ConfUserID, "xcon-userid:alice@example.com") {
				t.Fatalf("join: op %q version %d user %q", r.Operation, r.Version, r.ConfUserID)
			}
			storyVersion++
			u, err := xcon.DecodeUserElement(r.Info)
			if err != nil || !sameURI(u.Entity, "xcon-userid:alice@example.com") || u.Nickname == "" {
				t.Fatalf("join userInfo (the allocated nickname must be in it): %v %+v", err, u)
			}
		}},
		{"07", storySubs, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Version != storyVersion+1 {
				t.Fatalf("third-party add: version %d", r.Version)
			}
			storyVersion++
			u, err := xcon.DecodeUserElement(r.Info)
			if err != nil || strings.Contains(u.Entity, "AUTO_GENERATE") || !strings.HasSuffix(u.Entity, "@example.com") ||
				len(u.AssociatedAORs) != 1 || len(u.Endpoints) != 1 {
				t.Fatalf("third-party userInfo: %v %+v", err, u)
			}
			if c := p.retrieveConf(story); c.User(u.Entity) == nil {
				t.Fatalf("%s not in the conference", u.Entity)
			}
		}},
		{"08", nil, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Operation != "" || r.Options == nil || len(r.Options.Standard) == 0 || r.Options.Extended[0].Name != "parley" {
				t.Fatalf("options: %+v", r.Options)
			}
		}},
		{"09", storySubs, 501, func(t *testing.T, r *ccmp.Response) {
			if r.ExtensionName != "confSummaryRequest" || r.Operation != "retrieve" {
				t.Fatalf("unknown extension: name %q op %q", r.ExtensionName, r.Operation)
			}
		}},
		{"10", func() map[string]string { return blueprints }, 200, func(t *testing.T, r *ccmp.Response) {
			if !sameURI(r.ConfObjID, "xcon:chat@blueprints.example.com") || r.Info == nil {
				t.Fatalf("blueprint over HTTP: %q", r.ConfObjID)
			}
		}},
		{"11", nil, 200, func(t *testing.T, r *ccmp.Response) {
			c, _ := xcon.DecodeElement(r.Info)
			if r.Version != 1 || !sameURI(c.Entity, r.ConfObjID) || c.JoinHandling != "allow" || len(c.Description.ConfURIs) != 1 {
				t.Fatalf("default create: version %d %+v", r.Version, c)
			}
		}},
		{"12", nil, 200, func(t *testing.T, r *ccmp.Response) {
			// Our blueprints are chat rooms: none has both audio and video.
			if r.Info != nil {
				t.Fatalf("audio and video blueprints: %v", r.Info)
			}
		}},
		{"13", func() map[string]string { return blueprints }, 200, func(t *testing.T, r *ccmp.Response) {
			c, _ := xcon.DecodeElement(r.Info)
			if len(c.Description.Media) != 3 || c.Description.Media[1].Language != "fr" {
				t.Fatalf("multilingual blueprint media: %+v", c.Description.Media)
			}
		}},
		{"14", func() map[string]string { return blueprints }, 200, func(t *testing.T, r *ccmp.Response) {
			c, _ := xcon.DecodeElement(r.Info)
			if r.Version != 1 || len(c.Description.Media) != 3 {
				t.Fatalf("multilingual clone: %d %+v", r.Version, c.Description.Media)
			}
		}},
		{"15", nil, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Version != 1 || strings.Contains(r.ConfObjID, "AUTO_GENERATE") {
				t.Fatalf("direct create: %d %q", r.Version, r.ConfObjID)
			}
			c := p.retrieveConf(r.ConfObjID)
			if !sameURI(c.Entity, r.ConfObjID) || len(c.Description.Media) != 2 || strings.Contains(c.Description.Media[0].Label, "AUTO") || c.Description.Media[1].Type != "message" ||
				c.Description.ConferenceTime == nil || len(c.AllowedUsers) != 3 {
				t.Fatalf("direct create object: %+v", c)
			}
		}},
		{"16", nil, 200, func(t *testing.T, r *ccmp.Response) {
			c, _ := xcon.DecodeElement(r.Info)
			if r.Version != 1 || sameURI(r.ConfObjID, "xcon:6845432@example.com") || c.Description.CloningParent != "xcon:6845432@example.com" ||
				c.Description.DisplayText != "Reservation" {
				t.Fatalf("clone of a room: %d %q %+v", r.Version, r.ConfObjID, c.Description)
			}
		}},
		{"17", func() map[string]string { before = version("xcon:8977878@example.com"); return nil }, 200, func(t *testing.T, r *ccmp.Response) {
			u, _ := xcon.DecodeUserElement(r.Info)
			if r.Version != before+1 || u.Entity != "xcon-userid:bob83@example.com" || u.DisplayText != "Bob" || len(u.Endpoints) != 1 {
				t.Fatalf("add party: version %d (before %d) %+v", r.Version, before, u)
			}
		}},
		{"18", func() map[string]string { before = version("xcon:8977878@example.com"); return nil }, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Operation != "update" || r.Version != before+1 {
				t.Fatalf("mute: op %q version %d (before %d)", r.Operation, r.Version, before)
			}
			u := p.retrieveConf("xcon:8977878@example.com").User("xcon-userid:bob@example.com")
			if u == nil || len(u.Endpoints) != 1 || u.Endpoints[0].Media[0].Status != "recvonly" || u.Endpoints[0].Media[0].Label != "123" {
				t.Fatalf("bob after mute: %+v", u)
			}
		}},
		{"19", func() map[string]string { before = version("xcon:bobconf@example.com"); return nil }, 200, func(t *testing.T, r *ccmp.Response) {
			if r.ConfUserID != "xcon-userid:alice_789@example.com" || !sameURI(r.ConfObjID, "xcon:bobConf@example.com") || r.Version != before+1 {
				t.Fatalf("join without confUserID: user %q obj %q version %d", r.ConfUserID, r.ConfObjID, r.Version)
			}
		}},
		{"20", func() map[string]string {
			before = p.do(&ccmp.Request{Type: ccmp.TypeConf, ConfObjID: "xcon:8977777@example.com", Operation: "retrieve", HasBody: true,
				Password: ptr("8601")}).Version
			return map[string]string{"8977794": "8977777"}
		}, 423, func(t *testing.T, r *ccmp.Response) {
			if r.Operation != "create" || !sameURI(r.ConfObjID, "xcon:8977777@example.com") {
				t.Fatalf("423: %q %q", r.Operation, r.ConfObjID)
			}
		}},
		{"21", func() map[string]string { return map[string]string{"8977794": "8977777"} }, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Version != before+1 {
				t.Fatalf("password join: version %d, want %d (the 423 changed nothing)", r.Version, before+1)
			}
		}},
		// A sidebar by value has no room to dial, so this server refuses to create one (403)
		// and points to sidebars by reference; the parent is left as it was.
		{"22", func() map[string]string { before = version(main); return nil }, 403, func(t *testing.T, r *ccmp.Response) {
			if !strings.Contains(r.Reason, "sidebarByRefRequest") || r.Info != nil {
				t.Fatalf("refused sidebar by value: %q %v", r.Reason, r.Info)
			}
			if m := p.retrieveConf(main); m.Version != before || len(m.SidebarsByVal) != 0 {
				t.Fatalf("parent after a refused sidebar: version %d (before %d) %+v", m.Version, before, m.SidebarsByVal)
			}
		}},
		{"23", nil, 404, nil},
		{"24", nil, 404, func(t *testing.T, r *ccmp.Response) {
			list := p.do(&ccmp.Request{Type: ccmp.TypeSidebarsByVal, ConfObjID: main, HasBody: true})
			if list.Code != 200 || list.Info == nil || len(list.Info.ChildElements()) != 0 {
				t.Fatalf("sidebars by value: %d %v", list.Code, list.Info)
			}
		}},
		{"25", func() map[string]string { before = version(main); return nil }, 200, func(t *testing.T, r *ccmp.Response) {
			sb, _ := xcon.DecodeElement(r.Info)
			if r.Version != 1 || !sameURI(sb.Description.SidebarParent, main) || len(sb.Description.ConfURIs) != 1 {
				t.Fatalf("sidebar by reference: %d %+v", r.Version, sb.Description)
			}
			byRef = r.ConfObjID
			if m := p.retrieveConf(main); len(m.SidebarsByRef) != 1 || !sameURI(m.SidebarsByRef[0].URI, byRef) || m.Version != before+1 {
				t.Fatalf("parent after by-ref create: %+v", m.SidebarsByRef)
			}
			if g := p.retrieve(byRef); g.Code != 404 {
				t.Fatalf("confRequest on a sidebar: %d, want 404", g.Code)
			}
			if g := p.do(&ccmp.Request{Type: ccmp.TypeConf, ConfObjID: main, Operation: ccmp.OpDelete, HasBody: true}); g.Code != 425 {
				t.Fatalf("delete of a parent with a sidebar: %d, want 425", g.Code)
			}
		}},
		{"26", func() map[string]string { return map[string]string{"xcon:8971212@example.com": byRef} }, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Operation != "update" || r.Version != 2 {
				t.Fatalf("by-ref update: %q %d", r.Operation, r.Version)
			}
			list := p.do(&ccmp.Request{Type: ccmp.TypeSidebarsByRef, ConfObjID: main, HasBody: true})
			if list.Code != 200 || list.Info == nil || len(list.Info.ChildElements()) != 1 {
				t.Fatalf("sidebars by reference: %d %v", list.Code, list.Info)
			}
		}},
		{"27", nil, 403, func(t *testing.T, r *ccmp.Response) {
			if !strings.Contains(r.Reason, "sidebarByRefRequest") {
				t.Fatalf("private text sidebar by value: %q", r.Reason)
			}
		}},
		{"28", nil, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Version != 1 {
				t.Fatalf("coaching sidebar: %d", r.Version)
			}
			coach = r.ConfObjID
		}},
		{"29", func() map[string]string { return map[string]string{"xcon:8971313@example.com": coach} }, 200, func(t *testing.T, r *ccmp.Response) {
			c := p.do(&ccmp.Request{Type: ccmp.TypeSidebarByRef, ConfObjID: coach, Operation: ccmp.OpRetrieve, HasBody: true})
			sb, _ := xcon.DecodeElement(c.Info)
			if r.Version != 2 || c.Version != 2 || strings.Contains(sb.Description.Media[len(sb.Description.Media)-1].Label, "AUTO") {
				t.Fatalf("coaching update: %d %+v", r.Version, sb.Description.Media)
			}
			// Deleting the sidebar by reference takes it out of its parent.
			if d := p.do(&ccmp.Request{Type: ccmp.TypeSidebarByRef, ConfObjID: coach, Operation: ccmp.OpDelete, HasBody: true}); d.Code != 200 {
				t.Fatalf("sidebar delete: %d", d.Code)
			}
			if m := p.retrieveConf("xcon:8978383@example.com"); len(m.SidebarsByRef) != 0 {
				t.Fatalf("parent still lists the deleted sidebar: %+v", m.SidebarsByRef)
			}
		}},
		{"30", func() map[string]string { before = version("xcon:8977794@example.com"); return nil }, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Operation != "delete" || r.Info != nil || r.Version != before+1 {
				t.Fatalf("user delete: op %q info %v version %d (before %d)", r.Operation, r.Info, r.Version, before)
			}
			if p.retrieveConf("xcon:8977794@example.com").User("xcon-userid:bob@example.com") != nil {
				t.Fatal("bob still in the conference")
			}
		}},
		{"31", nil, 200, func(t *testing.T, r *ccmp.Response) {
			if r.Operation != "delete" || r.Info != nil || r.Version != 0 || !sameURI(r.ConfObjID, "xcon:8977794@example.com") {
				t.Fatalf("conf delete: op %q info %v version %d", r.Operation, r.Info, r.Version)
			}
			if g := p.retrieve("xcon:8977794@example.com"); g.Code != 404 {
				t.Fatalf("retrieve after delete: %d", g.Code)
			}
		}},
	}
	for _, v := range vectors {
		var subs map[string]string
		if v.subs != nil {
			subs = v.subs()
		}
		r := p.post(readExample(t, v.nn, subs))
		if r.Code != v.code {
			t.Fatalf("vector %s: response-code %d %q, want %d", v.nn, r.Code, r.Reason, v.code)
		}
		if v.check != nil {
			v.check(t, r)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func ccmpClient(d *daemon) *ccmp.Client {
	return &ccmp.Client{URL: "http://" + d.httpAddr.String() + "/ccmp", UserID: "xcon-userid:admin@example.net"}
}

// TestCCMPLiveEffects drives rooms over CCMP and watches real SIP and MSRP participants: a
// room created is dialable at once; a nickname claimed over CCMP conflicts with MSRP users
// and lands on the user row; a deny-list change refuses the next INVITE; a user deleted is
// told and gets a BYE; a room deleted tells everyone, BYEs them and is gone; a room closed
// with a successor redirects with 302 and is no longer listed.
func TestCCMPLiveEffects(t *testing.T) {
	d := startTestDaemon(t, nil)
	c := ccmpClient(d)
	ctx := context.Background()

	conf, err := c.CreateRoom(ctx, ccmp.RoomSpec{Name: "cafe", DisplayText: "Café"})
	if err != nil {
		t.Fatal(err)
	}
	if conf.Entity != "xcon:cafe@example.net" || conf.Description.ConfURIs[0].URI != "sip:cafe@example.net" {
		t.Fatalf("created %q %+v", conf.Entity, conf.Description.ConfURIs)
	}
	alice := joinRoom(t, d, "cafe", "alice", "tcp", false)
	carol := joinRoom(t, d, "cafe", "carol", "udp", false)

	// Nicknames through CCMP, checked against the focus's registry.
	if got, err := c.Nick(ctx, "cafe", "xcon-userid:alice@example.com", "  Alice   L "); err != nil || got != "Alice L" {
		t.Fatalf("nick: %q %v", got, err)
	}
	var re *ccmp.ResponseError
	if _, err := c.NickExact(ctx, "cafe", "xcon-userid:carol@example.com", "alice l"); !errors.As(err, &re) || re.Code != 409 {
		t.Fatalf("taken nickname: %v, want CCMP 409", err)
	}
	if _, err := c.Nick(ctx, "cafe", "xcon-userid:carol@example.com", "bad\u200bname"); !errors.As(err, &re) || re.Code != 400 {
		t.Fatalf("malformed nickname: %v, want CCMP 400", err)
	}
	if u := d.focus.Room("cafe").Snapshot().User("xcon-userid:alice@example.com"); u == nil || u.Nickname != "Alice L" || len(u.Endpoints) != 1 {
		t.Fatalf("alice's row after nick: %+v", u)
	}

	// Ban through a confInfo delta: the next INVITE gets 403.
	delta := etreeDelta(t, `<confInfo xmlns:info="urn:ietf:params:xml:ns:conference-info" xmlns:xcon="urn:ietf:params:xml:ns:xcon-conference-info">
	  <info:users><xcon:deny-users-list><xcon:target uri="sip:mallory@example.com"/></xcon:deny-users-list></info:users></confInfo>`)
	before := d.focus.Room("cafe").Snapshot().Version
	if v, err := c.UpdateRoom(ctx, "cafe", delta); err != nil || v != before+1 {
		t.Fatalf("deny update: version %d (before %d) %v", v, before, err)
	}
	if code, _ := inviteCode(t, d, "cafe", "mallory"); code != 403 {
		t.Fatalf("denied INVITE: %d, want 403", code)
	}

	// userRequest/delete kicks.
	if err := c.Kick(ctx, "cafe", "xcon-userid:alice@example.com"); err != nil {
		t.Fatal(err)
	}
	expectRemoved(t, alice, "removed")
	if u := d.focus.Room("cafe").Snapshot().User("xcon-userid:alice@example.com"); u != nil {
		t.Fatalf("alice still listed: %+v", u)
	}
	if err := c.Kick(ctx, "cafe", "xcon-userid:alice@example.com"); !errors.As(err, &re) || re.Code != 420 {
		t.Fatalf("kick of a user not there: %v, want 420", err)
	}

	// Close with a successor: notice, BYE, 302, unlisted; the successor cannot be deleted.
	if _, err := c.CreateRoom(ctx, ccmp.RoomSpec{Name: "new"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CloseRoom(ctx, "cafe", "sip:new@example.net"); err != nil {
		t.Fatal(err)
	}
	expectRemoved(t, carol, "sip:new@example.net")
	if code, contact := inviteCode(t, d, "cafe", "dave"); code != 302 || contact != "sip:new@example.net" {
		t.Fatalf("INVITE to the closed room: %d %q", code, contact)
	}
	if _, err := c.Room(ctx, "cafe"); !errors.As(err, &re) || re.Code != 404 || !strings.Contains(re.Reason, "sip:new@example.net") {
		t.Fatalf("retrieve of the closed room: %v, want 404 naming the successor", err)
	}
	rooms, err := c.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		if r.URI == "xcon:cafe@example.net" {
			t.Fatal("closed room still listed")
		}
	}
	if err := c.DeleteRoom(ctx, "new"); !errors.As(err, &re) || re.Code != 425 {
		t.Fatalf("delete of a successor: %v, want 425", err)
	}

	// Delete: notice then BYE, then gone.
	erin := joinRoom(t, d, "new", "erin", "tcp", false)
	if err := c.DeleteRoom(ctx, "cafe"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRoom(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	expectRemoved(t, erin, "deleted")
	if d.focus.Room("new") != nil {
		t.Fatal("room still there after delete")
	}
	if _, err := c.Room(ctx, "new"); !errors.As(err, &re) || re.Code != 404 {
		t.Fatalf("retrieve after delete: %v", err)
	}
	if code, _ := inviteCode(t, d, "new", "frank"); code != 404 {
		t.Fatalf("INVITE to a deleted room: %d", code)
	}
}

func etreeDelta(t *testing.T, s string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// runRoom runs `parley room ARGS…` against the daemon and returns its output.
func runRoom(t *testing.T, d *daemon, args ...string) (string, error) {
	t.Helper()
	cmd := roomCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append(args, "--server", "http://"+d.httpAddr.String(), "--user", "xcon-userid:admin@example.net"))
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// TestRoomCommand: `parley room` against a running daemon, human and --json output, and
// errors that carry the CCMP code and reason.
func TestRoomCommand(t *testing.T) {
	d := startTestDaemon(t, nil)
	steps := []struct {
		args    []string
		want    []string // substrings of the output
		wantErr string
	}{
		{[]string{"create", "talk", "--title", "Small talk", "--blueprint", "chat-multilingual", "--logging"},
			[]string{"created xcon:talk@example.net (version 1)", "channel", "fr", "logging  true", "mode     open"}, ""},
		{[]string{"create", "stage", "--moderated"}, []string{"created xcon:stage@example.net", "mode     moderated ("}, ""},
		{[]string{"show", "stage", "--json"}, []string{`"Moderated": true`}, ""},
		{[]string{"role", "stage", "sip:zed@example.com", "moderator"}, []string{"xcon-userid:zed@example.com is moderator in stage"}, ""},
		{[]string{"role", "stage", "sip:zed@example.com", "boss"}, nil, `role "boss": want one of administrator, moderator, participant, observer`},
		{[]string{"role", "stage", "Nobody", "participant"}, nil, `no user with the nickname "Nobody" in stage`},
		{[]string{"create", "talk"}, nil, "CCMP 409 Conflict"},
		{[]string{"list"}, []string{"xcon:lobby@example.net", "Small talk"}, ""},
		{[]string{"show", "talk", "--json"}, []string{`"uri": "xcon:talk@example.net"`, `"Logging": true`}, ""},
		{[]string{"nick", "talk", "Zed", "sip:zed@example.com"}, []string{`xcon-userid:zed@example.com is "Zed" in talk`}, ""},
		{[]string{"nick", "talk", "zed", "sip:yann@example.com", "--exact"}, nil, "CCMP 409 Conflict"},
		{[]string{"nick", "talk", "zed", "sip:yann@example.com"}, []string{`xcon-userid:yann@example.com is "zed2" in talk`}, ""},
		{[]string{"users", "talk"}, []string{"xcon-userid:zed@example.com", "Zed"}, ""},
		{[]string{"history", "talk", "--from", "1h"}, nil, ""},
		{[]string{"options"}, []string{"confRequest", "extension parley"}, ""},
		{[]string{"kick", "talk", "sip:zed@example.com"}, []string{"removed xcon-userid:zed@example.com"}, ""},
		{[]string{"kick", "talk", "sip:zed@example.com"}, nil, "CCMP 420 User Not Found"},
		{[]string{"close", "talk", "--successor", "sip:lobby@example.net"}, []string{"closed talk"}, ""},
		{[]string{"delete", "lobby"}, nil, "CCMP 425 Forbidden Delete Parent"},
		{[]string{"delete", "talk"}, []string{"deleted talk"}, ""},
		{[]string{"show", "talk"}, nil, "CCMP 404 Object Not Found"},
	}
	for i, s := range steps {
		out, err := runRoom(t, d, s.args...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Fatalf("step %d %v: error %v, want %q", i, s.args, err, s.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d %v: %v\n%s", i, s.args, err, out)
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Fatalf("step %d %v: output lacks %q:\n%s", i, s.args, w, out)
			}
		}
	}
}

// TestCCMPHistory: logging switched on over CCMP (room policy in a confInfo delta), a message
// relayed, then read back through the `parley` extension's history by time range.
func TestCCMPHistory(t *testing.T) {
	d := startTestDaemon(t, nil)
	c := ccmpClient(d)
	ctx := context.Background()
	if _, err := c.CreateRoom(ctx, ccmp.RoomSpec{Name: "log"}); err != nil {
		t.Fatal(err)
	}
	on := etreeDelta(t, `<confInfo xmlns:p="urn:parleychat:params:xml:ns:room-policy"><p:room-policy logging="true" history="5"/></confInfo>`)
	if _, err := c.UpdateRoom(ctx, "log", on); err != nil {
		t.Fatal(err)
	}
	if p, _ := d.focus.Room("log").Snapshot().RoomPolicy(); !p.Logging || p.History != 5 {
		t.Fatalf("policy after update: %+v", p)
	}
	start := time.Now().Add(-time.Second)
	alice := joinRoom(t, d, "log", "alice", "tcp", true)
	bob := joinRoom(t, d, "log", "bob", "tcp", true)
	body := cpimBody("sip:alice@example.com", "sip:log@example.net", "hello history")
	if r := alice.msrp.response(t, alice.msrp.send("message/cpim", body)); r.StatusCode != 200 {
		t.Fatalf("send: %d", r.StatusCode)
	}
	bob.msrp.nextMessage(t)
	if err := d.focus.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := c.History(ctx, "log", ccmp.HistoryQuery{From: start, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !bytes.Equal(got[0].Body, body) || got[0].Sender != "xcon-userid:alice@example.com" {
		t.Fatalf("history: %+v", got)
	}
	if got, err := c.History(ctx, "log", ccmp.HistoryQuery{To: start}); err != nil || len(got) != 0 {
		t.Fatalf("history before the message: %v %+v", err, got)
	}
}

// TestCCMPBlueprintsFromConfig: the blueprints are those of the configuration; both can be
// retrieved and filtered, a confsRequest filter selects rooms, and a blueprint is no room:
// an INVITE to sip:chat@blueprints.DOMAIN gets 404.
func TestCCMPBlueprintsFromConfig(t *testing.T) {
	d := startTestDaemon(t, nil)
	p := newCCMPPeer(t, d)
	list := p.do(&ccmp.Request{Type: ccmp.TypeBlueprints, HasBody: true})
	if list.Code != 200 || len(list.Info.ChildElements()) != len(d.cfg.Blueprints) || len(d.cfg.Blueprints) != 2 {
		t.Fatalf("blueprints: %d %v", list.Code, list.Info)
	}
	for _, b := range d.cfg.Blueprints {
		uri := "xcon:" + b.Name + "@blueprints.example.net"
		r := p.do(&ccmp.Request{Type: ccmp.TypeBlueprint, ConfObjID: uri, Operation: ccmp.OpRetrieve, HasBody: true})
		if r.Code != 200 {
			t.Fatalf("retrieve %s: %d %s", uri, r.Code, r.Reason)
		}
		c, err := xcon.DecodeElement(r.Info)
		if err != nil || c.Description.DisplayText != b.DisplayText || len(c.Description.Media) != len(b.Channels) {
			t.Fatalf("blueprint %s: %v %+v", uri, err, c)
		}
		for i, ch := range b.Channels {
			if m := c.Description.Media[i]; m.Label != ch.Label || m.Language != ch.Language || m.DisplayText != ch.Name || m.Type != "message" {
				t.Fatalf("blueprint %s channel %d: %+v, want %+v", uri, i, m, ch)
			}
		}
	}
	filtered := func(typ, filter string) []string {
		t.Helper()
		r := p.do(&ccmp.Request{Type: typ, HasBody: true, XPathFilter: filter})
		if r.Code != 200 {
			t.Fatalf("%s %q: %d %s", typ, filter, r.Code, r.Reason)
		}
		var uris []string
		if r.Info == nil {
			return nil
		}
		for _, e := range r.Info.ChildElements() {
			uris = append(uris, e.SelectElement("uri").Text())
		}
		return uris
	}
	if got := filtered(ccmp.TypeBlueprints, "/conference-info[count(conference-description/available-media/entry[type='message']) > 1]"); len(got) != 1 ||
		got[0] != "xcon:chat-multilingual@blueprints.example.net" {
		t.Fatalf("multilingual blueprints: %v", got)
	}
	p.createRoom("quiet", `<info:conference-description><info:display-text>Quiet</info:display-text></info:conference-description>`)
	if got := filtered(ccmp.TypeConfs, "//display-text='Quiet'"); len(got) != 1 || got[0] != "xcon:quiet@example.net" {
		t.Fatalf("rooms named Quiet: %v", got)
	}
	if r := p.do(&ccmp.Request{Type: ccmp.TypeConfs, HasBody: true, XPathFilter: "//["}); r.Code != 400 {
		t.Fatalf("bad filter: %d", r.Code)
	}
	if code := rawInvite(t, d, "sip:chat@blueprints.example.net"); code != 404 {
		t.Fatalf("INVITE to a blueprint: %d, want 404", code)
	}
}

// rawInvite sends one INVITE for ruri over UDP to the daemon and returns the final status.
func rawInvite(t *testing.T, d *daemon, ruri string) int {
	t.Helper()
	conn, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(d.sip.Port())))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	msg := "INVITE " + ruri + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + strconv.FormatInt(time.Now().UnixNano(), 36) + ";rport\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:zed@example.com>;tag=z1\r\nTo: <" + ruri + ">\r\n" +
		"Call-ID: " + strconv.FormatInt(time.Now().UnixNano(), 36) + "@test\r\nCSeq: 1 INVITE\r\n" +
		"Contact: <sip:zed@" + local + ">\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no final response to INVITE %s: %v", ruri, err)
		}
		var code int
		if _, err := fmt.Sscanf(string(buf[:n]), "SIP/2.0 %d", &code); err == nil && code >= 200 {
			return code
		}
	}
}

// TestCCMPAuthorization: a CCMP handler with credentials over the real daemon's focus, and
// every operation tried by an anonymous requester, a participant, a moderator and an
// administrator of the room (its creator). Anonymous requests are challenged (HTTP 401,
// Digest SHA-256 and MD5); a confUserID that is not the authenticated user's is CCMP 401,
// one that names nobody 421; wrong subject credentials 424.
func TestCCMPAuthorization(t *testing.T) {
	// adm creates rooms as a listed creator; part and mod may not (room_creators).
	d := startTestDaemon(t, func(c *configs.Config) { c.RoomCreators = []string{"xcon-userid:adm@example.com"} })
	p := newCCMPPeer(t, d)
	h := ccmp.NewHandler(ccmp.HandlerConfig{Domain: d.cfg.Domain, Credentials: &ccmp.Credentials{Users: []ccmp.Credential{
		{Name: "adm", Password: "adm-pw"}, {Name: "mod", Password: "mod-pw"}, {Name: "part", Password: "part-pw"},
		{Name: "root", Password: "root-pw", Admin: true}}}}, d.focus)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	as := func(name string) *ccmp.Client {
		return &ccmp.Client{URL: srv.URL + "/ccmp", UserID: "xcon-userid:" + name + "@example.com", Username: name, Secret: name + "-pw"}
	}
	do := func(c *ccmp.Client, req *ccmp.Request) int {
		t.Helper()
		if req.ConfUserID == "" {
			req.ConfUserID = c.UserID
		}
		resp, raw, err := c.Exchange(ctx, req)
		if err != nil {
			if strings.HasPrefix(err.Error(), "HTTP 401") {
				return -401
			}
			t.Fatalf("%s %s/%s: %v", c.Username, req.Type, req.Operation, err)
		}
		p.validate(raw)
		return resp.Code
	}
	info := func(s string) *etree.Element { return etreeDelta(t, s) }
	const ns = `xmlns:info="urn:ietf:params:xml:ns:conference-info" xmlns:xcon="urn:ietf:params:xml:ns:xcon-conference-info"`
	room := "xcon:t@example.net"
	// The administrator creates the room (and is recorded as its creator) and its people.
	adm := as("adm")
	if code := do(adm, &ccmp.Request{Type: ccmp.TypeConf, Operation: ccmp.OpCreate, HasBody: true,
		Info: info(`<confInfo ` + ns + ` entity="xcon:t@example.net"/>`)}); code != 200 {
		t.Fatalf("create: %d", code)
	}
	c := d.focus.Room("t").Snapshot()
	if u := c.User("xcon-userid:adm@example.com"); u == nil || !slices.Contains(u.Roles, "administrator") || !slices.Contains(u.Roles, "organizer") {
		t.Fatalf("creator not recorded: %+v", c.Users)
	}
	addUser := func(entity, role string) {
		t.Helper()
		if code := do(adm, &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpCreate, HasBody: true,
			Info: info(`<userInfo ` + ns + ` entity="` + entity + `"><info:roles><info:entry>` + role + `</info:entry></info:roles></userInfo>`)}); code != 200 {
			t.Fatalf("add %s: %d", entity, code)
		}
	}
	addUser("xcon-userid:mod@example.com", "moderator")
	addUser("xcon-userid:part@example.com", "participant")
	addUser("xcon-userid:victim@example.com", "participant")
	for _, who := range []string{"part", "mod", "adm"} {
		addUser("xcon-userid:gone-"+who+"@example.com", "participant")
		if code := do(adm, &ccmp.Request{Type: ccmp.TypeConf, Operation: ccmp.OpCreate, HasBody: true,
			Info: info(`<confInfo ` + ns + ` entity="xcon:del-` + who + `@example.net"/>`)}); code != 200 {
			t.Fatalf("create del-%s: %d", who, code)
		}
	}

	type op struct {
		name string
		req  func(who string) *ccmp.Request
	}
	ops := []op{
		{"blueprints", func(string) *ccmp.Request { return &ccmp.Request{Type: ccmp.TypeBlueprints, HasBody: true} }},
		{"confs", func(string) *ccmp.Request { return &ccmp.Request{Type: ccmp.TypeConfs, HasBody: true} }},
		{"conf retrieve", func(string) *ccmp.Request {
			return &ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpRetrieve, HasBody: true}
		}},
		{"conf update", func(who string) *ccmp.Request {
			return &ccmp.Request{Type: ccmp.TypeConf, ConfObjID: room, Operation: ccmp.OpUpdate, HasBody: true,
				Info: info(`<confInfo ` + ns + `><info:conference-description><info:subject>by ` + who + `</info:subject></info:conference-description></confInfo>`)}
		}},
		{"users retrieve", func(string) *ccmp.Request {
			return &ccmp.Request{Type: ccmp.TypeUsers, ConfObjID: room, Operation: ccmp.OpRetrieve, HasBody: true}
		}},
		{"users update", func(string) *ccmp.Request {
			return &ccmp.Request{Type: ccmp.TypeUsers, ConfObjID: room, Operation: ccmp.OpUpdate, HasBody: true,
				Info: info(`<usersInfo ` + ns + `><xcon:join-handling>allow</xcon:join-handling></usersInfo>`)}
		}},
		{"user create self", func(who string) *ccmp.Request {
			return &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpCreate, HasBody: true}
		}},
		{"user create other", func(who string) *ccmp.Request {
			return &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpCreate, HasBody: true,
				Info: info(`<userInfo ` + ns + ` entity="xcon-userid:guest-` + who + `@example.com"/>`)}
		}},
		{"user update self", func(who string) *ccmp.Request {
			return &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpUpdate, HasBody: true,
				Info: info(`<userInfo ` + ns + ` entity="xcon-userid:` + who + `@example.com"><info:display-text>me</info:display-text></userInfo>`)}
		}},
		{"user update own roles", func(who string) *ccmp.Request {
			return &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpUpdate, HasBody: true,
				Info: info(`<userInfo ` + ns + ` entity="xcon-userid:` + who + `@example.com"><info:roles><info:entry>administrator</info:entry></info:roles></userInfo>`)}
		}},
		{"user update other", func(string) *ccmp.Request {
			return &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpUpdate, HasBody: true,
				Info: info(`<userInfo ` + ns + ` entity="xcon-userid:victim@example.com"><info:display-text>v</info:display-text></userInfo>`)}
		}},
		{"user delete other", func(who string) *ccmp.Request {
			return &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpDelete, HasBody: true,
				Info: info(`<userInfo ` + ns + ` entity="xcon-userid:gone-` + who + `@example.com"/>`)}
		}},
		{"sidebar create", func(string) *ccmp.Request {
			return &ccmp.Request{Type: ccmp.TypeSidebarByVal, ConfObjID: room, Operation: ccmp.OpCreate, HasBody: true}
		}},
		{"conf create", func(who string) *ccmp.Request {
			return &ccmp.Request{Type: ccmp.TypeConf, Operation: ccmp.OpCreate, HasBody: true}
		}},
		{"conf delete", func(who string) *ccmp.Request {
			return &ccmp.Request{Type: ccmp.TypeConf, ConfObjID: "xcon:del-" + who + "@example.net", Operation: ccmp.OpDelete, HasBody: true}
		}},
	}
	// A sidebar by value (no room to dial) is refused to those who may ask (403), 401 to others.
	//                                 blueprints confs retr upd  users-r users-u join add  self roles other del  sidebar create delete
	want := map[string][]int{
		"anonymous": {-401, -401, -401, -401, -401, -401, -401, -401, -401, -401, -401, -401, -401, -401, -401},
		"part":      {200, 200, 200, 401, 200, 426, 200, 401, 200, 401, 401, 401, 401, 401, 401},
		"mod":       {200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 200, 200, 403, 401, 401},
		"adm":       {200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 403, 200, 200},
	}
	for _, who := range []string{"anonymous", "part", "mod", "adm"} {
		c := as(who)
		if who == "anonymous" {
			c.Username = ""
		}
		for i, o := range ops {
			if got := do(c, o.req(who)); got != want[who][i] {
				t.Errorf("%s, %s: %d, want %d", who, o.name, got, want[who][i])
			}
		}
	}
	// Identity checks.
	root := as("root")
	if code := do(root, &ccmp.Request{Type: ccmp.TypeConf, ConfObjID: "xcon:del-part@example.net", Operation: ccmp.OpDelete, HasBody: true}); code != 200 {
		t.Errorf("global administrator delete: %d", code)
	}
	other := as("part")
	other.UserID = "xcon-userid:mod@example.com"
	if code := do(other, &ccmp.Request{Type: ccmp.TypeConfs, HasBody: true}); code != 401 {
		t.Errorf("someone else's confUserID: %d, want 401", code)
	}
	other.UserID = "xcon-userid:nobody@example.com"
	if code := do(other, &ccmp.Request{Type: ccmp.TypeConfs, HasBody: true}); code != 421 {
		t.Errorf("unknown confUserID: %d, want 421", code)
	}
	anon := as("part")
	anon.Username = ""
	if code := do(anon, &ccmp.Request{Type: ccmp.TypeConfs, HasBody: true, Subject: &ccmp.Subject{Username: "part", Password: "part-pw"}}); code != 200 {
		t.Errorf("subject credentials: %d", code)
	}
	if code := do(anon, &ccmp.Request{Type: ccmp.TypeConfs, HasBody: true, Subject: &ccmp.Subject{Username: "part", Password: "nope"}}); code != 424 {
		t.Errorf("wrong subject credentials: %d, want 424", code)
	}
	if code := do(anon, &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: room, Operation: ccmp.OpCreate, HasBody: true,
		Subject: &ccmp.Subject{Username: "part", Password: "part-pw"}}); code != 409 {
		t.Errorf("second join: %d, want 409", code)
	}
}

// linphoneRequest is a CCMP request as liblinphone's conference scheduler writes it: its own
// prefixes, in xsi:type too, and a confUserID made from its SIP identity.
func linphoneRequest(op, confObjID, confInfo string) []byte {
	obj := ""
	if confObjID != "" {
		obj = "<confObjID>" + confObjID + "</confObjID>"
	}
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<xcon-ccmp:ccmpRequest xmlns:conference-info="urn:ietf:params:xml:ns:conference-info" xmlns:xcon-ccmp="urn:ietf:params:xml:ns:xcon-ccmp" xmlns:xcon-conference-info="urn:ietf:params:xml:ns:xcon-conference-info">
  <ccmpRequest xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xcon-ccmp:ccmp-conf-request-message-type">
    <confUserID>xcon-userid:marie@example.com</confUserID>` + obj + `
    <operation>` + op + `</operation>
    <xcon-ccmp:confRequest>` + confInfo + `</xcon-ccmp:confRequest>
  </ccmpRequest>
</xcon-ccmp:ccmpRequest>`)
}

func linphoneConfInfo(subject string) string {
	return `<confInfo entity="xcon:AUTO_GENERATE_1@example.net">
      <conference-info:conference-description>
        <conference-info:display-text>Weekly</conference-info:display-text>
        <conference-info:subject>` + subject + `</conference-info:subject>
        <conference-info:available-media>
          <conference-info:entry label="AUTO_GENERATE_2"><conference-info:type>audio</conference-info:type></conference-info:entry>
          <conference-info:entry label="AUTO_GENERATE_3"><conference-info:type>video</conference-info:type></conference-info:entry>
          <conference-info:entry label="AUTO_GENERATE_4"><conference-info:type>text</conference-info:type></conference-info:entry>
        </conference-info:available-media>
        <xcon-conference-info:conference-time><xcon-conference-info:entry>
          <xcon-conference-info:base>BEGIN:VCALENDAR&#xD;&#xA;VERSION:2.0&#xD;&#xA;BEGIN:VEVENT&#xD;&#xA;DTSTART:20261201T100000Z&#xD;&#xA;END:VEVENT&#xD;&#xA;END:VCALENDAR&#xD;&#xA;</xcon-conference-info:base>
        </xcon-conference-info:entry></xcon-conference-info:conference-time>
      </conference-info:conference-description>
      <conference-info:users state="full">
        <xcon-conference-info:allowed-users-list>
          <xcon-conference-info:target uri="sip:pauline@example.com" method="dial-in"/>
          <xcon-conference-info:target uri="sip:laure@example.com;transport=tcp" method="dial-out"/>
        </xcon-conference-info:allowed-users-list>
      </conference-info:users>
    </confInfo>`
}

// TestCCMPLinphoneSequence replays liblinphone's conference scheduler against the daemon:
// create, confs, retrieve, update (the whole confInfo again, with a participant in the room),
// retrieve, delete, POSTed without Accept and with a From header, and checks every answer
// against what liblinphone needs.
func TestCCMPLinphoneSequence(t *testing.T) {
	d := startTestDaemon(t, nil)
	p := newCCMPPeer(t, d)
	post := func(body []byte) (*ccmp.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", p.url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/ccmp+xml")
		req.Header.Set("From", "sip:marie@example.com")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var raw bytes.Buffer
		raw.ReadFrom(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("HTTP %d: %s", res.StatusCode, raw.Bytes())
		}
		p.validate(raw.Bytes())
		r, err := ccmp.DecodeResponse(bytes.NewReader(raw.Bytes()))
		if err != nil || r.Code != 200 {
			t.Fatalf("%v %+v\n%s", err, r, raw.Bytes())
		}
		return r, raw.String()
	}
	const marie = "xcon-userid:marie@example.com"
	check := func(step string, r *ccmp.Response, raw string, subject string) *xcon.Conference {
		t.Helper()
		if r.ConfObjID == "" || r.Info == nil {
			t.Fatalf("%s: confObjID %q, confInfo %v", step, r.ConfObjID, r.Info)
		}
		c, err := xcon.DecodeElement(r.Info)
		if err != nil {
			t.Fatal(err)
		}
		if c.Description.Subject != subject || len(c.Description.ConfURIs) != 1 || !strings.HasPrefix(c.Description.ConfURIs[0].URI, "sip:") {
			t.Fatalf("%s: subject %q conf-uris %+v", step, c.Description.Subject, c.Description.ConfURIs)
		}
		if len(c.Description.Media) != 3 {
			t.Fatalf("%s: media %+v", step, c.Description.Media)
		}
		for _, m := range c.Description.Media {
			if m.Status == "" || strings.Contains(m.Label, "AUTO") || (m.Type == "text" && m.Status != "sendrecv") {
				t.Fatalf("%s: media entry %+v", step, m)
			}
		}
		for _, u := range c.Users {
			if u.Entity == "" || !slices.ContainsFunc(u.AssociatedAORs, func(a string) bool { return strings.HasPrefix(a, "sip:") }) {
				t.Fatalf("%s: user without a SIP aor: %+v", step, u)
			}
		}
		if u := c.User(marie); u == nil || u.Entity != marie || !slices.Contains(u.Roles, "organizer") {
			t.Fatalf("%s: requester %+v", step, u)
		}
		for _, who := range []string{"pauline", "laure"} {
			id := "xcon-userid:" + who + "@example.com"
			if u := c.User(id); u == nil || !slices.Contains(u.AssociatedAORs, "sip:"+who+"@example.com") {
				t.Fatalf("%s: %s not a user: %+v", step, id, u)
			}
			if !slices.ContainsFunc(c.AllowedUsers, func(tg xcon.Target) bool { return tg.URI == id }) {
				t.Fatalf("%s: allowed list %+v", step, c.AllowedUsers)
			}
		}
		if len(c.AllowedUsers) != 2 {
			t.Fatalf("%s: allowed list %+v", step, c.AllowedUsers)
		}
		for _, s := range []string{"<xcon:conference-time>", "<xcon:allowed-users-list>", "VERSION:2.0&#xD;\nBEGIN:VEVENT"} {
			if !strings.Contains(raw, s) {
				t.Fatalf("%s: answer lacks %q:\n%s", step, s, raw)
			}
		}
		return c
	}

	r, raw := post(linphoneRequest("create", "", linphoneConfInfo("Planning")))
	if r.Version != 1 {
		t.Fatalf("create version %d", r.Version)
	}
	created := check("create", r, raw, "Planning")
	uri := r.ConfObjID
	name := xcon.NameFromURI(uri)

	confsReq := strings.NewReplacer("conf-request", "confs-request", "<operation></operation>", "", "confRequest>", "confsRequest>").
		Replace(string(linphoneRequest("", "", "")))
	list, _ := post([]byte(confsReq))
	found := false
	for _, e := range list.Info.ChildElements() {
		u := e.SelectElement("uri").Text()
		if !strings.HasPrefix(u, "xcon:") {
			t.Fatalf("confs entry %q", u)
		}
		found = found || u == uri
	}
	if !found {
		t.Fatalf("%s not listed", uri)
	}

	r, raw = post(linphoneRequest("retrieve", uri, ""))
	check("retrieve", r, raw, "Planning")

	// Pauline is in the room when the update comes; the allowed list alone must not remove her.
	joinRoom(t, d, name, "pauline", "tcp", false)
	r, raw = post(linphoneRequest("update", uri, linphoneConfInfo("Planning v2")))
	if r.Version <= created.Version {
		t.Fatalf("update version %d", r.Version)
	}
	check("update", r, raw, "Planning v2")
	r, raw = post(linphoneRequest("retrieve", uri, ""))
	c := check("retrieve after update", r, raw, "Planning v2")
	for i, m := range c.Description.Media {
		if m.Label != created.Description.Media[i].Label {
			t.Fatalf("labels changed by the update: %+v, were %+v", c.Description.Media, created.Description.Media)
		}
	}
	if u := c.User("xcon-userid:pauline@example.com"); u == nil || len(u.Endpoints) == 0 {
		t.Fatalf("live pauline after update: %+v", u)
	}

	r, _ = post(linphoneRequest("delete", uri, linphoneConfInfo("Planning v2")))
	if r.ConfObjID != uri || r.Info != nil {
		t.Fatalf("delete: %q %v", r.ConfObjID, r.Info)
	}
	if d.focus.Room(name) != nil {
		t.Fatal("room still there")
	}
}
