package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
	"github.com/parleychat/parley/xcon/sqlstore"
)

// faultLedger is what the focus acknowledged across every round of a fault test: what must
// still be there after each SIGKILL.
type faultLedger struct {
	mu       sync.Mutex
	messages map[string]bool // logged CPIM bodies answered 200
	rooms    []string        // rooms whose CCMP create was answered success
	subject  string          // lobby's subject after the last update answered success
	maybe    string          // an update of the subject sent but not answered when the focus died
	pushes   map[string]bool // names of the files whose push was answered 200
	joins    int             // INVITEs answered 200
}

// TestKill9MixedWorkloadTwentyTimes kills `parley serve` with SIGKILL at a random moment of a
// mixed workload, twenty times over one data directory: members joining and leaving over SIP,
// several members pipelining logged messages, CCMP creating rooms and changing the lobby's
// subject, and file pushes. After each kill the SQLite database passes PRAGMA integrity_check
// as it is (nothing repaired first), every message answered 200 is in the log, every room
// whose create was answered success exists, the lobby's subject is the last one acknowledged
// (or the one in flight at the kill), every file whose push was answered 200 is kept, no partial
// file is left once the focus restarts, and the focus starts cleanly with nobody shown present.
func TestKill9MixedWorkloadTwentyTimes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	client := newFaultUA(t)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	led := &faultLedger{messages: map[string]bool{}, pushes: map[string]bool{}}
	const rounds = 20
	for round := range rounds {
		t0 := time.Now()
		d := startBinary(t, bin, data)
		if round > 0 {
			checkRestarted(t, d, data)
		}
		t1 := time.Now()
		killAfter := time.Duration(150+rng.IntN(650)) * time.Millisecond
		faultRound(t, d, client, led, round, killAfter)
		t2 := time.Now()
		checkAfterKill(t, data, led, round)
		t.Logf("round %d: start %v, workload %v (kill at %v), check %v", round, t1.Sub(t0), t2.Sub(t1), killAfter, time.Since(t2))
	}
	led.mu.Lock()
	t.Logf("%d rounds: %d messages, %d rooms, %d file pushes, %d joins acknowledged and all kept", rounds,
		len(led.messages), len(led.rooms), len(led.pushes), led.joins)
	led.mu.Unlock()
}

// faultRound runs the workload against d and kills it with SIGKILL after killAfter.
func faultRound(t *testing.T, d *runningBinary, client *sipgo.Client, led *faultLedger, round int, killAfter time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	port := d.sipPort(t)
	var wg sync.WaitGroup
	var members sync.Map // every member joined, closed after the kill
	join := func(user string, push *sdp.MediaAnswer, answer func(string, int, string)) *faultMember {
		// An INVITE the kill leaves unanswered is CANCELled by the client, which waits for the
		// CANCEL's transaction to time out: the round does not wait for it.
		var m *faultMember
		var err error
		if !unlessKilled(ctx, func() { m, err = faultJoin(context.WithoutCancel(ctx), client, port, "lobby", user, push, answer) },
			func() {
				if m != nil {
					m.conn.Close()
				}
			}) || err != nil {
			return nil
		}
		members.Store(m, true)
		led.mu.Lock()
		led.joins++
		led.mu.Unlock()
		return m
	}

	// Senders: each pipelines up to a window of logged messages.
	const senders, window = 3, 16
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("sender%d", s)
			var pmu sync.Mutex
			pending := map[string]string{}
			slots := make(chan struct{}, window)
			m := join(user, nil, func(tid string, code int, _ string) {
				pmu.Lock()
				body, ok := pending[tid]
				delete(pending, tid)
				pmu.Unlock()
				if !ok {
					return
				}
				if code == 200 {
					led.mu.Lock()
					led.messages[body] = true
					led.mu.Unlock()
				}
				<-slots
			})
			if m == nil {
				return
			}
			for j := 0; ; j++ {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				case <-m.closed:
					return
				}
				body := cpimBody("sip:"+user+"@example.com", "sip:lobby@example.net", fmt.Sprintf("round %d %s message %d", round, user, j))
				tid := msrp.NewTransactionID()
				pmu.Lock()
				pending[tid] = string(body)
				pmu.Unlock()
				if m.sendCPIM(tid, body) != nil {
					return
				}
				if j%2 == 1 {
					// At most about 2,000 a second each: twenty rounds stay well below the
					// lobby's keep_messages (100,000), which would purge the oldest at a start.
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}

	// Joins: members come and go.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			m := join(fmt.Sprintf("visitor%d-%d", round, i), nil, nil)
			if m == nil {
				return
			}
			var err error
			if !unlessKilled(ctx, func() { err = m.leave(context.WithoutCancel(ctx)) }, nil) || err != nil {
				return
			}
		}
	}()

	// CCMP: rooms created and the lobby's subject changed, one request at a time.
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := &ccmp.Client{URL: "http://" + d.http + "/ccmp", UserID: "xcon-userid:admin@example.net"}
		for i := 0; ctx.Err() == nil; i++ {
			if i%2 == 0 {
				name := fmt.Sprintf("k%dr%d", round, i)
				if _, err := c.CreateRoom(ctx, ccmp.RoomSpec{Name: name, Logging: true}); err != nil {
					return
				}
				led.mu.Lock()
				led.rooms = append(led.rooms, name)
				led.mu.Unlock()
				continue
			}
			subject := fmt.Sprintf("subject %d.%d", round, i)
			led.mu.Lock()
			led.maybe = subject
			led.mu.Unlock()
			delta := etreeDelta(t, `<confInfo xmlns:info="urn:ietf:params:xml:ns:conference-info"><info:conference-description><info:subject>`+
				subject+`</info:subject></info:conference-description></confInfo>`)
			if _, err := c.UpdateRoom(ctx, "lobby", delta); err != nil {
				return
			}
			led.mu.Lock()
			led.subject, led.maybe = subject, ""
			led.mu.Unlock()
		}
	}()

	// File pushes: an RFC 5547 push session each, one file on it.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			payload := bytes.Repeat([]byte{byte(i)}, 2048+i)
			name := fmt.Sprintf("f%d-%d.png", round, i)
			push := &sdp.MediaAnswer{Port: 9, Proto: "TCP/MSRP", Setup: "active", Direction: "sendonly",
				AcceptTypes:    []string{"image/png"},
				FileSelector:   fmt.Sprintf(`name:"%s" type:image/png size:%d`, name, len(payload)),
				FileTransferID: fmt.Sprintf("t%d-%d", round, i)}
			res := make(chan int, 1)
			m := join(fmt.Sprintf("pusher%d", round), push, func(_ string, code int, _ string) { res <- code })
			if m == nil {
				return
			}
			if m.write(&msrp.Message{Method: "SEND", MessageID: msrp.NewMessageID(), ContentType: "image/png", Body: payload,
				ByteRange: msrp.ByteRange{Start: 1, End: int64(len(payload)), Total: int64(len(payload))}}) != nil {
				return
			}
			select {
			case code := <-res:
				if code == 200 {
					led.mu.Lock()
					led.pushes[name] = true
					led.mu.Unlock()
				}
			case <-m.closed:
				return
			case <-ctx.Done():
				return
			}
			var err error
			if !unlessKilled(ctx, func() { err = m.leave(context.WithoutCancel(ctx)) }, nil) || err != nil {
				return
			}
		}
	}()

	time.Sleep(killAfter)
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.cmd.Wait()
	cancel()
	members.Range(func(k, _ any) bool { k.(*faultMember).conn.Close(); return true })
	wg.Wait() // no answer can arrive any more: the ledger is final for this round
}

// checkAfterKill opens the database the killed focus left, as it is, and checks it against the
// ledger.
func checkAfterKill(t *testing.T, data string, led *faultLedger, round int) {
	t.Helper()
	led.mu.Lock()
	defer led.mu.Unlock()
	db, err := sql.Open("sqlite", filepath.Join(data, "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	var integrity string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("round %d: PRAGMA integrity_check after SIGKILL: %q %v", round, integrity, err)
	}
	db.Close()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, data)
	if err != nil {
		t.Fatalf("round %d: open after SIGKILL: %v", round, err)
	}
	defer store.Close()
	logged, err := store.History(ctx, "lobby", "", len(led.messages)+100000)
	if err != nil {
		t.Fatal(err)
	}
	inLog := make(map[string]bool, len(logged))
	for _, e := range logged {
		inLog[string(e.Body)] = true
	}
	for body := range led.messages {
		if !inLog[body] {
			t.Fatalf("round %d: a message answered 200 is missing after SIGKILL: %q", round, body[strings.LastIndex(body, "\n")+1:])
		}
	}
	for _, name := range led.rooms {
		if _, err := store.Conference(ctx, name); err != nil {
			t.Fatalf("round %d: room %s, created with success, is missing after SIGKILL: %v", round, name, err)
		}
	}
	lobby, err := store.Conference(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	if got := lobby.Description.Subject; got != led.subject && (led.maybe == "" || got != led.maybe) {
		t.Fatalf("round %d: lobby subject %q after SIGKILL, want the acknowledged %q (or %q in flight)", round, got, led.subject, led.maybe)
	}
	// A push is answered 200 once its file is kept (synced and renamed, with its description).
	kept := map[string]bool{}
	filepath.WalkDir(filepath.Join(data, "files"), func(path string, e os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".json") {
			var k struct{ Name string }
			if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &k) == nil {
				kept[k.Name] = true
			}
		}
		return nil
	})
	for name := range led.pushes {
		if !kept[name] {
			t.Fatalf("round %d: file %s, pushed and answered 200, is not kept after SIGKILL", round, name)
		}
	}
	t.Logf("round %d: %d messages, %d rooms, %d pushes acknowledged so far; the log holds %d, %d files kept", round,
		len(led.messages), len(led.rooms), len(led.pushes), len(logged), len(kept))
}

// checkRestarted: a focus restarted after SIGKILL serves, shows nobody present, and has removed
// the partial files the kill left.
func checkRestarted(t *testing.T, d *runningBinary, data string) {
	t.Helper()
	res, err := http.Get("http://" + d.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(metrics), "\nparley_participants 0\n") {
		t.Fatal("after a restart from SIGKILL: parley_participants is not 0")
	}
	if res, err := http.Get("http://" + d.http + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("/healthz after a restart from SIGKILL: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	filepath.WalkDir(filepath.Join(data, "files"), func(path string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && (strings.HasSuffix(path, ".part") || strings.HasSuffix(path, ".tmp")) {
			t.Fatalf("partial file left after a restart from SIGKILL: %s", path)
		}
		return nil
	})
}

// unlessKilled runs fn and reports true once it returns, or false as soon as ctx ends first;
// then fn goes on in the background and abandoned runs after it.
func unlessKilled(ctx context.Context, fn, abandoned func()) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		if abandoned != nil {
			go func() { <-done; abandoned() }()
		}
		return false
	}
}
