package main

import (
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/msrp"
)

// benchPeer is one member of a load run on the MSRP side: a raw connection, its own parser and
// writer, so that the load tool measures the server and not a general-purpose endpoint. It
// answers every SEND it receives with 200 and times the ones that carry this run's stamp.
type benchPeer struct {
	conn   net.Conn
	local  msrp.URI
	remote []msrp.URI
	stats  *benchStats
	run    [runIDLen]byte

	window   chan struct{} // one token per SEND in flight
	inFlght  atomic.Int64
	wmu      sync.Mutex // one writer at a time: answers and SENDs share the socket
	bound    chan error // the binding SEND's answer
	bindTID  string
	template []byte // a sender's CPIM body; its tail is rewritten with the stamp per message
}

// A stamped body ends in "|" + run id + "|" + 16 hex digits of nanoseconds since the run's epoch.
const (
	runIDLen    = 8
	stampSuffix = 1 + runIDLen + 1 + 16
)

func newBenchPeer(conn net.Conn, local msrp.URI, remote []msrp.URI, stats *benchStats, run [runIDLen]byte, window int) *benchPeer {
	return &benchPeer{conn: conn, local: local, remote: remote, stats: stats, run: run,
		window: make(chan struct{}, window), bound: make(chan error, 1)}
}

// bind sends the bodiless SEND that binds the session (RFC 4975 §5.4) and waits for its answer.
func (p *benchPeer) bind(timeout time.Duration) error {
	p.bindTID = msrp.NewTransactionID()
	m := &msrp.Message{TransactionID: p.bindTID, Method: "SEND", ToPath: p.remote, FromPath: []msrp.URI{p.local},
		MessageID: msrp.NewMessageID(), ByteRange: msrp.ByteRange{Start: 1, End: 0, Total: 0}}
	if err := p.write(m.AppendTo(nil)); err != nil {
		return err
	}
	select {
	case err := <-p.bound:
		return err
	case <-time.After(timeout):
		return errors.New("no answer to the binding SEND")
	}
}

func (p *benchPeer) write(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.conn.Write(b)
	return err
}

// readLoop parses what arrives: answers free window slots, SENDs are answered 200 when their
// Failure-Report asks for it (all in one write per read) and, when stamped by this run, timed.
func (p *benchPeer) readLoop() {
	epoch := p.stats.epoch
	parser := msrp.NewParser(0, 0)
	buf := make([]byte, 64<<10)
	var out []byte
	from := []msrp.URI{p.local}
	for {
		n, err := p.conn.Read(buf)
		if err != nil {
			select {
			case p.bound <- err:
			default:
			}
			return
		}
		out = out[:0]
		perr := parser.Parse(buf[:n], func(m *msrp.Message, _ error) error {
			switch {
			case m.IsResponse():
				if m.TransactionID == p.bindTID {
					var err error
					if m.StatusCode != 200 {
						err = &msrp.StatusError{Code: m.StatusCode, Comment: m.Comment}
					}
					p.bound <- err
					return nil
				}
				p.inFlght.Add(-1)
				<-p.window
				if m.StatusCode == 200 {
					p.stats.acked.Add(1)
				} else {
					p.stats.refused(m.StatusCode)
				}
			case m.Method == "SEND":
				if m.FailureReport != "no" && m.FailureReport != "partial" { // partial: failures only (RFC 4975 §7.1.1)
					out = (&msrp.Message{TransactionID: m.TransactionID, StatusCode: 200, Comment: "OK",
						ToPath: m.FromPath[:1], FromPath: from}).AppendTo(out)
				}
				if sent, ok := p.stamp(m.Body); ok {
					p.stats.delivered(time.Since(epoch) - sent)
				}
			}
			return nil
		})
		if len(out) > 0 {
			if err := p.write(out); err != nil {
				return
			}
		}
		if perr != nil {
			return
		}
	}
}

// stamp reads the send time out of a body this run wrote.
func (p *benchPeer) stamp(body []byte) (time.Duration, bool) {
	if len(body) < stampSuffix {
		return 0, false
	}
	s := body[len(body)-stampSuffix:]
	if s[0] != '|' || string(s[1:1+runIDLen]) != string(p.run[:]) || s[1+runIDLen] != '|' {
		return 0, false
	}
	var t [8]byte
	if _, err := hex.Decode(t[:], s[2+runIDLen:]); err != nil {
		return 0, false
	}
	var ns int64
	for _, b := range t {
		ns = ns<<8 | int64(b)
	}
	return time.Duration(ns), true
}

// sendLoop keeps the window full until stop: each round takes every free slot, writes that many
// SENDs in one write, and waits for the next free slot. With rate > 0 it sends at most rate
// messages per second.
func (p *benchPeer) sendLoop(stop <-chan struct{}, rate int) {
	epoch, template := p.stats.epoch, p.template
	msg := &msrp.Message{Method: "SEND", ToPath: p.remote, FromPath: []msrp.URI{p.local}, ContentType: "message/cpim",
		ByteRange: msrp.ByteRange{Start: 1, End: int64(len(template)), Total: int64(len(template))}}
	body := append([]byte(nil), template...)
	copy(body[len(body)-stampSuffix:], "|")
	copy(body[len(body)-stampSuffix+1:], p.run[:])
	body[len(body)-16-1] = '|'
	msg.Body = body
	var out []byte
	paceStart, sentTotal := time.Now(), int64(0)
	for {
		select {
		case <-stop:
			return
		case p.window <- struct{}{}:
		}
		n := 1
		if rate > 0 {
			// Paced: wait until the schedule allows the next message.
			due := time.Duration(float64(sentTotal) / float64(rate) * float64(time.Second))
			if wait := due - time.Since(paceStart); wait > 0 {
				select {
				case <-stop:
					<-p.window
					return
				case <-time.After(wait):
				}
			}
			sentTotal++
			goto send
		}
	fill:
		for n < cap(p.window) {
			select {
			case p.window <- struct{}{}:
				n++
			default:
				break fill
			}
		}
	send:
		out = out[:0]
		for i := 0; i < n; i++ {
			ns := uint64(time.Since(epoch))
			var t [8]byte
			for j := 7; j >= 0; j-- {
				t[j] = byte(ns)
				ns >>= 8
			}
			hex.Encode(body[len(body)-16:], t[:])
			msg.TransactionID = msrp.NewTransactionID()
			msg.MessageID = msrp.NewMessageID()
			out = msg.AppendTo(out)
		}
		p.inFlght.Add(int64(n))
		p.stats.sent.Add(int64(n))
		if err := p.write(out); err != nil {
			p.stats.errors.Add(1)
			return
		}
	}
}
