package sip

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/focus"
)

// dialog is a participant's INVITE dialog, as the focus (the UAS) keeps it for its whole life.
//
// sipgo's DialogServerSession holds the INVITE twice (as parsed and as cloned), its 200, the
// INVITE server transaction with its timers, and the dialog's context: several KiB per member
// of a room for as long as the call lasts. It is used here only to set the dialog up — the
// to-tag, the 2xx retransmissions and the wait for the ACK (RFC 3261 §13.3.1.4) — and is
// dropped once that is over. What a confirmed dialog needs (RFC 3261 §12.1.1: Call-ID, tags,
// route set, remote target, the CSeq on either side) is copied out at set-up into the few
// fields below, which every in-dialog request, ours and the peer's, uses from the start.
type dialog struct {
	id        string
	local     sip.FromHeader    // our side, with our tag: the From of our requests
	remote    sip.ToHeader      // the caller's side: the To of our requests
	callID    sip.CallIDHeader  // the INVITE's Call-ID
	routes    []string          // the route set: the INVITE's Record-Route values, in order (§12.1.1)
	target    sip.Uri           // the remote target: the INVITE's Contact
	transport string            // the INVITE's transport
	source    string            // the INVITE's packet source: our requests go there when there is no route set
	contact   sip.ContactHeader // our Contact
	client    *sipgo.Client

	inviteCSeq uint32        // the initial INVITE's CSeq
	localCSeq  atomic.Uint32 // the CSeq of our last request in the dialog
	remoteCSeq atomic.Uint32 // the highest CSeq of the requests read so far
	ended      atomic.Bool   // a BYE went either way

	setupMu sync.Mutex
	setup   *sipgo.DialogServerSession // until the INVITE's 2xx is acknowledged or given up on

	participant *focus.Participant
	answer      []byte
	sourceKey   string      // packet source of the INVITE, for the per-source dialog cap
	ending      atomic.Bool // a BYE of ours is under way or done
	mod         modState    // re-INVITE, UPDATE and session timers (reinvite.go)
}

// newDialog copies what the dialog keeps out of the session sipgo set up from the INVITE.
func newDialog(session *sipgo.DialogServerSession, client *sipgo.Client, contact *sip.ContactHeader, source string) *dialog {
	d := newDialogFrom(session.InviteRequest, session.ID, client, contact, source)
	d.setup = session
	return d
}

// newDialogFrom copies a dialog's state out of its INVITE, which carries our tag on its To.
func newDialogFrom(inv *sip.Request, id string, client *sipgo.Client, contact *sip.ContactHeader, source string) *dialog {
	d := &dialog{
		id:         id,
		local:      inv.To().AsFrom(), // sipgo put our tag on the INVITE's To
		remote:     inv.From().AsTo(),
		callID:     *inv.CallID(),
		target:     *inv.Contact().Address.Clone(),
		transport:  inv.Transport(),
		source:     inv.Source(),
		contact:    *contact.Clone(),
		client:     client,
		inviteCSeq: inv.CSeq().SeqNo,
		sourceKey:  source,
	}
	for _, rr := range inv.GetHeaders("Record-Route") {
		d.routes = append(d.routes, rr.Value())
	}
	d.localCSeq.Store(d.inviteCSeq) // any start will do (§12.1.1); sipgo started here too
	d.remoteCSeq.Store(d.inviteCSeq)
	return d
}

// setupSession is sipgo's session while the INVITE's 2xx waits for its ACK, nil after.
func (d *dialog) setupSession() *sipgo.DialogServerSession {
	d.setupMu.Lock()
	defer d.setupMu.Unlock()
	return d.setup
}

// setupDone drops sipgo's session: the 2xx was acknowledged, or the dialog did not come up.
func (d *dialog) setupDone() {
	d.setupMu.Lock()
	d.setup = nil
	d.setupMu.Unlock()
}

// errNoResponse is a transaction of ours that ended without a final response and without an
// error of its own.
var errNoResponse = errors.New("the transaction ended without a response")

// errCSeqOrder is a request older than one already read in the dialog.
var errCSeqOrder = errors.New("CSeq out of order")

// read takes an in-dialog request: its CSeq must not go back (RFC 3261 §12.2.2; a UAS must
// accept gaps).
func (d *dialog) read(req *sip.Request, _ sip.ServerTransaction) error {
	seq := req.CSeq().SeqNo
	if seq < d.inviteCSeq {
		return errCSeqOrder
	}
	for {
		old := d.remoteCSeq.Load()
		if seq < old {
			return errCSeqOrder
		}
		if seq == old || d.remoteCSeq.CompareAndSwap(old, seq) {
			return nil
		}
	}
}

// ReadRequest is read, under the name the subscriptions use for any dialog.
func (d *dialog) ReadRequest(req *sip.Request, tx sip.ServerTransaction) error {
	return d.read(req, tx)
}

// readAck takes the ACK of the initial INVITE's 2xx; later ones (retransmissions) are ignored.
// The set-up session has read no request but the INVITE (in-dialog requests are read here), so
// it takes the ACK even when an UPDATE overtook it.
func (d *dialog) readAck(req *sip.Request, tx sip.ServerTransaction) error {
	setup := d.setupSession()
	if setup == nil {
		return nil
	}
	return setup.ReadAck(req, tx)
}

// readBye answers the peer's BYE (RFC 3261 §15.1.2).
func (d *dialog) readBye(req *sip.Request, tx sip.ServerTransaction) error {
	if setup := d.setupSession(); setup != nil {
		d.ended.Store(true)
		return setup.ReadBye(req, tx) // also ends the wait for the ACK
	}
	if err := d.read(req, tx); err != nil {
		return err
	}
	d.ended.Store(true)
	return tx.Respond(newResponse(req, 200))
}

// build fills in what a request in this dialog carries (RFC 3261 §12.2.1.1): From, To, Call-ID,
// the next CSeq, the route set, our Contact, and where and how it is sent.
func (d *dialog) build(req *sip.Request) {
	from, to, callID := d.local, d.remote, d.callID
	from.Params, to.Params = d.local.Params.Clone(), d.remote.Params.Clone()
	maxFwd := sip.MaxForwardsHeader(70)
	cseq := &sip.CSeqHeader{SeqNo: d.localCSeq.Add(1), MethodName: req.Method}
	hdrs := []sip.Header{&from, &to, &callID, &maxFwd, cseq}
	req.PrependHeader(hdrs...)
	for _, r := range d.routes {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	if rr := req.Route(); rr != nil {
		req.SetDestination(rr.Address.HostPort())
	} else {
		req.SetDestination(d.source) // the Contact of a client behind NAT is not reachable; its source is
	}
	if req.Contact() == nil {
		c := d.contact
		req.AppendHeader(&c)
	}
	req.SetTransport(d.transport)
}

// Do sends a request in the dialog and returns its final response.
func (d *dialog) Do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	d.build(req)
	tx, err := d.client.TransactionRequest(ctx, req, func(c *sipgo.Client, r *sip.Request) error {
		if r.Via() == nil {
			sipgo.ClientRequestAddVia(c, r)
		}
		if r.Body() == nil {
			r.SetBody(nil) // Content-Length: 0
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, err
			}
			return nil, errNoResponse
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// bye ends the dialog from our side (RFC 3261 §15.1.1). It waits for the ACK of the INVITE's
// 2xx first: a UAS must not send BYE on a dialog before that (§15), unless the wait is over.
func (d *dialog) bye(ctx context.Context) error {
	if d.ended.Load() {
		return nil
	}
	for {
		setup := d.setupSession()
		if setup == nil || setup.LoadState() >= sip.DialogStateConfirmed {
			break
		}
		select {
		case <-setup.Context().Done():
		case <-time.After(sip.T1):
			continue
		case <-ctx.Done():
			return ctx.Err()
		}
		break
	}
	if d.ended.Swap(true) {
		return nil
	}
	res, err := d.Do(ctx, sip.NewRequest(sip.BYE, *d.target.Clone()))
	if err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("BYE answered %d %s", res.StatusCode, res.Reason)
	}
	return nil
}
