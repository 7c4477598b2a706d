package msrp_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/msrptest"
)

// gateTransport holds the writer inside WriteBuffers while shut, so a test can queue traffic behind a write
// in progress without timing. entered reports each held write; step lets one through, open all.
type gateTransport struct {
	msrp.Transport
	mu      sync.Mutex
	shut    bool
	permit  chan struct{}
	entered chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newGate(t msrp.Transport) *gateTransport {
	return &gateTransport{Transport: t, permit: make(chan struct{}, 1), entered: make(chan struct{}, 64), done: make(chan struct{})}
}

func (g *gateTransport) WriteBuffers(b *net.Buffers) (int64, error) {
	g.mu.Lock()
	shut := g.shut
	g.mu.Unlock()
	if shut {
		g.entered <- struct{}{}
		select {
		case <-g.permit:
		case <-g.done:
			return 0, net.ErrClosed
		}
	}
	return g.Transport.WriteBuffers(b)
}

func (g *gateTransport) Close() error {
	g.once.Do(func() { close(g.done) })
	return g.Transport.Close()
}

func (g *gateTransport) close() { g.mu.Lock(); g.shut = true; g.mu.Unlock() }
func (g *gateTransport) step()  { g.permit <- struct{}{} }
func (g *gateTransport) open()  { g.mu.Lock(); g.shut = false; g.mu.Unlock(); g.permit <- struct{}{} }

func (g *gateTransport) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-g.done:
		t.Fatal("transport closed")
	}
}

// gatedServer is server() whose accepted connections run over gateTransports, handed out on the channel.
func gatedServer(t *testing.T, cfg msrp.Config) (*msrp.Endpoint, string, chan *gateTransport) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdvertisedHost, cfg.AdvertisedPort = "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
	e := msrp.NewEndpoint(cfg)
	gates := make(chan *gateTransport, 8)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			g := newGate(msrp.NewNetTransport(nc))
			gates <- g
			e.ServeTransport(g)
		}
	}()
	t.Cleanup(func() { ln.Close(); e.Close() })
	return e, ln.Addr().String(), gates
}

func randomBody(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	// Decoys for the end-line scan: dashes that are not an end-line (RFC 4975 §7.1).
	copy(b[1000:], "\r\n-------abc+\r\n")
	return b
}

// largeTransfer collects what a peer sees of one chunked message among other frames.
type largeTransfer struct {
	mid      string
	data     []byte
	chunks   int
	complete bool
	tids     map[string]bool
}

func (lt *largeTransfer) add(t *testing.T, m *msrp.Message) {
	t.Helper()
	if lt.tids[m.TransactionID] {
		t.Fatalf("transaction-id %s reused across chunks", m.TransactionID)
	}
	lt.tids[m.TransactionID] = true
	if m.ByteRange.Start != int64(len(lt.data))+1 {
		t.Fatalf("chunk %d starts at %d, want %d (resume at the first unsent byte)", lt.chunks, m.ByteRange.Start, len(lt.data)+1)
	}
	if len(m.Body) > msrp.MaxUninterruptible && m.ByteRange.End != -1 {
		t.Fatalf("chunk of %d bytes has range-end %d, want '*'", len(m.Body), m.ByteRange.End)
	}
	lt.data = append(lt.data, m.Body...)
	lt.chunks++
	lt.complete = m.Flag == msrp.FlagEnd
}

// TestChunking_ShortMessagesOvertakeLarge: a 5 MiB message is being written when three short messages are
// queued; they reach the peer before the large one completes, which still reassembles byte-exact
// (RFC 4975 §7.1.1). The writer is held inside its first write, so the order does not depend on timing.
func TestChunking_ShortMessagesOvertakeLarge(t *testing.T) {
	tests := []struct {
		name    string
		preBind bool // queue everything before the session is bound (the pre-bind backlog path)
	}{
		{"while writing", false},
		{"pre-bind backlog", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			srv, addr, gates := gatedServer(t, msrp.Config{MaxMessageSize: 8 << 20, MaxPendingBytes: 16 << 20})
			s := srv.NewSession(rec)
			p := dial(t, addr, true)
			s.SetRemotePath([]msrp.URI{p.Local})
			large := randomBody(5 << 20)
			shorts := []string{"short one", "short two", "short three"}
			sendShorts := func() {
				for _, m := range shorts {
					if err := s.Send("text/plain", []byte(m)); err != nil {
						t.Fatal(err)
					}
				}
			}
			g := <-gates
			if tt.preBind {
				if err := s.Send("application/octet-stream", large); err != nil {
					t.Fatal(err)
				}
				sendShorts()
				p.Write(sendTo(s, "bind", "", ""))
			} else {
				p.Write(sendTo(s, "bind", "", ""))
				p.ExpectNext(t, "bind", 200)
				g.close()
				if err := s.Send("application/octet-stream", large); err != nil {
					t.Fatal(err)
				}
				g.waitEntered(t) // the writer holds the first piece of the large message
				sendShorts()
				g.open()
			}
			lt := &largeTransfer{tids: map[string]bool{}}
			var order []string
			for !lt.complete {
				m := p.Next(t)
				switch {
				case m.IsResponse():
					continue
				case m.ContentType == "application/octet-stream":
					lt.add(t, m)
					if lt.complete {
						order = append(order, "large complete")
					}
				default:
					order = append(order, string(m.Body))
				}
			}
			want := []string{"short one", "short two", "short three", "large complete"}
			if strings.Join(order, "|") != strings.Join(want, "|") {
				t.Fatalf("arrival order %q, want %q", order, want)
			}
			if !tt.preBind && lt.chunks < 2 {
				t.Fatalf("large message sent in %d chunk(s); it should have been interrupted", lt.chunks)
			}
			if !bytes.Equal(lt.data, large) {
				t.Fatalf("large message differs after reassembly (%d bytes, want %d)", len(lt.data), len(large))
			}
		})
	}
}

// TestChunking_FairBetweenLargeMessages: two large messages on one connection share it (RFC 4975 §7.1.1:
// SHOULD share fairly): the second completes before the first has sent everything.
func TestChunking_FairBetweenLargeMessages(t *testing.T) {
	srv, addr, gates := gatedServer(t, msrp.Config{MaxMessageSize: 8 << 20, MaxPendingBytes: 32 << 20, ChunkQuantum: 16 << 10})
	a, b := srv.NewSession(newRecorder()), srv.NewSession(newRecorder())
	p := dial(t, addr, true)
	a.SetRemotePath([]msrp.URI{p.Local})
	b.SetRemotePath([]msrp.URI{p.Local})
	g := <-gates
	p.Write(sendTo(a, "ba", "", ""))
	p.ExpectNext(t, "ba", 200)
	p.Write(sendTo(b, "bb", "", ""))
	p.ExpectNext(t, "bb", 200)
	g.close()
	bigA, bigB := randomBody(4<<20), randomBody(1<<20)
	if err := a.Send("application/a", bigA); err != nil {
		t.Fatal(err)
	}
	g.waitEntered(t)
	if err := b.Send("application/b", bigB); err != nil {
		t.Fatal(err)
	}
	g.open()
	got := map[string]*largeTransfer{"application/a": {tids: map[string]bool{}}, "application/b": {tids: map[string]bool{}}}
	var first string
	for !got["application/a"].complete || !got["application/b"].complete {
		m := p.Next(t)
		lt := got[m.ContentType]
		lt.add(t, m)
		if lt.complete && first == "" {
			first = m.ContentType
		}
	}
	if first != "application/b" {
		t.Fatalf("%s completed first; the 1 MiB message should not wait for the whole 4 MiB one", first)
	}
	if !bytes.Equal(got["application/a"].data, bigA) || !bytes.Equal(got["application/b"].data, bigB) {
		t.Fatal("reassembled bodies differ")
	}
}

// TestChunking_StopOn413: after a 413 for the message, in a response or in a REPORT, the chunk in progress
// ends with '#' and nothing more of that Message-ID is sent (RFC 4975 §10.5, §7.3.2); the application is told.
func TestChunking_StopOn413(t *testing.T) {
	tests := []struct {
		name   string
		answer func(t *testing.T, p *msrptest.Peer, tid, mid string, s *msrp.Session)
	}{
		{"413 response", func(t *testing.T, p *msrptest.Peer, tid, mid string, s *msrp.Session) {
			write(t, p, "MSRP "+tid+" 413 Too big\nTo-Path: "+s.LocalURI().String()+"\nFrom-Path: "+p.Local.String()+"\n-------"+tid+"$\n")
		}},
		{"413 REPORT", func(t *testing.T, p *msrptest.Peer, tid, mid string, s *msrp.Session) {
			write(t, p, "MSRP rep413 REPORT\nTo-Path: "+s.LocalURI().String()+"\nFrom-Path: "+p.Local.String()+
				"\nMessage-ID: "+mid+"\nByte-Range: 1-100/5242880\nStatus: 000 413 Too big\n-------rep413$\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			srv, addr, gates := gatedServer(t, msrp.Config{MaxMessageSize: 8 << 20, MaxPendingBytes: 16 << 20})
			s := srv.NewSession(rec)
			p := dial(t, addr, false)
			s.SetRemotePath([]msrp.URI{p.Local})
			g := <-gates
			p.Write(sendTo(s, "bind", "", ""))
			var stream []byte
			buf := make([]byte, 64<<10)
			readUntil := func(sub string) {
				for !bytes.Contains(stream, []byte(sub)) {
					n, err := p.Conn.Read(buf)
					if err != nil {
						t.Fatal(err)
					}
					stream = append(stream, buf[:n]...)
				}
			}
			readUntil("-------bind$\r\n")
			g.close()
			m := &msrp.Message{ContentType: "application/octet-stream", Body: randomBody(5 << 20)}
			if err := s.SendMessage(m); err != nil {
				t.Fatal(err)
			}
			g.waitEntered(t)
			g.step() // head and first piece go out
			g.waitEntered(t)
			readUntil("Content-Type: application/octet-stream\r\n\r\n")
			start := bytes.Index(stream, []byte("MSRP ")) // the 200 to "bind" comes first
			start += bytes.Index(stream[start+1:], []byte("MSRP ")) + 1
			tid := string(stream[start+5 : start+5+bytes.IndexByte(stream[start+5:], ' ')])
			tt.answer(t, p, tid, m.MessageID, s)
			if f := rec.nextFailure(t); f.s != s || f.mid != m.MessageID || f.code != 413 {
				t.Fatalf("DeliveryFailed %+v, want 413 for %s", f, m.MessageID)
			}
			g.open()
			if err := s.Send("text/plain", []byte("after")); err != nil {
				t.Fatal(err)
			}
			readUntil("-------")
			var frames []*msrp.Message
			parser := msrp.NewParser(0, 16<<20)
			collect := func(m *msrp.Message, _ error) error { frames = append(frames, m.Clone()); return nil }
			parser.Parse(stream, collect)
			for len(frames) < 3 {
				n, err := p.Conn.Read(buf)
				if err != nil {
					t.Fatal(err)
				}
				parser.Parse(buf[:n], collect)
			}
			// frames: 200 for bind, the interrupted chunk, then "after" and nothing more of the large message.
			chunk, after := frames[1], frames[2]
			if chunk.MessageID != m.MessageID || chunk.Flag != msrp.FlagAbort || len(chunk.Body) == 0 || len(chunk.Body) >= 5<<20 {
				t.Fatalf("chunk in progress: flag %q, %d bytes", chunk.Flag, len(chunk.Body))
			}
			if string(after.Body) != "after" {
				t.Fatalf("after the '#' came %q", after.AppendTo(nil)[:min(200, after.Size())])
			}
		})
	}
}

// TestChunking_LargeSendReachesEndpoint: a large message between two Endpoints arrives whole through the
// receiver's reassembly, and chunk responses settle every transaction.
func TestChunking_LargeSendReachesEndpoint(t *testing.T) {
	srvRec, cliRec := newRecorder(), newRecorder()
	srv, _ := server(t, msrp.Config{MaxMessageSize: 4 << 20})
	cli := msrp.NewEndpoint(msrp.Config{AdvertisedHost: "127.0.0.1", AdvertisedPort: 9, MaxMessageSize: 4 << 20})
	t.Cleanup(func() { cli.Close() })
	ss, cs := srv.NewSession(srvRec), cli.NewSession(cliRec)
	cs.SetRemotePath([]msrp.URI{ss.LocalURI()})
	ss.SetRemotePath([]msrp.URI{cs.LocalURI()})
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	if err := cs.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	body := randomBody(3 << 20)
	if err := cs.Send("application/octet-stream", body); err != nil {
		t.Fatal(err)
	}
	if err := cs.Send("text/plain", []byte("small")); err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	for len(got) < 2 {
		m := srvRec.nextMsg(t)
		got[m.ContentType] = m.Body
	}
	if !bytes.Equal(got["application/octet-stream"], body) || string(got["text/plain"]) != "small" {
		t.Fatal("bodies differ")
	}
}
