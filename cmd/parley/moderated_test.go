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
	"github.com/parleychat/parley/xcon/confinfo"
)

// moderatedConfig is a daemon with a moderated room "stage" declared in the configuration and
// CCMP users admin (a server administrator), mod, vis and guest, each acting as xcon-userid:NAME@….
func moderatedConfig(t *testing.T) *configs.Config {
	cfg := testConfig(t)
	cfg.Rooms = append(cfg.Rooms, configs.Room{Name: "stage", Moderated: true})
	for _, u := range []string{"admin", "mod", "vis", "guest"} {
		cfg.CCMP.Auth.Users = append(cfg.CCMP.Auth.Users, configs.CCMPUser{Name: u, Password: u + "-pw", Admin: u == "admin"})
	}
	return cfg
}

// ccmpAs is a CCMP client authenticated as the CCMP user name of moderatedConfig, acting as
// xcon-userid:NAME@example.com (the SIP peers' identity).
func ccmpAs(d *daemon, name string) *ccmp.Client {
	return &ccmp.Client{URL: "http://" + d.httpAddr.String() + "/ccmp", UserID: "xcon-userid:" + name + "@example.com",
		Username: name, Secret: name + "-pw"}
}

// runRoomAs runs `parley room ARGS…` as the CCMP user name of moderatedConfig.
func runRoomAs(t *testing.T, d *daemon, name string, args ...string) (string, error) {
	t.Helper()
	t.Setenv("PARLEY_CCMP_SECRET", name+"-pw")
	cmd := roomCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append(args, "--server", "http://"+d.httpAddr.String(), "--user", "xcon-userid:"+name+"@example.com", "--login", name))
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// say sends text from p to the stage and returns the answer's code and comment.
func say(t *testing.T, p *participant, to, text string) (int, string) {
	t.Helper()
	r := p.msrp.response(t, p.msrp.send("message/cpim", cpimBody("sip:"+p.name+"@example.com", to, text)))
	return r.StatusCode, r.Comment
}

// heard checks that the next message p receives carries text (and so that nothing sent
// before it, refused, reached p).
func heard(t *testing.T, p *participant, text string) {
	t.Helper()
	if m := p.msrp.nextMessage(t); !bytes.HasSuffix(m.Body, []byte(text)) {
		t.Fatalf("%s received %q, want the message %q", p.name, m.Body, text)
	}
}

const (
	stageURI = "sip:stage@example.net"
	visID    = "xcon-userid:vis@example.com"
)

// TestModeratedRoom: in a moderated room (declared in the configuration) a joiner without a
// role is a visitor, shown as an observer in the conference event package: his room and
// private SENDs get 403 and reach nobody, his NICKNAME is taken. A moderator gives him voice
// with `parley room role` (by nickname), which applies at once to his session and reaches
// watchers; he cannot voice himself, nor can the moderator make anyone a moderator. Voice
// taken again (by SIP address) refuses his next SEND. The role and the room's moderation
// survive a restart; a new joiner after it is a visitor again. Joining over CCMP by oneself
// makes a visitor as well, and the room's conference-state says it is moderated.
func TestModeratedRoom(t *testing.T) {
	cfg := moderatedConfig(t)
	d := startConfigured(t, cfg)
	ctx := context.Background()
	provision(t, ccmpAs(d, "admin"), "stage", "xcon-userid:mod@example.com", "Mod", "moderator")
	if out, err := runRoomAs(t, d, "admin", "show", "stage"); err != nil || !strings.Contains(out, "mode     moderated (") {
		t.Fatalf("parley room show: %v\n%s", err, out)
	}

	watcher := newSubscriber(t, "watcher", "tcp")
	if res := watcher.subscribe(t, d, "stage", 600); res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %d", res.StatusCode)
	}
	mod := joinRoom(t, d, "stage", "mod", "tcp", false)
	vis := joinRoom(t, d, "stage", "vis", "tcp", false)
	roleIs := func(want string) func(*xcon.Conference) bool {
		return func(c *xcon.Conference) bool {
			u := watcher.rosterUser("sip:vis@example.com")
			return u != nil && slices.Equal(u.Roles, []string{want})
		}
	}
	watcher.waitRoster(t, "vis as an observer", roleIs("observer"))
	if !confinfo.Moderated(watcher.roster) {
		t.Fatal("the conference-state of a moderated room does not say so")
	}
	// Joining over CCMP by himself makes a visitor too.
	if resp, err := ccmpAs(d, "guest").Do(ctx, &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: ccmp.RoomURI("stage"),
		Operation: ccmp.OpCreate, HasBody: true}); err != nil {
		t.Fatalf("CCMP join: %v", err)
	} else if u, err := xcon.DecodeUserElement(resp.Info); err != nil || !slices.Equal(u.Roles, []string{"observer"}) {
		t.Fatalf("CCMP join of a moderated room: %+v %v, want the role observer", u, err)
	}

	if code, why := say(t, vis, stageURI, "may I speak?"); code != 403 || !strings.Contains(why, "Visitors need voice") {
		t.Fatalf("visitor's SEND: %d %q, want 403 Visitors need voice…", code, why)
	}
	if code, _ := say(t, vis, "sip:mod@example.com", "psst"); code != 403 {
		t.Fatalf("visitor's private SEND: %d, want 403", code)
	}
	nickname(t, vis, "Vee")
	if code, _ := say(t, mod, stageURI, "welcome"); code != 200 {
		t.Fatalf("moderator's SEND: %d", code)
	}
	heard(t, vis, "welcome")

	if _, err := runRoomAs(t, d, "vis", "role", "stage", "Vee", "participant"); err == nil || !strings.Contains(err.Error(), "CCMP 401") {
		t.Fatalf("visitor voicing himself: %v, want CCMP 401", err)
	}
	if _, err := runRoomAs(t, d, "mod", "role", "stage", "Vee", "moderator"); err == nil || !strings.Contains(err.Error(), "CCMP 401") {
		t.Fatalf("moderator making a moderator: %v, want CCMP 401", err)
	}
	// Nor through the room's users or the room itself: the same rule judges every request.
	for _, req := range []*ccmp.Request{
		{Type: ccmp.TypeUsers, Info: etreeDelta(t, `<usersInfo xmlns:info="urn:ietf:params:xml:ns:conference-info">`+
			`<info:user entity="`+visID+`"><info:roles><info:entry>moderator</info:entry></info:roles></info:user></usersInfo>`)},
		{Type: ccmp.TypeConf, Info: etreeDelta(t, `<confInfo xmlns:info="urn:ietf:params:xml:ns:conference-info"><info:users>`+
			`<info:user entity="`+visID+`"><info:roles><info:entry>administrator</info:entry></info:roles></info:user></info:users></confInfo>`)},
	} {
		req.ConfObjID, req.Operation, req.HasBody = ccmp.RoomURI("stage"), ccmp.OpUpdate, true
		if _, err := ccmpAs(d, "mod").Do(ctx, req); err == nil || !strings.Contains(err.Error(), "CCMP 401") {
			t.Fatalf("moderator giving a higher role through %s: %v, want CCMP 401", req.Type, err)
		}
	}
	if u := d.focus.Room("stage").Snapshot().User(visID); !slices.Equal(u.Roles, []string{"observer"}) {
		t.Fatalf("visitor after refused role changes: %v", u.Roles)
	}
	if code, _ := say(t, vis, stageURI, "still silent"); code != 403 {
		t.Fatalf("visitor after refused role changes: %d, want 403", code)
	}
	out, err := runRoomAs(t, d, "mod", "role", "stage", "Vee", "participant")
	if err != nil || !strings.Contains(out, visID+" is participant in stage") {
		t.Fatalf("moderator giving voice: %v\n%s", err, out)
	}
	watcher.waitRoster(t, "vis as a participant", roleIs("participant"))
	if code, _ := say(t, vis, stageURI, "thank you"); code != 200 {
		t.Fatalf("voiced visitor's SEND: %d, want 200", code)
	}
	heard(t, mod, "thank you") // and not one of the refused messages before it

	if out, err := runRoomAs(t, d, "mod", "role", "stage", "sip:vis@example.com", "observer", "--json"); err != nil ||
		!strings.Contains(out, `"observer"`) {
		t.Fatalf("moderator taking voice: %v\n%s", err, out)
	}
	watcher.waitRoster(t, "vis as an observer again", roleIs("observer"))
	if code, why := say(t, vis, stageURI, "again?"); code != 403 || !strings.Contains(why, "Visitors need voice") {
		t.Fatalf("SEND after voice was taken: %d %q, want 403", code, why)
	}
	if _, err := ccmpAs(d, "mod").SetRole(ctx, "stage", visID, "participant"); err != nil {
		t.Fatalf("moderator giving voice over CCMP: %v", err)
	}

	// A restart on the same data directory: the voice and the moderation are still there.
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}
	d2 := startConfigured(t, cfg)
	defer d2.shutdown()
	stored := d2.focus.Room("stage").Snapshot()
	if p, _ := stored.RoomPolicy(); !p.Moderated {
		t.Fatal("the room is not moderated after a restart")
	}
	wantUser(t, "after restart", stored, visID, "Vee", "participant")
	mod = joinRoom(t, d2, "stage", "mod", "tcp", false)
	vis = joinRoom(t, d2, "stage", "vis", "tcp", false)
	late := joinRoom(t, d2, "stage", "late", "tcp", false)
	if code, _ := say(t, late, stageURI, "me too"); code != 403 {
		t.Fatalf("new joiner after a restart: %d, want 403", code)
	}
	if code, _ := say(t, vis, stageURI, "back again"); code != 200 {
		t.Fatalf("voiced user after a restart: %d, want 200", code)
	}
	heard(t, mod, "back again")
	if u := d2.focus.Room("stage").Snapshot().User("xcon-userid:late@example.com"); u == nil || !slices.Equal(u.Roles, []string{"observer"}) {
		t.Fatalf("new joiner after a restart: %+v, want the role observer", u)
	}
}
