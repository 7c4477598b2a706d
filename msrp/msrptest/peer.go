// Package msrptest is a scripted MSRP peer for tests: it dials or accepts a real connection,
// sends SENDs and REPORTs, answers the far end's SENDs, and hands every frame it reads to the
// test, with timeouts; and a connection wrapper that records the frames both ways.
package msrptest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/msrp"
)

// DefaultTimeout bounds every wait for a frame: a guard against hanging, not a timing assertion.
const DefaultTimeout = 20 * time.Second

// Wire is what a peer talks over: a byte stream of MSRP frames. A net.Conn is one; a wire
// that also has ReadMessage (one WebSocket message, say) is read a message at a time.
type Wire interface {
	Read(p []byte) (int, error)
	Write(frame []byte) (int, error) // one whole frame, or several
	Close() error
}

// MessageReader is a Wire whose reads come a message at a time.
type MessageReader interface {
	ReadMessage() ([]byte, error)
}

// Peer is one MSRP session end driven by a test. Set the options before Dial, Accept or Start.
type Peer struct {
	Local  msrp.URI   // From-Path of what the peer sends
	Remote []msrp.URI // To-Path of what the peer sends
	Conn   net.Conn   // the connection, when the wire is one
	Wire   Wire

	// Frames is every frame read from the far end, in order; closed when the wire ends.
	Frames chan *msrp.Message
	// Stash holds the requests that arrived while Response waited; Next returns them first.
	Stash []*msrp.Message

	Timeout    time.Duration // for every wait; 0: DefaultTimeout
	Reassemble bool          // hand over a chunked SEND (RFC 4975 §7.1.1) once, whole, at its last chunk
	// WholeFrames: each read of the wire must hold exactly one whole frame (as each WebSocket
	// message does, RFC 7977 §4); a read that does not, or a malformed frame, fails the test.
	WholeFrames bool
	// Quiet: no answers to the far end's SENDs. Otherwise each SEND that asks for one (RFC 4975
	// §7.1.1: Failure-Report other than no or partial) is answered with 200, or Refuse.
	Quiet bool
	// NoReading: Start starts no reading; the test reads Conn itself, or nothing, as a client
	// that never reads. Frames stays empty.
	NoReading bool
	Refuse    atomic.Int32 // when set, the status the peer answers SENDs with

	Aborted   atomic.Int32 // SENDs that ended with '#'
	SendBytes atomic.Int64 // body bytes of the SENDs read so far, chunks included

	// Handle, when set, takes every frame instead of Frames, from the reading goroutine; the
	// frame is the parser's and valid only during the call (Clone it to keep it).
	Handle func(*msrp.Message)

	// Cleanup registers what ends the peer; nil: t.Cleanup.
	Cleanup func(func())

	t         testing.TB
	wmu       sync.Mutex
	hold      chan struct{}
	holdOnce  sync.Once
	closed    chan struct{}
	closeOnce sync.Once
	gateMu    sync.Mutex
	gate      chan struct{}
	answers   []byte // the answers to the read being parsed
}

// New returns a peer, not yet connected, whose local URI is msrp://127.0.0.1:9/SID;tcp with a
// fresh session-id (port 9: the peer connects actively, RFC 4145).
func New(t testing.TB) *Peer {
	return &Peer{
		t:      t,
		Local:  msrp.URI{Host: "127.0.0.1", Port: 9, SessionID: msrp.NewSessionID(), Transport: "tcp"},
		Frames: make(chan *msrp.Message, 8192),
		hold:   make(chan struct{}),
		closed: make(chan struct{}),
	}
}

// Dial connects to the first hop of path with dialer (nil: the zero Dialer), takes path as
// Remote and starts reading.
func (p *Peer) Dial(t testing.TB, path []msrp.URI, dialer *net.Dialer) {
	t.Helper()
	if dialer == nil {
		dialer = &net.Dialer{}
	}
	c, err := dialer.Dial("tcp", path[0].HostPort())
	if err != nil {
		t.Fatal(err)
	}
	p.Remote = path
	p.Start(c)
}

// Accept takes the next connection on ln and starts reading it.
func (p *Peer) Accept(t testing.TB, ln net.Listener) {
	t.Helper()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	p.Start(c)
}

// Start reads w from now on; the peer closes with the test (or Cleanup). Conn, when not set
// already, is w if w is a net.Conn.
func (p *Peer) Start(w Wire) {
	p.Wire = w
	if c, ok := w.(net.Conn); ok && p.Conn == nil {
		p.Conn = c
	}
	if p.Cleanup != nil {
		p.Cleanup(p.Close)
	} else {
		p.t.Cleanup(p.Close)
	}
	if !p.NoReading {
		go p.readLoop()
	}
}

// Close closes the wire; the peer reads no more.
func (p *Peer) Close() {
	p.closeOnce.Do(func() {
		if p.Wire != nil {
			p.Wire.Close()
		}
		close(p.closed)
	})
}

// Done is closed by Close.
func (p *Peer) Done() <-chan struct{} { return p.closed }

// Bind binds the session with a bodiless SEND (RFC 4975 §5.4) and fails the test unless it is
// answered 200; requests that arrive first are kept for Next.
func (p *Peer) Bind(t testing.TB) *msrp.Message {
	t.Helper()
	tid := p.Write(&msrp.Message{Method: "SEND", MessageID: msrp.NewMessageID(), ByteRange: msrp.ByteRange{Start: 1, End: 0, Total: 0}})
	r := p.Response(t, tid)
	if r.StatusCode != 200 {
		t.Fatalf("bind: %d %s", r.StatusCode, r.Comment)
	}
	return r
}

func (p *Peer) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultTimeout
}

func (p *Peer) readLoop() {
	defer close(p.Frames)
	parser := msrp.NewParser(0, 16<<20)
	partial := map[string][]byte{} // bodies of chunked messages so far, by Message-ID
	mr, byMessage := p.Wire.(MessageReader)
	buf := make([]byte, 64<<10)
	for {
		var data []byte
		var err error
		if byMessage {
			data, err = mr.ReadMessage()
		} else {
			var n int
			n, err = p.Wire.Read(buf)
			data = buf[:n]
		}
		if len(data) > 0 {
			frames := 0
			perr := parser.Parse(data, func(f *msrp.Message, ferr error) error {
				if ferr != nil && p.WholeFrames {
					return ferr
				}
				frames++
				if p.Handle != nil {
					p.answer(f)
					p.Handle(f)
					return nil
				}
				f = p.received(f.Clone(), partial)
				p.flushAnswers() // before a push that may wait for the test
				if f != nil {
					p.Frames <- f
				}
				return nil
			})
			p.flushAnswers()
			if perr == nil && p.WholeFrames && (frames != 1 || parser.InFrame()) {
				p.t.Errorf("a read of %d frames (partial %v), want one whole frame", frames, parser.InFrame())
				return
			}
			if perr != nil {
				p.t.Errorf("peer parse: %v", perr)
				return
			}
		}
		if err != nil {
			return
		}
		select {
		case <-p.hold:
			<-p.closed // never reads again
			return
		default:
		}
		p.gateMu.Lock()
		gate := p.gate
		p.gateMu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-p.closed:
				return
			}
		}
	}
}

// received answers and counts a frame, and returns what to hand over (nil: a chunk kept).
func (p *Peer) received(f *msrp.Message, partial map[string][]byte) *msrp.Message {
	if f.Method != "SEND" {
		return f
	}
	p.answer(f)
	if f.Flag == msrp.FlagAbort {
		p.Aborted.Add(1)
	}
	if !p.Reassemble || (f.Flag != msrp.FlagMore && f.Flag != msrp.FlagAbort && partial[f.MessageID] == nil) {
		return f
	}
	whole := append(partial[f.MessageID], f.Body...)
	switch f.Flag {
	case msrp.FlagMore:
		partial[f.MessageID] = whole
		return nil
	case msrp.FlagAbort:
		delete(partial, f.MessageID)
		return nil
	}
	delete(partial, f.MessageID)
	f.Body = whole
	return f
}

// answer counts a SEND and queues its answer, written once the read it came in is parsed.
func (p *Peer) answer(f *msrp.Message) {
	if f.Method != "SEND" {
		return
	}
	p.SendBytes.Add(int64(len(f.Body)))
	if p.Quiet || f.FailureReport == "no" || f.FailureReport == "partial" {
		return
	}
	code, comment := 200, "OK"
	if r := p.Refuse.Load(); r != 0 {
		code, comment = int(r), "Refused by the test peer"
	}
	p.answers = (&msrp.Message{TransactionID: f.TransactionID, StatusCode: code, Comment: comment,
		ToPath: f.FromPath[:1], FromPath: []msrp.URI{p.Local}}).AppendTo(p.answers)
}

// flushAnswers writes the queued answers. The far end may already be gone at teardown: an
// answer that cannot be written is no test failure.
func (p *Peer) flushAnswers() {
	if len(p.answers) > 0 {
		_ = p.WriteRaw(p.answers)
		p.answers = p.answers[:0]
	}
}

// Pause makes the peer stop reading after the read in progress, until Resume.
func (p *Peer) Pause() {
	p.gateMu.Lock()
	p.gate = make(chan struct{})
	p.gateMu.Unlock()
}

// Resume undoes Pause.
func (p *Peer) Resume() {
	p.gateMu.Lock()
	close(p.gate)
	p.gate = nil
	p.gateMu.Unlock()
}

// StopReading makes the peer stop reading for good after the read in progress, as a stalled
// client would.
func (p *Peer) StopReading() { p.holdOnce.Do(func() { close(p.hold) }) }

// fill sets an empty transaction-id and paths of a request.
func (p *Peer) fill(msg *msrp.Message) {
	if msg.TransactionID == "" {
		msg.TransactionID = msrp.NewTransactionID()
	}
	if msg.ToPath == nil {
		msg.ToPath = p.Remote
	}
	if msg.FromPath == nil {
		msg.FromPath = []msrp.URI{p.Local}
	}
}

// Write sends a request (transaction-id and paths filled in when empty) or a response, and
// returns its transaction-id; a failed write fails the test.
func (p *Peer) Write(msg *msrp.Message) string {
	p.fill(msg)
	if err := p.WriteRaw(msg.AppendTo(nil)); err != nil {
		p.t.Errorf("peer write: %v", err)
	}
	return msg.TransactionID
}

// WriteQuiet is Write that ignores a failure (the connection closing under it).
func (p *Peer) WriteQuiet(msg *msrp.Message) string {
	p.fill(msg)
	_ = p.WriteRaw(msg.AppendTo(nil))
	return msg.TransactionID
}

// WriteRaw writes bytes as they are, between the peer's other writes.
func (p *Peer) WriteRaw(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.Wire.Write(b)
	return err
}

// Send sends one whole SEND and returns its transaction-id.
func (p *Peer) Send(contentType string, body []byte) string {
	return p.Write(SEND(contentType, body))
}

// SEND is a whole SEND of body, paths and transaction-id left to the peer.
func SEND(contentType string, body []byte) *msrp.Message {
	return &msrp.Message{Method: "SEND", MessageID: msrp.NewMessageID(), ContentType: contentType, Body: body,
		ByteRange: msrp.ByteRange{Start: 1, End: int64(len(body)), Total: int64(len(body))}}
}

// Report sends a REPORT (RFC 4975 §7.1.2) of code for the message messageID, bytes 1 to size of
// size, and returns its transaction-id.
func (p *Peer) Report(messageID string, size int64, code int, comment string) string {
	return p.Write(&msrp.Message{Method: "REPORT", MessageID: messageID,
		ByteRange: msrp.ByteRange{Start: 1, End: size, Total: size}, Status: &msrp.Status{Code: code, Comment: comment}})
}

// Next returns the next frame (stashed requests first), failing the test after the timeout.
func (p *Peer) Next(t testing.TB) *msrp.Message {
	t.Helper()
	if len(p.Stash) > 0 {
		f := p.Stash[0]
		p.Stash = p.Stash[1:]
		return f
	}
	return p.NextFromWire(t)
}

// NextFromWire returns the next frame read, past the stash.
func (p *Peer) NextFromWire(t testing.TB) *msrp.Message {
	t.Helper()
	select {
	case f, ok := <-p.Frames:
		if !ok {
			t.Fatal("MSRP connection closed")
		}
		return f
	case <-time.After(p.timeout()):
		t.Fatal("no MSRP frame from the far end")
	}
	return nil
}

// Response returns the response to transaction tid; requests that arrive meanwhile are kept
// for Next, other responses are dropped.
func (p *Peer) Response(t testing.TB, tid string) *msrp.Message {
	t.Helper()
	for {
		f := p.NextFromWire(t)
		if f.IsResponse() && f.TransactionID == tid {
			return f
		}
		if !f.IsResponse() {
			p.Stash = append(p.Stash, f)
		}
	}
}

// Expect sends nothing and fails the test unless the response to tid has code.
func (p *Peer) Expect(t testing.TB, tid string, code int) *msrp.Message {
	t.Helper()
	r := p.Response(t, tid)
	if r.StatusCode != code {
		t.Fatalf("transaction %s answered %d %s, want %d", tid, r.StatusCode, r.Comment, code)
	}
	return r
}

// ExpectNext fails the test unless the next frame (stashed requests first) is the response to
// tid with code: nothing may come before it.
func (p *Peer) ExpectNext(t testing.TB, tid string, code int) *msrp.Message {
	t.Helper()
	f := p.Next(t)
	if !f.IsResponse() || f.TransactionID != tid || f.StatusCode != code {
		t.Fatalf("want the response %d to %s next, got %q", code, tid, f.AppendTo(nil))
	}
	return f
}

// AwaitClose waits until the far end closes the wire, dropping the frames read meanwhile, and
// fails the test after the timeout.
func (p *Peer) AwaitClose(t testing.TB) {
	t.Helper()
	deadline := time.After(p.timeout())
	for {
		select {
		case _, ok := <-p.Frames:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the far end did not close the MSRP connection")
		}
	}
}

// NextRequest returns the next request, skipping responses.
func (p *Peer) NextRequest(t testing.TB) *msrp.Message {
	t.Helper()
	for {
		if f := p.Next(t); !f.IsResponse() {
			return f
		}
	}
}

// Await returns the first frame that match accepts, dropping the others; what names it in the
// failure.
func (p *Peer) Await(t testing.TB, what string, match func(*msrp.Message) bool) *msrp.Message {
	t.Helper()
	deadline := time.After(p.timeout())
	for {
		if len(p.Stash) > 0 {
			f := p.Stash[0]
			p.Stash = p.Stash[1:]
			if match(f) {
				return f
			}
			continue
		}
		select {
		case f, ok := <-p.Frames:
			if !ok {
				t.Fatalf("MSRP connection closed before %s", what)
			}
			if match(f) {
				return f
			}
		case <-deadline:
			t.Fatalf("no %s from the far end", what)
		}
	}
}
