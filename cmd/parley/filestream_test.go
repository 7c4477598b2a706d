package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/cpim"
	"github.com/parleychat/parley/sdp"
)

// filePush is an RFC 5547 push in progress: the sender's MSRP peer, connected to the session
// the focus answered with.
type filePush struct {
	m   *msrpPeer
	res *sip.Response
	mid string
}

// openPush INVITEs room as from with one push m-line for a file of size bytes (-1: the
// selector says no size; attrs are extra
// a= lines, such as file-date) and connects the session; the INVITE must succeed.
func openPush(t *testing.T, d *daemon, room, from, name string, size int, attrs []sdp.Attribute, extra ...sip.Header) *filePush {
	t.Helper()
	m := newMSRPPeer(t)
	selector := `name:"` + name + `" type:application/octet-stream`
	if size >= 0 {
		selector += " size:" + itoa(size)
	}
	offer, err := sdp.BuildOffer(sdp.AnswerParams{Username: from, SessionID: 1, SessionVersion: 1, Address: "127.0.0.1"},
		[]sdp.MediaAnswer{{Port: 9, Proto: "TCP/MSRP", Path: []string{m.Local.String()}, Setup: "active", Direction: "sendonly",
			AcceptTypes:    []string{"application/octet-stream"},
			FileSelector:   selector,
			FileTransferID: "tr" + msrp.NewMessageID(), Attributes: attrs}})
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := newSIPPeer(t, from, "example.com").inviteAt(t, d.sip.Port(), room, "tcp", offer, extra...)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("file INVITE: %v %v", res, err)
	}
	m.connect(t, res.Body(), 0)
	return &filePush{m: m, res: res, mid: msrp.NewMessageID()}
}

// sendChunks sends payload[from:to] in chunks of n bytes, as part of a message of total bytes
// (-1: '*'); the chunk that reaches len(payload) ends with '$'. It returns the status of the last
// chunk's response.
func (p *filePush) sendChunks(t *testing.T, payload []byte, from, to, n int, total int64) int {
	t.Helper()
	code := 0
	for off := from; off < to; off += n {
		end := min(off+n, to)
		flag, rangeEnd := byte('+'), int64(-1)
		if end == len(payload) {
			flag, rangeEnd = '$', int64(end)
		}
		tid := p.m.write(&msrp.Message{Method: "SEND", MessageID: p.mid, ContentType: "application/octet-stream",
			ByteRange: msrp.ByteRange{Start: int64(off) + 1, End: rangeEnd, Total: total}, Flag: flag, Body: payload[off:end]})
		if code = p.m.response(t, tid).StatusCode; code != 200 {
			return code
		}
	}
	return code
}

// keptOnDisk lists the files under the kept-file directory of room (name suffixes included).
func keptOnDisk(t *testing.T, cfg *configs.Config, room string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(cfg.DataDir, "files", room))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func countSuffix(names []string, suffix string) int {
	n := 0
	for _, s := range names {
		if strings.HasSuffix(s, suffix) {
			n++
		}
	}
	return n
}

// fileOf parses a relayed file: its CPIM envelope's Content-Disposition and the file bytes.
func fileOf(t *testing.T, body []byte) (string, []byte) {
	t.Helper()
	msg, err := cpim.Parse(body)
	if err != nil {
		t.Fatalf("relayed file: %v", err)
	}
	cd, _ := msg.ContentHeader("Content-Disposition")
	return cd, msg.Body
}

func patterned(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

func streamConfig(c *configs.Config) {
	c.MSRP.MaxMessageSize = 64 << 10
	c.MSRP.StreamThreshold = 16 << 10
	c.Rooms = append(c.Rooms, configs.Room{Name: "files"})
}

// TestFileStreamedBeyondMaxMessageSize: a pushed file three times max_message_size, sent in
// chunks, reaches every participant byte for byte and is kept for a later joiner: the focus
// passed it on chunk by chunk (reassembly stops at max_message_size, which the same bytes sent
// as one chat message meet with 413).
func TestFileStreamedBeyondMaxMessageSize(t *testing.T) {
	d := startTestDaemon(t, streamConfig)
	bob := join(t, d, joinOptions{room: "files", name: "bob", transport: "tcp", label: "main"})
	carol := join(t, d, joinOptions{room: "files", name: "carol", transport: "tcp", label: "main"})
	payload := patterned(3*64<<10+123, 1)

	p := openPush(t, d, "files", "alice", "big.bin", len(payload), nil)
	if code := p.sendChunks(t, payload, 0, len(payload), 32<<10, int64(len(payload))); code != 200 {
		t.Fatalf("file chunks: %d", code)
	}
	for _, who := range []*participant{bob, carol} {
		cd, got := fileOf(t, who.msrp.nextMessage(t).Body)
		if !bytes.Equal(got, payload) || !strings.Contains(cd, "filename=big.bin") || !strings.Contains(cd, "size="+itoa(len(payload))) {
			t.Fatalf("%s got %d bytes (want %d), disposition %q", who.name, len(got), len(payload), cd)
		}
	}
	dave := join(t, d, joinOptions{room: "files", name: "dave", transport: "tcp", label: "main"})
	if _, got := fileOf(t, dave.msrp.nextMessage(t).Body); !bytes.Equal(got, payload) {
		t.Fatalf("later joiner got %d bytes of the kept file, want %d", len(got), len(payload))
	}

	// The same size as a chunked chat message is reassembled, and refused.
	inline := append(cpimBody("sip:bob@example.com", "sip:files@example.net", ""), payload...)
	tid := bob.msrp.write(&msrp.Message{Method: "SEND", MessageID: msrp.NewMessageID(), ContentType: "message/cpim",
		ByteRange: msrp.ByteRange{Start: 1, End: -1, Total: int64(len(inline))}, Flag: '+', Body: inline[:32<<10]})
	if r := bob.msrp.response(t, tid); r.StatusCode != 413 {
		t.Fatalf("chat message beyond max_message_size: %d, want 413", r.StatusCode)
	}
}

// TestFileStreamUnknownSize: a file sent with Byte-Range total '*' is relayed with '*' too and
// still arrives whole.
func TestFileStreamUnknownSize(t *testing.T) {
	d := startTestDaemon(t, streamConfig)
	bob := join(t, d, joinOptions{room: "files", name: "bob", transport: "tcp", label: "main"})
	payload := patterned(100<<10, 2)
	p := openPush(t, d, "files", "alice", "unknown.bin", len(payload), nil)
	if code := p.sendChunks(t, payload, 0, len(payload), 20<<10, -1); code != 200 {
		t.Fatalf("file chunks: %d", code)
	}
	last := bob.msrp.nextMessage(t) // the test peer hands over the whole with the last chunk's head
	if last.ByteRange.Total != -1 {
		t.Fatalf("relayed with total %d, want '*'", last.ByteRange.Total)
	}
	if _, got := fileOf(t, last.Body); !bytes.Equal(got, payload) {
		t.Fatalf("got %d bytes, want %d", len(got), len(payload))
	}
}

// TestFileAbortRemovesPart: a push the sender interrupts ('#') or abandons (its connection
// closes) midway is interrupted on the recipients' copies, is not kept, and leaves nothing on
// disk.
func TestFileAbortRemovesPart(t *testing.T) {
	var cfg *configs.Config
	d := startTestDaemon(t, func(c *configs.Config) { streamConfig(c); cfg = c })
	bob := join(t, d, joinOptions{room: "files", name: "bob", transport: "tcp", label: "main"})
	payload := patterned(200<<10, 3)
	for i, how := range []string{"interrupt", "disconnect"} {
		p := openPush(t, d, "files", "alice", how+".bin", len(payload), nil)
		if code := p.sendChunks(t, payload, 0, 100<<10, 20<<10, int64(len(payload))); code != 200 {
			t.Fatalf("%s: chunks: %d", how, code)
		}
		if names := keptOnDisk(t, cfg, "files"); countSuffix(names, ".part") != 1 {
			t.Fatalf("%s: midway the disk holds %v, want one part file", how, names)
		}
		switch how {
		case "interrupt":
			tid := p.m.write(&msrp.Message{Method: "SEND", MessageID: p.mid, ContentType: "application/octet-stream",
				ByteRange: msrp.ByteRange{Start: 100<<10 + 1, End: -1, Total: int64(len(payload))}, Flag: '#', Body: payload[100<<10 : 101<<10]})
			if r := p.m.response(t, tid); r.StatusCode != 200 {
				t.Fatalf("interrupting chunk: %d", r.StatusCode)
			}
		case "disconnect":
			p.m.Conn.Close()
		}
		// bob's copy ends with '#'; nothing whole comes before the sentinel.
		for end := time.Now().Add(10 * time.Second); bob.msrp.Aborted.Load() < int32(i+1) && time.Now().Before(end); {
			time.Sleep(10 * time.Millisecond)
		}
		if n := bob.msrp.Aborted.Load(); n != int32(i+1) {
			t.Fatalf("%s: %d of bob's copies were interrupted, want %d", how, n, i+1)
		}
		for end := time.Now().Add(10 * time.Second); countSuffix(keptOnDisk(t, cfg, "files"), ".part") > 0 && time.Now().Before(end); {
			time.Sleep(10 * time.Millisecond)
		}
		if names := keptOnDisk(t, cfg, "files"); len(names) != 0 {
			t.Fatalf("%s: the disk still holds %v", how, names)
		}
	}
	if v := metricLine(t, d, "parley_files_aborted_total"); v != "2" {
		t.Fatalf("parley_files_aborted_total = %q, want 2", v)
	}
	carol := join(t, d, joinOptions{room: "files", name: "carol", transport: "tcp", label: "main"})
	sentinel := cpimBody("sip:bob@example.com", "sip:files@example.net", "sentinel")
	bob.msrp.send("message/cpim", sentinel)
	if got := carol.msrp.nextMessage(t).Body; !bytes.Equal(got, sentinel) {
		t.Fatalf("a later joiner got %.100q before the sentinel: an aborted file was kept", got)
	}
	sentinel2 := cpimBody("sip:carol@example.com", "sip:files@example.net", "sentinel 2")
	carol.msrp.send("message/cpim", sentinel2)
	if got := bob.msrp.nextMessage(t).Body; !bytes.Equal(got, sentinel2) {
		t.Fatalf("bob got %.100q before the sentinel: an aborted file reached him whole", got)
	}
}

// TestKeptFilesSurviveRestart: two files kept in a room are replayed, after a restart on the
// same data directory, to a later joiner in the order they were sent, byte for byte.
func TestKeptFilesSurviveRestart(t *testing.T) {
	cfg := testConfig(t)
	streamConfig(cfg)
	d := startConfigured(t, cfg)
	bob := join(t, d, joinOptions{room: "files", name: "bob", transport: "tcp", label: "main"})
	first, second := patterned(150<<10, 4), patterned(3000, 5) // the first streamed, the second whole
	var delivered [][]byte
	for i, payload := range [][]byte{first, second} {
		p := openPush(t, d, "files", "alice", "f"+itoa(i)+".bin", len(payload), nil)
		if code := p.sendChunks(t, payload, 0, len(payload), 30<<10, int64(len(payload))); code != 200 {
			t.Fatalf("file %d: %d", i, code)
		}
		delivered = append(delivered, bob.msrp.nextMessage(t).Body)
	}
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}

	d2 := startConfigured(t, cfg)
	defer d2.shutdown()
	dave := join(t, d2, joinOptions{room: "files", name: "dave", transport: "tcp", label: "main"})
	for i, want := range delivered {
		if got := dave.msrp.nextMessage(t).Body; !bytes.Equal(got, want) {
			_, file := fileOf(t, got)
			t.Fatalf("after restart kept file %d: %d bytes, want the %d delivered before", i, len(file), len(want))
		}
	}
}

// TestFileQuotaEviction: beyond file_quota a room's oldest kept file is deleted from disk; beyond
// file_total_quota the oldest of all rooms is; a later joiner gets what remains, in order.
func TestFileQuotaEviction(t *testing.T) {
	var cfg *configs.Config
	d := startTestDaemon(t, func(c *configs.Config) {
		c.FileQuota = 2*20<<10 + 4096 // two files of 20 KiB with their envelopes
		c.FileTotalQuota = 3*20<<10 + 6144
		c.Rooms = append(c.Rooms, configs.Room{Name: "files"}, configs.Room{Name: "other"})
		cfg = c
	})
	files := make([][]byte, 3)
	for i := range files {
		files[i] = patterned(20<<10, byte(10+i))
		p := openPush(t, d, "files", "alice", "q"+itoa(i)+".bin", len(files[i]), nil)
		if code := p.sendChunks(t, files[i], 0, len(files[i]), 10<<10, int64(len(files[i]))); code != 200 {
			t.Fatalf("file %d: %d", i, code)
		}
	}
	if names := keptOnDisk(t, cfg, "files"); countSuffix(names, ".msg") != 2 || countSuffix(names, ".json") != 2 {
		t.Fatalf("room quota: the disk holds %v, want two kept files", names)
	}
	// Two files in "files" and two in "other" pass the total quota: the oldest of all goes.
	for i := 0; i < 2; i++ {
		payload := patterned(20<<10, byte(20+i))
		p := openPush(t, d, "other", "alice", "o"+itoa(i)+".bin", len(payload), nil)
		if code := p.sendChunks(t, payload, 0, len(payload), 10<<10, int64(len(payload))); code != 200 {
			t.Fatalf("other file %d: %d", i, code)
		}
	}
	if names := keptOnDisk(t, cfg, "files"); countSuffix(names, ".msg") != 1 {
		t.Fatalf("total quota: room files holds %v, want its oldest evicted", names)
	}
	if names := keptOnDisk(t, cfg, "other"); countSuffix(names, ".msg") != 2 {
		t.Fatalf("total quota: room other holds %v", names)
	}
	if v := metricLine(t, d, "parley_kept_files_evicted_total"); v != "2" {
		t.Fatalf("parley_kept_files_evicted_total = %q, want 2", v)
	}
	dave := join(t, d, joinOptions{room: "files", name: "dave", transport: "tcp", label: "main"})
	if _, got := fileOf(t, dave.msrp.nextMessage(t).Body); !bytes.Equal(got, files[2]) {
		t.Fatalf("later joiner got a %d-byte file, want the newest", len(got))
	}
	sentinel := cpimBody("sip:dave@example.com", "sip:files@example.net", "sentinel")
	eve := join(t, d, joinOptions{room: "files", name: "eve", transport: "tcp", label: "main"})
	if _, got := fileOf(t, eve.msrp.nextMessage(t).Body); !bytes.Equal(got, files[2]) {
		t.Fatalf("eve got a %d-byte file first", len(got))
	}
	dave.msrp.send("message/cpim", sentinel)
	if got := eve.msrp.nextMessage(t).Body; !bytes.Equal(got, sentinel) {
		t.Fatalf("eve got %.100q, want only the newest file then the sentinel", got)
	}
}

// TestFileDateFromOffer: Content-Disposition carries the file's own dates from a=file-date
// (RFC 5547 §7); without it the modification date is the arrival time.
func TestFileDateFromOffer(t *testing.T) {
	d := startTestDaemon(t, streamConfig)
	bob := join(t, d, joinOptions{room: "files", name: "bob", transport: "tcp", label: "main"})
	payload := patterned(1000, 6)
	p := openPush(t, d, "files", "alice", "dated.bin", len(payload),
		[]sdp.Attribute{{Key: "file-date", Value: `creation:"Mon, 6 Jan 2025 08:00:00 +0100" modification:"Fri, 10 Jan 2025 09:00:00 +0000"`}})
	if code := p.sendChunks(t, payload, 0, len(payload), len(payload), int64(len(payload))); code != 200 {
		t.Fatalf("file: %d", code)
	}
	cd, _ := fileOf(t, bob.msrp.nextMessage(t).Body)
	if !strings.Contains(cd, `modification-date="Fri, 10 Jan 2025 09:00:00 +0000"`) ||
		!strings.Contains(cd, `creation-date="Mon, 6 Jan 2025 08:00:00 +0100"`) {
		t.Fatalf("disposition %q lacks the file's own dates", cd)
	}

	before := time.Now().Add(-time.Second)
	p = openPush(t, d, "files", "alice", "undated.bin", len(payload), nil)
	if code := p.sendChunks(t, payload, 0, len(payload), len(payload), int64(len(payload))); code != 200 {
		t.Fatalf("file: %d", code)
	}
	cd, _ = fileOf(t, bob.msrp.nextMessage(t).Body)
	_, params, _ := strings.Cut(cd, `modification-date="`)
	date, _, _ := strings.Cut(params, `"`)
	if when, err := sdp.ParseDateTime(date); err != nil || when.Before(before) || strings.Contains(cd, "creation-date") {
		t.Fatalf("disposition %q: want the arrival time as modification date (%v)", cd, err)
	}
}

// TestFileToGroup: a Subject naming two participants (by URI and by @nickname) sends the file to
// both, not to the third;
// a later joiner outside the group does not get it, a member who rejoins does; a name that is
// no participant gets 404.
func TestFileToGroup(t *testing.T) {
	d := startTestDaemon(t, streamConfig)
	bob := join(t, d, joinOptions{room: "files", name: "bob", transport: "tcp", label: "main"})
	carol := join(t, d, joinOptions{room: "files", name: "carol", transport: "tcp", label: "main"})
	dave := join(t, d, joinOptions{room: "files", name: "dave", transport: "tcp", label: "main"})
	nickname(t, carol, "Caro")
	payload := patterned(40<<10, 7)
	p := openPush(t, d, "files", "alice", "group.bin", len(payload), nil,
		sip.NewHeader("Subject", "sip:bob@example.com, @caro"))
	if code := p.sendChunks(t, payload, 0, len(payload), 20<<10, int64(len(payload))); code != 200 {
		t.Fatalf("file: %d", code)
	}
	for _, who := range []*participant{bob, carol} {
		body := who.msrp.nextMessage(t).Body
		msg, err := cpim.Parse(body)
		if err != nil || !bytes.Equal(msg.Body, payload) || len(msg.To) != 2 {
			t.Fatalf("%s got %d bytes, To %v (%v)", who.name, len(msg.Body), msg.To, err)
		}
		tos := []string{msg.To[0].URI, msg.To[1].URI}
		if !slices.Contains(tos, "sip:bob@example.com") || !slices.Contains(tos, "sip:carol@example.com") {
			t.Fatalf("%s: CPIM To %v", who.name, tos)
		}
	}
	sentinel := cpimBody("sip:bob@example.com", "sip:files@example.net", "sentinel")
	bob.msrp.send("message/cpim", sentinel)
	if got := dave.msrp.nextMessage(t).Body; !bytes.Equal(got, sentinel) {
		t.Fatalf("dave, outside the group, got %.100q", got)
	}
	eve := join(t, d, joinOptions{room: "files", name: "eve", transport: "tcp", label: "main"})
	carol2 := join(t, d, joinOptions{room: "files", name: "carol", transport: "tcp", label: "main"})
	if _, got := fileOf(t, carol2.msrp.nextMessage(t).Body); !bytes.Equal(got, payload) {
		t.Fatal("a member of the group rejoining did not get the kept file")
	}
	sentinel2 := cpimBody("sip:bob@example.com", "sip:files@example.net", "sentinel 2")
	bob.msrp.send("message/cpim", sentinel2)
	if got := eve.msrp.nextMessage(t).Body; !bytes.Equal(got, sentinel2) {
		t.Fatalf("eve, outside the group, got %.100q from the kept files", got)
	}

	for _, subject := range []string{"sip:bob@example.com, sip:nobody@example.com", "xcon-userid:carol@example.com, @nobody"} {
		p = openPush(t, d, "files", "alice", "nobody.bin", len(payload), nil, sip.NewHeader("Subject", subject))
		if code := p.sendChunks(t, payload, 0, len(payload), 20<<10, int64(len(payload))); code != 404 {
			t.Fatalf("file to %q: %d, want 404", subject, code)
		}
	}
}

// TestDeletedRoomDropsKeptFiles: deleting a room deletes its kept files from disk.
func TestDeletedRoomDropsKeptFiles(t *testing.T) {
	var cfg *configs.Config
	d := startTestDaemon(t, func(c *configs.Config) { streamConfig(c); cfg = c })
	payload := patterned(30<<10, 8)
	p := openPush(t, d, "files", "alice", "gone.bin", len(payload), nil)
	if code := p.sendChunks(t, payload, 0, len(payload), 10<<10, int64(len(payload))); code != 200 {
		t.Fatalf("file: %d", code)
	}
	if names := keptOnDisk(t, cfg, "files"); countSuffix(names, ".msg") != 1 {
		t.Fatalf("kept: %v", names)
	}
	if err := d.focus.DeleteRoom(context.Background(), "files"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "files", "files")); !os.IsNotExist(err) {
		t.Fatalf("the deleted room's files are still on disk (%v): %v", err, keptOnDisk(t, cfg, "files"))
	}
}

// TestJoinerDuringTransferGetsTheFile: who joins while a file is on its way gets it once it is
// complete, exactly once.
func TestJoinerDuringTransferGetsTheFile(t *testing.T) {
	d := startTestDaemon(t, streamConfig)
	bob := join(t, d, joinOptions{room: "files", name: "bob", transport: "tcp", label: "main"})
	payload := patterned(120<<10, 9)
	p := openPush(t, d, "files", "alice", "midway.bin", len(payload), nil)
	if code := p.sendChunks(t, payload, 0, 60<<10, 20<<10, int64(len(payload))); code != 200 {
		t.Fatalf("first half: %d", code)
	}
	eve := join(t, d, joinOptions{room: "files", name: "eve", transport: "tcp", label: "main"})
	if code := p.sendChunks(t, payload, 60<<10, len(payload), 20<<10, int64(len(payload))); code != 200 {
		t.Fatalf("second half: %d", code)
	}
	for _, who := range []*participant{bob, eve} {
		if _, got := fileOf(t, who.msrp.nextMessage(t).Body); !bytes.Equal(got, payload) {
			t.Fatalf("%s got %d bytes, want %d", who.name, len(got), len(payload))
		}
	}
	sentinel := cpimBody("sip:bob@example.com", "sip:files@example.net", "sentinel")
	bob.msrp.send("message/cpim", sentinel)
	if got := eve.msrp.nextMessage(t).Body; !bytes.Equal(got, sentinel) {
		t.Fatalf("eve got %.100q, want the file only once", got)
	}
}

// TestFileBeyondMaxFileSize: max_file_size bounds a pushed file, declared (413 on its first
// chunk) or of unknown size (413 once it passes the limit), and nothing is kept.
func TestFileBeyondMaxFileSize(t *testing.T) {
	var cfg *configs.Config
	d := startTestDaemon(t, func(c *configs.Config) { streamConfig(c); c.MaxFileSize = 100 << 10; cfg = c })
	payload := patterned(120<<10, 11)
	p := openPush(t, d, "files", "alice", "declared.bin", len(payload), nil)
	if code := p.sendChunks(t, payload, 0, len(payload), 20<<10, int64(len(payload))); code != 413 {
		t.Fatalf("declared beyond max_file_size: %d, want 413", code)
	}
	p = openPush(t, d, "files", "alice", "selector.bin", len(payload), nil)
	if code := p.sendChunks(t, payload, 0, len(payload), 20<<10, -1); code != 413 {
		t.Fatalf("selector size beyond max_file_size: %d, want 413", code)
	}
	p = openPush(t, d, "files", "alice", "unknown.bin", -1, nil)
	if code := p.sendChunks(t, payload, 0, len(payload), 20<<10, -1); code != 413 {
		t.Fatalf("unknown size beyond max_file_size: %d, want 413", code)
	}
	if v := metricLine(t, d, "parley_files_too_large_total"); v != "1" {
		t.Fatalf("parley_files_too_large_total = %q, want 1 (the selector's size)", v)
	}
	if v := metricLine(t, d, "parley_files_aborted_total"); v != "1" {
		t.Fatalf("parley_files_aborted_total = %q, want 1 (the file of unknown size stopped midway)", v)
	}
	p = openPush(t, d, "files", "alice", "fits.bin", 90<<10, nil)
	if code := p.sendChunks(t, payload[:90<<10], 0, 90<<10, 30<<10, 90<<10); code != 200 {
		t.Fatalf("within max_file_size: %d", code)
	}
	for end := time.Now().Add(10 * time.Second); countSuffix(keptOnDisk(t, cfg, "files"), ".part") > 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if names := keptOnDisk(t, cfg, "files"); len(names) != 2 || countSuffix(names, ".msg") != 1 {
		t.Fatalf("the disk holds %v, want only the file that fits", names)
	}
}

// TestSlowRecipientOfAFile: a recipient that stops reading while a file streams through is
// dropped alone once its queue passes max_pending_bytes; the others get the whole file.
func TestSlowRecipientOfAFile(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { streamConfig(c); c.MSRP.MaxPendingBytes = 256 << 10 })
	bob := join(t, d, joinOptions{room: "files", name: "bob", transport: "tcp", label: "main"})
	stalled := join(t, d, joinOptions{room: "files", name: "carol", transport: "udp", label: "main"})
	stalled.msrp.stopReading()
	payload := patterned(16<<20, 12) // far more than loopback socket buffers and the queue hold
	p := openPush(t, d, "files", "alice", "huge.bin", len(payload), nil)
	// The sender keeps pace with bob, as a client reading its responses would, so that only
	// carol's queue grows.
	const step = 64 << 10
	for off := 0; off < len(payload); off += step {
		for end := time.Now().Add(20 * time.Second); bob.msrp.SendBytes.Load() < int64(off-step) && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		if code := p.sendChunks(t, payload, off, min(off+step, len(payload)), 32<<10, int64(len(payload))); code != 200 {
			t.Fatalf("file at %d: %d", off, code)
		}
	}
	if _, got := fileOf(t, bob.msrp.nextMessage(t).Body); !bytes.Equal(got, payload) {
		t.Fatalf("bob got %d bytes, want %d", len(got), len(payload))
	}
	select {
	case <-stalled.sip.byes:
	case <-time.After(20 * time.Second):
		t.Fatal("the stalled participant was never dropped")
	}
}
