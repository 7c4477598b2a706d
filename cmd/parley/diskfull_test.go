package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/internal/peers"
	"github.com/parleychat/parley/xcon/sqlstore"
)

// mountSmallDisk mounts a tmpfs of size bytes at a new directory and returns it; the test is
// skipped where mounting is not permitted (no CAP_SYS_ADMIN), and fails there under
// PARLEY_REQUIRE_PEERS=1 only when the process holds CAP_SYS_ADMIN, that is when the mount was
// expected to work.
func mountSmallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+strconv.Itoa(size)+",mode=0700")
	if err != nil {
		if peers.Required() && hasSysAdmin() {
			t.Fatalf("mount -t tmpfs -o size=%d: %v (CAP_SYS_ADMIN held, so it should work)", size, err)
		}
		t.Skipf("a full disk needs a small filesystem: mount -t tmpfs is not permitted here (%v); run as root or with CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("umount %s: %v", dir, err)
		}
	})
	return dir
}

// hasSysAdmin reports whether the process's effective capabilities include CAP_SYS_ADMIN.
func hasSysAdmin() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if hex, ok := strings.CutPrefix(l, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && caps&(1<<21) != 0
		}
	}
	return false
}

// fillDisk writes zeros to a file in dir until the filesystem refuses (ENOSPC) and returns the
// file's path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return path
		}
	}
}

// sendAndWait sends one CPIM message from m and returns the answer to it.
func sendAndWait(t *testing.T, m *faultMember, answers chan [2]string, from, to, text string) (int, string) {
	t.Helper()
	tid := "t" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := m.sendCPIM(tid, cpimBody(from, to, text)); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case a := <-answers:
			if a[0] != tid {
				continue
			}
			code, _ := strconv.Atoi(a[1][:3])
			return code, a[1][4:]
		case <-time.After(10 * time.Second):
			t.Fatalf("no answer to %q", text)
		}
	}
}

// received waits until m gets a message containing text.
func received(t *testing.T, m *faultMember, text string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case b := <-m.got:
			if bytes.Contains(b, []byte(text)) {
				return
			}
		case <-timeout:
			t.Fatalf("%q never arrived", text)
		}
	}
}

// TestFullDiskRefusesLoggedSendsAndRecovers runs `parley serve` with its data directory on a
// 4 MiB tmpfs, then fills the filesystem. Logged messages are still relayed but answered 500
// with a comment saying the log could not be written for want of space, with a log line; an
// unlogged room goes on as before; once space is freed the next logged message is answered
// 200 and is in the log.
func TestFullDiskRefusesLoggedSendsAndRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	disk := mountSmallDisk(t, 4<<20)
	data := filepath.Join(disk, "data")
	d := startBinary(t, bin, data)
	ctx := context.Background()
	c := &ccmp.Client{URL: "http://" + d.http + "/ccmp", UserID: "xcon-userid:admin@example.net"}
	if _, err := c.CreateRoom(ctx, ccmp.RoomSpec{Name: "quiet", Logging: false}); err != nil {
		t.Fatal(err)
	}
	client := newFaultUA(t)
	port := d.sipPort(t)
	answers := make(chan [2]string, 64)
	answer := func(tid string, code int, comment string) {
		answers <- [2]string{tid, fmt.Sprintf("%03d %s", code, comment)}
	}
	join := func(room, user string) *faultMember {
		m, err := faultJoin(ctx, client, port, room, user, nil, answer)
		if err != nil {
			t.Fatalf("%s joins %s: %v", user, room, err)
		}
		return m
	}
	alice, bob := join("lobby", "alice"), join("lobby", "bob")
	carol, dave := join("quiet", "carol"), join("quiet", "dave")
	const lobbyURI, quietURI = "sip:lobby@example.net", "sip:quiet@example.net"
	if code, comment := sendAndWait(t, alice, answers, "sip:alice@example.com", lobbyURI, "before the disk fills"); code != 200 {
		t.Fatalf("logged message before the disk fills: %d %s", code, comment)
	}

	filler := fillDisk(t, disk)
	// The WAL may still have room of its own: send until the log must grow.
	big := strings.Repeat("x", 16<<10)
	var code int
	var comment string
	n := 0
	for ; n < 1000; n++ {
		code, comment = sendAndWait(t, alice, answers, "sip:alice@example.com", lobbyURI, fmt.Sprintf("full %d %s", n, big))
		if code != 200 {
			break
		}
	}
	const want = "Message relayed but not logged: the log could not be written (no space left)"
	if code != 500 || comment != want {
		t.Fatalf("a logged message on a full disk, after %d answered 200: %d %q, want 500 %q", n, code, comment, want)
	}
	received(t, bob, fmt.Sprintf("full %d ", n)) // relayed all the same
	if !d.loggedSoon(`msg="message not logged"`, "room=lobby", "no space left") {
		t.Fatal(`no "message not logged" line naming the lobby and the missing space`)
	}
	t.Logf("disk full after %d logged messages: %d %s", n, code, comment)

	// The unlogged room is served as before, and the focus stays healthy.
	for i := range 3 {
		text := fmt.Sprintf("unlogged while full %d", i)
		if code, comment := sendAndWait(t, carol, answers, "sip:carol@example.com", quietURI, text); code != 200 {
			t.Fatalf("unlogged room on a full disk: %d %s", code, comment)
		}
		received(t, dave, text)
	}
	// A join writes its binding: it succeeds while the database has pages to spare, else it is
	// refused at once, never left unanswered.
	if m, err := faultJoin(ctx, client, port, "quiet", "frank", nil, answer); errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a join on a full disk was left unanswered: %v", err)
	} else if err != nil {
		t.Logf("a join on a full disk: %v", err)
	} else {
		t.Logf("a join on a full disk: joined")
		m.leave(ctx)
	}
	if res, err := http.Get("http://" + d.http + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("/healthz on a full disk: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	// Still full: still refused, never a 200 for a message not logged.
	if code, comment := sendAndWait(t, alice, answers, "sip:alice@example.com", lobbyURI, "still full "+big); code != 500 || comment != want {
		t.Fatalf("logged message on a still full disk: %d %s", code, comment)
	}

	// Space returns: the next logged message is logged and answered 200.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if code, comment := sendAndWait(t, alice, answers, "sip:alice@example.com", lobbyURI, "after the disk has room again"); code != 200 {
		t.Fatalf("logged message once space returned: %d %s", code, comment)
	}
	received(t, bob, "after the disk has room again")
	if m := join("quiet", "erin"); m == nil {
		t.Fatal("join after recovery")
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.cmd.Wait()
	store, err := sqlstore.Open(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	logged, err := store.History(ctx, "lobby", "", 2000)
	if err != nil {
		t.Fatal(err)
	}
	var before, after bool
	for _, e := range logged {
		before = before || bytes.Contains(e.Body, []byte("before the disk fills"))
		after = after || bytes.Contains(e.Body, []byte("after the disk has room again"))
		if bytes.Contains(e.Body, []byte("still full")) {
			t.Fatal("a message answered 500 for want of space is in the log")
		}
	}
	if !before || !after {
		t.Fatalf("log after the disk filled and emptied: before %v, after %v (%d entries)", before, after, len(logged))
	}
}
