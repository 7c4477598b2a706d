package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/internal/natstest"
	"github.com/parleychat/parley/internal/peers"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/sqlstore/pgtest"
)

// startNodes starts n daemons sharing one PostgreSQL database and one NATS server (JetStream),
// named a, b, c, ….
func startNodes(t *testing.T, n int) []*daemon {
	t.Helper()
	return startNodesOn(t, pgtest.DSN(t), natstest.URL(t), n, nil)
}

// startNodesOn starts n daemons on the database dsn and the NATS server url, each
// configuration passed through edit (nil: none) before it is resolved.
func startNodesOn(t *testing.T, dsn, url string, n int, edit func(*configs.Config)) []*daemon {
	t.Helper()
	nodes := make([]*daemon, n)
	for i := range nodes {
		cfg := testConfig(t)
		cfg.Store = configs.Store{Driver: configs.StorePostgres, DSN: dsn}
		cfg.Cluster.NodeID, cfg.Cluster.NATSURL = string(rune('a'+i)), url
		if edit != nil {
			edit(cfg)
		}
		if err := cfg.Resolve(); err != nil {
			t.Fatal(err)
		}
		d := startConfigured(t, cfg)
		t.Cleanup(func() {
			if err := d.shutdown(); err != nil {
				t.Errorf("node %s: shutdown: %v", d.node, err)
			}
		})
		nodes[i] = d
	}
	return nodes
}

// exchangeInOneOrder has every member pipeline each messages to the lobby while the others do,
// and checks that every SEND is answered 200, that each member gets every other member's
// messages, each sender's in the order sent, and that all members see them in one order
// (each sequence is the same total order less the member's own).
func exchangeInOneOrder(t *testing.T, members []*participant, each int) {
	t.Helper()
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.name
	}
	tids := make([][]string, len(members))
	for k := range each {
		for i, m := range members {
			text := fmt.Sprintf("%s %d", m.name, k)
			tids[i] = append(tids[i], m.msrp.send("message/cpim", cpimBody("sip:"+m.name+"@example.com", "sip:lobby@example.net", text)))
		}
	}
	for i, m := range members {
		for _, tid := range tids[i] {
			if r := m.msrp.response(t, tid); r.StatusCode != 200 {
				t.Fatalf("%s: SEND answered %d %s", m.name, r.StatusCode, r.Comment)
			}
		}
	}
	seen := make([][]string, len(members))
	for i, m := range members {
		for range (len(members) - 1) * each {
			body := string(m.msrp.nextMessage(t).Body)
			text := body[strings.LastIndex(body, "\r\n\r\n")+4:]
			if strings.HasPrefix(text, m.name+" ") {
				t.Fatalf("%s was sent its own message %q", m.name, text)
			}
			seen[i] = append(seen[i], text)
		}
	}
	// One order: what two members both received, they received in the same order.
	for i := range members {
		for j := i + 1; j < len(members); j++ {
			notFrom := func(name string, texts []string) []string {
				return slices.DeleteFunc(slices.Clone(texts), func(s string) bool { return strings.HasPrefix(s, name+" ") })
			}
			a, b := notFrom(names[j], seen[i]), notFrom(names[i], seen[j])
			if !slices.Equal(a, b) {
				t.Fatalf("%s and %s saw the others' messages in different orders:\n%q\n%q", names[i], names[j], a, b)
			}
		}
	}
	// Each member's own messages reach the others in the order sent.
	for _, texts := range seen {
		next := map[string]int{}
		for _, s := range texts {
			name, k, _ := strings.Cut(s, " ")
			if want := fmt.Sprint(next[name]); k != want {
				t.Fatalf("%q arrived where %s %s was due", s, name, want)
			}
			next[name]++
		}
	}
}

// TestNodesShareARoomInOneOrder: three nodes on one PostgreSQL and one NATS, a member of the
// logged lobby on each. Each member pipelines messages while the others do: every member gets
// every other member's messages, all three see them in one order (each sequence is the same
// total order less the member's own), every SEND is answered 200, and the log holds each
// message once.
func TestNodesShareARoomInOneOrder(t *testing.T) {
	nodes := startNodes(t, 3)
	members := make([]*participant, len(nodes))
	for i, d := range nodes {
		members[i] = joinRoom(t, d, "lobby", []string{"alice", "bob", "carol"}[i], "tcp", true)
	}
	const each = 40
	exchangeInOneOrder(t, members, each)
	logged, err := nodes[2].store.History(context.Background(), "lobby", "", 10*each)
	if err != nil {
		t.Fatal(err)
	}
	if len(logged) != len(members)*each {
		t.Fatalf("the log holds %d messages, want %d", len(logged), len(members)*each)
	}
}

// TestNodeKilledLeavesTheRoomToTheOthers: nodes a and b in this process, node c a `parley
// serve` of its own, a member of the logged lobby on each. c is killed with SIGKILL: the members
// on a and b go on talking, every message acknowledged before and after is in the log, and the
// survivors purge c's binding once it has been silent for cluster.dead_after. The kill falls in
// the middle of a pipelined burst from c's member, while a's member pipelines one as well.
func TestNodeKilledLeavesTheRoomToTheOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	ctx := context.Background()
	dsn, url := pgtest.DSN(t), natstest.URL(t)
	bin := buildBinary(t)
	const deadAfter = 3 * time.Second
	nodes := startNodesOn(t, dsn, url, 2, func(c *configs.Config) { c.Cluster.DeadAfter = deadAfter })
	cfgFile := filepath.Join(t.TempDir(), "parley.yaml")
	if err := os.WriteFile(cfgFile, []byte("store:\n  driver: postgres\ncluster:\n  dead_after: 3s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startBinaryWith(t, bin, filepath.Join(t.TempDir(), "data"),
		[]string{configs.EnvStoreDSN + "=" + dsn, configs.EnvNATSURL + "=" + url}, "--config", cfgFile, "--node-id", "c")

	alice := joinRoom(t, nodes[0], "lobby", "alice", "tcp", true)
	bob := joinRoom(t, nodes[1], "lobby", "bob", "tcp", true)
	carolSIP, carol := newSIPPeer(t, "carol", "example.com"), newMSRPPeer(t)
	if _, res, err := carolSIP.inviteAt(t, c.sipPort(t), "lobby", "tcp", carol.offer(t, "main")); err != nil || res.StatusCode != 200 {
		t.Fatalf("carol's INVITE to node c: %v %v", res, err)
	} else {
		carol.connect(t, res.Body(), 0)
	}
	say := func(name string, m *msrpPeer, text string) {
		t.Helper()
		if r := m.response(t, m.send("message/cpim", cpimBody("sip:"+name+"@example.com", "sip:lobby@example.net", text))); r.StatusCode != 200 {
			t.Fatalf("%s: %q answered %d %s", name, text, r.StatusCode, r.Comment)
		}
	}
	say("carol", carol, "carol on c")
	waitText(t, alice.msrp, "carol on c")
	waitText(t, bob.msrp, "carol on c")
	say("alice", alice.msrp, "alice before")
	waitText(t, carol, "alice before")
	waitText(t, bob.msrp, "alice before")
	nodesBound := func() map[string]int {
		bs, err := nodes[0].store.Bindings(ctx, "lobby")
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, b := range bs {
			n[b.Node]++
		}
		return n
	}
	// Each node writes its bindings in batches, shortly after the joins.
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		n := nodesBound()
		if n["a"] == 1 && n["b"] == 1 && n["c"] == 1 {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("bindings by node before the kill: %v", n)
		}
	}

	// c dies in the middle of a burst from carol, while alice on a pipelines one too.
	// carol's burst is long enough that the kill lands well inside it: her 200s come in
	// batches, one per commit.
	const carolSends, aliceSends = 4000, 400
	var mu sync.Mutex
	acked := map[string]bool{}
	carolAcked, aliceAcked, quarter := 0, 0, make(chan struct{})
	var quarterOnce sync.Once
	record := func(count *int) func(string) {
		return func(body string) {
			mu.Lock()
			defer mu.Unlock()
			acked[body] = true
			if *count++; carolAcked >= carolSends/4 {
				quarterOnce.Do(func() { close(quarter) })
			}
		}
	}
	carolDone := burst(carol, "carol", carolSends, record(&carolAcked))
	aliceDone := burst(alice.msrp, "alice", aliceSends, record(&aliceAcked))
	select {
	case <-quarter:
	case <-time.After(30 * time.Second):
		t.Fatal("carol's burst: a quarter never acknowledged")
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
	killed := time.Now()
	for name, done := range map[string]<-chan struct{}{"carol": carolDone, "alice": aliceDone} {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s's burst never ended", name)
		}
	}
	mu.Lock()
	t.Logf("carol on c: %d of %d acknowledged before c died; alice on a: %d of %d", carolAcked, carolSends, aliceAcked, aliceSends)
	if aliceAcked != aliceSends {
		t.Fatalf("alice on a: %d of her %d messages acknowledged across c's death", aliceAcked, aliceSends)
	}
	mu.Unlock()
	// bob has the bursts before what follows; carol's and alice's are interleaved.
	say("alice", alice.msrp, "alice after")
	waitTextAmong(t, bob.msrp, "alice after", carolSends+aliceSends+1)
	say("bob", bob.msrp, "bob after")
	waitTextAmong(t, alice.msrp, "bob after", carolSends+aliceSends+1)
	for nodesBound()["c"] != 0 {
		if time.Since(killed) > 5*deadAfter {
			t.Fatalf("node c's binding still there %v after the kill: %v", time.Since(killed), nodesBound())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if since := time.Since(killed); since < deadAfter-time.Second {
		t.Fatalf("node c's binding purged %v after the kill, before dead_after (%v)", since, deadAfter)
	}
	logged, err := nodes[1].store.History(ctx, "lobby", "", 2*(carolSends+aliceSends))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, e := range logged {
		delete(acked, string(e.Body))
		if text := string(e.Body[bytes.LastIndex(e.Body, []byte("\r\n\r\n"))+4:]); !strings.Contains(text, " burst ") {
			texts = append(texts, text)
		}
	}
	if len(acked) != 0 {
		t.Fatalf("%d acknowledged messages are not in the log, carol's %d of %d among those acknowledged", len(acked), carolAcked, carolSends)
	}
	if want := []string{"carol on c", "alice before", "alice after", "bob after"}; !slices.Equal(texts, want) {
		t.Fatalf("the log holds %q, want %q", texts, want)
	}
}

// TestNodesBehindKamailioDispatcher: three nodes behind Kamailio's dispatcher
// (configs/kamailio/cluster.cfg, round robin). Three members dial the lobby through the proxy
// and land one on each node; they pipeline messages at once and all see them in one order; a BYE
// through the proxy follows the Record-Route to the node that holds the call.
func TestNodesBehindKamailioDispatcher(t *testing.T) {
	nodes := startNodes(t, 3)
	var entries strings.Builder
	for _, d := range nodes {
		fmt.Fprintf(&entries, "1 sip:127.0.0.1:%d;transport=tcp\n", d.sip.Port())
	}
	list := filepath.Join(t.TempDir(), "dispatcher.list")
	if err := os.WriteFile(list, []byte(entries.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	hp := fmt.Sprintf("127.0.0.1:%d", port)
	startKamailio(t, "cluster.cfg", "dispatcher.so", hp, []string{"udp:" + hp, "tcp:" + hp},
		`DS_LIST="`+list+`"`, `ROOMS_DOMAIN="example.net"`, "PING_INTERVAL=1")
	names := []string{"alice", "bob", "carol"}
	members := make([]*participant, len(names))
	for i, name := range names {
		_, members[i] = joinViaProxy(t, port, name, "example.net", "tcp")
	}
	for _, d := range nodes {
		if n := d.focus.Present(); n != 1 {
			t.Fatalf("node %s holds %d members, want 1 each (round robin)", d.node, n)
		}
	}
	exchangeInOneOrder(t, members, 20)
	if err := members[0].dlg.Bye(context.Background()); err != nil {
		t.Fatalf("alice's BYE through the proxy: %v", err)
	}
	eventually(t, "alice's node lets her go", func() bool {
		total := 0
		for _, d := range nodes {
			total += d.focus.Present()
		}
		return total == 2
	})
}

// TestKickOnOneNodeEndsACallOnAnother: a CCMP userRequest/delete to node a for a member whose
// call is on node c is answered 200; c tells the member and ends the call; a kick of somebody
// in no node's room is still 404.
func TestKickOnOneNodeEndsACallOnAnother(t *testing.T) {
	nodes := startNodes(t, 3)
	joinRoom(t, nodes[0], "lobby", "alice", "tcp", true)
	bob := joinRoom(t, nodes[2], "lobby", "bob", "tcp", true)
	eventually(t, "bob's binding in the store", func() bool {
		return nodes[0].focus.BoundElsewhere(context.Background(), "lobby", "xcon-userid:bob@example.com")
	})
	ctx := context.Background()
	if err := ccmpClient(nodes[0]).Kick(ctx, "lobby", "xcon-userid:bob@example.com"); err != nil {
		t.Fatalf("kick of bob (on node c) through node a: %v", err)
	}
	waitText(t, bob.msrp, "removed from the room by a moderator")
	eventually(t, "node c lets bob go", func() bool { return nodes[2].focus.Present() == 0 })
	if n := nodes[0].focus.Present(); n != 1 {
		t.Fatalf("node a holds %d members, want alice alone", n)
	}
	// Gone from every node now: a second kick finds nobody (RFC 6503 420 userNotFound).
	var re *ccmp.ResponseError
	eventually(t, "bob's binding purged by node c", func() bool {
		return !nodes[0].focus.BoundElsewhere(ctx, "lobby", "xcon-userid:bob@example.com")
	})
	if err := ccmpClient(nodes[0]).Kick(ctx, "lobby", "xcon-userid:bob@example.com"); !errors.As(err, &re) || re.Code != 420 {
		t.Fatalf("second kick of bob: %v, want 420", err)
	}
}

// TestBenchAcrossNodes: `parley bench --sip A,B` joins its members through each node in turn;
// every message reaches every other member, whichever node it is on, and nothing is lost.
func TestBenchAcrossNodes(t *testing.T) {
	nodes := startNodes(t, 2)
	var out, errs bytes.Buffer
	o := benchOptions{sip: nodes[0].sipAddr() + "," + nodes[1].sipAddr(), room: "lobby", members: 4, senders: 1,
		duration: 500 * time.Millisecond, window: 8, size: 256, json: true, joins: 4}
	if err := runBench(context.Background(), &out, &errs, o); err != nil {
		t.Fatalf("bench: %v\n%s", err, errs.String())
	}
	var results []benchResult
	if err := json.Unmarshal(out.Bytes(), &results); err != nil || len(results) != 1 {
		t.Fatalf("results %q: %v", out.String(), err)
	}
	r := results[0]
	if r.Members != 4 || r.AckedPerSec <= 0 || r.Errors != 0 || r.Lost != 0 || r.DelivPerSec < 2.9*r.AckedPerSec {
		t.Fatalf("across two nodes: %+v", r)
	}
	for _, d := range nodes {
		if n := sipMetric(t, d, "parley_sip_requests_total", `method="INVITE"`); n != 2 {
			t.Fatalf("node %s got %v INVITEs, want 2 of the 4", d.node, n)
		}
	}
}

// TestNicknamesUniqueAcrossNodes: a nickname held by a member on node a is refused with 425 to
// another user on node b (compared by RFC 8266 rules), and free for him once its holder has left
// and the quarantine is over.
func TestNicknamesUniqueAcrossNodes(t *testing.T) {
	nodes := startNodesOn(t, pgtest.DSN(t), natstest.URL(t), 2, func(c *configs.Config) { c.Nicknames.Quarantine = 0 })
	alice := joinRoom(t, nodes[0], "lobby", "alice", "tcp", true)
	bob := joinRoom(t, nodes[1], "lobby", "bob", "tcp", true)
	nick := func(p *participant, name string, want int) {
		t.Helper()
		if r := p.msrp.response(t, p.msrp.write(nicknameRequest(name))); r.StatusCode != want {
			t.Fatalf("%s NICKNAME %q: %d %s, want %d", p.name, name, r.StatusCode, r.Comment, want)
		}
	}
	nick(alice, "Ace", 200)
	nick(bob, "ace", 425)
	nick(bob, "Bee", 200)
	nick(alice, "bee", 425)
	if err := alice.dlg.Bye(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node a lets alice go", func() bool { return nodes[0].focus.Present() == 0 })
	nick(bob, "ace", 200)
}

// TestPrivateMessageToAnotherNode: a private message (CPIM To: one member, RFC 7701 §6.2) to a
// member whose call is on another node reaches that member only; one to nobody in the room is
// still 404.
func TestPrivateMessageToAnotherNode(t *testing.T) {
	nodes := startNodes(t, 2)
	alice := joinRoom(t, nodes[0], "lobby", "alice", "tcp", true)
	bob := joinRoom(t, nodes[1], "lobby", "bob", "tcp", true)
	carol := joinRoom(t, nodes[1], "lobby", "carol", "tcp", true)
	eventually(t, "bob's binding in the store", func() bool {
		return nodes[0].focus.BoundElsewhere(context.Background(), "lobby", "xcon-userid:bob@example.com")
	})
	send := func(to, text string, want int) {
		t.Helper()
		if r := alice.msrp.response(t, alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", to, text))); r.StatusCode != want {
			t.Fatalf("alice to %s: %d %s, want %d", to, r.StatusCode, r.Comment, want)
		}
	}
	send("sip:bob@example.com", "for bob only", 200)
	waitText(t, bob.msrp, "for bob only")
	send("sip:dave@example.com", "for nobody", 404)
	send("sip:lobby@example.net", "for everyone", 200)
	for {
		body := carol.msrp.nextMessage(t).Body
		if bytes.Contains(body, []byte("for bob only")) {
			t.Fatal("carol got bob's private message")
		}
		if bytes.Contains(body, []byte("for everyone")) {
			break
		}
	}
	waitText(t, bob.msrp, "for everyone")
}

// TestRelayOutage: with the NATS server gone, a SEND is answered 500 within the relay's wait
// for JetStream, nobody is disconnected, and once the server is back the members talk again.
func TestRelayOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the relay's timeout")
	}
	bus := natstest.Start(t)
	nodes := startNodesOn(t, pgtest.DSN(t), bus.ClientURL(), 2, nil)
	alice := joinRoom(t, nodes[0], "lobby", "alice", "tcp", true)
	bob := joinRoom(t, nodes[1], "lobby", "bob", "tcp", true)
	say := func(text string) *msrp.Message {
		t.Helper()
		return alice.msrp.response(t, alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", text)))
	}
	if r := say("before"); r.StatusCode != 200 {
		t.Fatalf("before the outage: %d %s", r.StatusCode, r.Comment)
	}
	waitText(t, bob.msrp, "before")
	bus.Stop()
	start := time.Now()
	if r := say("during"); r.StatusCode != 500 || !strings.Contains(r.Comment, "not relayed") {
		t.Fatalf("during the outage: %d %s, want 500 Message not relayed", r.StatusCode, r.Comment)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the 500 took %v", took)
	}
	if a, b := nodes[0].focus.Present(), nodes[1].focus.Present(); a != 1 || b != 1 {
		t.Fatalf("members present during the outage: %d and %d, want 1 and 1", a, b)
	}
	bus.Restart(t)
	eventually(t, "a message relayed again after the outage", func() bool { return say("after").StatusCode == 200 })
	for {
		body := bob.msrp.nextMessage(t).Body
		if bytes.Contains(body, []byte("during")) {
			t.Fatal("bob got the message whose sender was answered 500")
		}
		if bytes.Contains(body, []byte("after")) {
			break
		}
	}
	// The lobby is logged: what the room never got is not in its log either.
	logged, err := nodes[0].store.History(context.Background(), "lobby", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range logged {
		if bytes.Contains(e.Body, []byte("during")) {
			t.Fatal("the log holds the message whose sender was answered 500")
		}
	}
}

// TestRosterAcrossNodes: a watcher subscribed to the lobby's conference events on node a sees
// a member who joins on node b arrive, with his nickname, and leave; the NOTIFYs stay valid
// against the RFC 4575 schema.
func TestRosterAcrossNodes(t *testing.T) {
	xmllint := peers.Xmllint(t)
	nodes := startNodes(t, 2)
	joinRoom(t, nodes[0], "lobby", "alice", "tcp", true)
	w := newSubscriber(t, "watcher", "tcp")
	if res := w.subscribe(t, nodes[0], "lobby", 600); res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %d %s", res.StatusCode, res.Reason)
	}
	w.next(t, xmllint)
	bob := joinRoom(t, nodes[1], "lobby", "bob", "tcp", true)
	nickname(t, bob, "Bobby")
	for u := w.rosterUser("sip:bob@example.com"); u == nil || u.Nickname != "Bobby" || len(u.Endpoints) != 1; u = w.rosterUser("sip:bob@example.com") {
		w.next(t, xmllint)
	}
	if w.rosterUser("sip:alice@example.com") == nil || len(w.roster.Users) != 2 {
		t.Fatalf("roster on node a: %d users, want alice and bob", len(w.roster.Users))
	}
	// CCMP on node a lists him too (usersRequest and confRequest retrieve).
	users, err := ccmpClient(nodes[0]).Users(context.Background(), "lobby")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(users, func(u *xcon.User) bool { return u.Entity == "xcon-userid:bob@example.com" && len(u.Endpoints) == 1 }) {
		t.Fatalf("CCMP users on node a lack bob: %d users", len(users))
	}
	conf, err := ccmpClient(nodes[0]).Room(context.Background(), "lobby")
	if err != nil || conf.User("xcon-userid:bob@example.com") == nil {
		t.Fatalf("CCMP confRequest on node a lacks bob: %v", err)
	}
	if err := bob.dlg.Bye(context.Background()); err != nil {
		t.Fatal(err)
	}
	for w.rosterUser("sip:bob@example.com") != nil {
		w.next(t, xmllint)
	}
}

// TestRoomChangesReachEveryNode: a CCMP change to the room on node a (its subject, then a ban
// of bob, whose call is on node b) is the room's on node b too, at a version no lower; bob is
// removed there, and his new call to node b is refused.
func TestRoomChangesReachEveryNode(t *testing.T) {
	nodes := startNodes(t, 2)
	ctx := context.Background()
	bob := joinRoom(t, nodes[1], "lobby", "bob", "tcp", true)
	subject := "one room, two nodes"
	version, err := ccmpClient(nodes[0]).UpdateRoom(ctx, "lobby", ccmp.RoomUpdate{Subject: &subject}.Delta())
	if err != nil {
		t.Fatal(err)
	}
	// Node b's version counts its own joins too: it is at least the stored one.
	eventually(t, "node b has the new subject", func() bool {
		c := nodes[1].focus.Room("lobby").Snapshot()
		return c.Description.Subject == subject && c.Version >= version
	})
	if _, err := ccmpClient(nodes[0]).SetDenied(ctx, "lobby", "sip:bob@example.com", true); err != nil {
		t.Fatal(err)
	}
	waitText(t, bob.msrp, "removed from the room")
	eventually(t, "node b lets bob go", func() bool { return nodes[1].focus.Present() == 0 })
	again := newSIPPeer(t, "bob", "example.com")
	m := newMSRPPeer(t)
	if _, res, err := again.inviteAt(t, nodes[1].sip.Port(), "lobby", "tcp", m.offer(t, "main")); res == nil || res.StatusCode != 403 {
		t.Fatalf("bob's new INVITE to node b: %v %v, want 403", res, err)
	}
}

// TestRoomsCreatedAndDeletedOnOneNode: a room created over CCMP on node a can be joined at
// once on node b; deleted over CCMP on node b, its member on node a is told and leaves, and
// node a has it no more.
func TestRoomsCreatedAndDeletedOnOneNode(t *testing.T) {
	nodes := startNodes(t, 2)
	ctx := context.Background()
	if _, err := ccmpClient(nodes[0]).CreateRoom(ctx, ccmp.RoomSpec{Name: "talk", DisplayText: "Small talk"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node b knows the room", func() bool { return nodes[1].focus.Room("talk") != nil })
	alice := joinRoom(t, nodes[0], "talk", "alice", "tcp", false)
	bob := joinRoom(t, nodes[1], "talk", "bob", "tcp", false)
	if r := bob.msrp.response(t, bob.msrp.send("message/cpim", cpimBody("sip:bob@example.com", "sip:talk@example.net", "hi from b"))); r.StatusCode != 200 {
		t.Fatalf("bob: %d %s", r.StatusCode, r.Comment)
	}
	waitText(t, alice.msrp, "hi from b")
	if err := ccmpClient(nodes[1]).DeleteRoom(ctx, "talk"); err != nil {
		t.Fatal(err)
	}
	waitText(t, alice.msrp, "deleted")
	eventually(t, "node a drops the room", func() bool { return nodes[0].focus.Room("talk") == nil && nodes[0].focus.Present() == 0 })
}
