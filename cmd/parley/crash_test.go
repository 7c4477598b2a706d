package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/xcon/sqlstore"
)

// TestKill9KeepsEveryAcknowledgedMessage: several participants of the logged lobby send a
// burst; the daemon is killed with SIGKILL in the middle. Every message that was answered 200
// must be in the log after the crash, the room must be intact, and after a restart nobody is
// shown as connected (session-chat §5.2, durability of the log).
func TestKill9KeepsEveryAcknowledgedMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	daemon := startBinary(t, bin, data)

	const senders, perSender = 3, 400
	var mu sync.Mutex
	acked := map[string]bool{} // bodies answered 200
	ackedCount := 0
	halfway := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for i := 0; i < senders; i++ {
		name := fmt.Sprintf("user%d", i)
		p := newSIPPeer(t, name, "example.com")
		m := newMSRPPeer(t)
		_, res, err := p.inviteAt(t, daemon.sipPort(t), "lobby", "tcp", m.offer(t, "main"))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s INVITE: %v %v", name, res, err)
		}
		m.connect(t, res.Body(), 0)
		done := burst(m, name, perSender, func(body string) {
			mu.Lock()
			acked[body] = true
			ackedCount++
			if ackedCount >= senders*perSender/2 {
				once.Do(func() { close(halfway) })
			}
			mu.Unlock()
		})
		wg.Add(1)
		go func() { <-done; wg.Done() }()
	}
	<-halfway
	if err := daemon.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	daemon.cmd.Wait()
	wg.Wait() // every sender's connection is closed now: no more 200s can arrive
	mu.Lock()
	t.Logf("%d of %d messages were answered 200 before SIGKILL", len(acked), senders*perSender)
	mu.Unlock()

	ctx := context.Background()
	store, err := sqlstore.Open(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	logged, err := store.History(ctx, "lobby", "", senders*perSender+10)
	if err != nil {
		t.Fatal(err)
	}
	inLog := map[string]bool{}
	for _, e := range logged {
		inLog[string(e.Body)] = true
	}
	for body := range acked {
		if !inLog[body] {
			t.Fatalf("a message answered 200 is missing from the log after SIGKILL: %q", body[strings.LastIndex(body, "\n")+1:])
		}
	}
	if rows, _ := store.Bindings(ctx, "lobby"); len(rows) != senders {
		t.Logf("binding rows left by the crash: %d", len(rows))
	}
	store.Close()

	again := startBinary(t, bin, data)
	res, err := http.Get("http://" + again.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(metrics), "parley_participants 0") || !strings.Contains(string(metrics), "parley_rooms 1") {
		t.Fatal("after the restart: participants not 0 or lobby missing")
	}
	if err := again.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	again.cmd.Wait()
	store, err = sqlstore.Open(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if rows, err := store.Bindings(ctx, "lobby"); err != nil || len(rows) != 0 {
		t.Fatalf("bindings after restart: %d %v", len(rows), err)
	}
	if conf, err := store.Conference(ctx, "lobby"); err != nil || conf.Name() != "lobby" {
		t.Fatalf("lobby after the crash: %v", err)
	}
}

// burst pipelines n SENDs to the lobby from m as name ("NAME burst J"), none waiting for an
// answer, and hands acked each body answered 200. The channel it returns is closed once all n
// are answered or m's connection is gone; until then burst reads m's frames, and drops the
// requests among them (other members' messages).
func burst(m *msrpPeer, name string, n int, acked func(body string)) <-chan struct{} {
	var mu sync.Mutex
	pending := map[string]string{} // transaction-id → body
	done := make(chan struct{})
	go func() {
		defer close(done)
		answered := 0
		for f := range m.Frames {
			if !f.IsResponse() || f.StatusCode != 200 {
				continue
			}
			mu.Lock()
			body, ok := pending[f.TransactionID]
			mu.Unlock()
			if !ok {
				continue
			}
			acked(body)
			if answered++; answered == n {
				return
			}
		}
	}()
	go func() {
		for j := 0; j < n; j++ {
			body := cpimBody("sip:"+name+"@example.com", "sip:lobby@example.net", fmt.Sprintf("%s burst %d", name, j))
			tid := msrp.NewTransactionID()
			mu.Lock()
			pending[tid] = string(body)
			mu.Unlock()
			msg := &msrp.Message{TransactionID: tid, Method: "SEND", ToPath: m.Remote, FromPath: []msrp.URI{m.Local}, MessageID: msrp.NewMessageID(), ContentType: "message/cpim",
				Body: body, ByteRange: msrp.ByteRange{Start: 1, End: int64(len(body)), Total: int64(len(body))}}
			if _, err := m.Conn.Write(msg.AppendTo(nil)); err != nil {
				return
			}
		}
	}()
	return done
}
