package sip

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/xcon/confinfo"
)

// notifyTimeout bounds one NOTIFY transaction (64*T1, RFC 3261 Timer F).
const notifyTimeout = 32 * time.Second

// inDialog is the dialog a subscription's NOTIFYs go in: sipgo's session of a SUBSCRIBE
// dialog, or a participant's INVITE dialog (RFC 6665 §4.5.2).
type inDialog interface {
	Do(ctx context.Context, req *sip.Request) (*sip.Response, error)
	ReadRequest(req *sip.Request, tx sip.ServerTransaction) error
}

// subscription is one conference-event subscription. Its notifier goroutine (run) is the only
// sender of its NOTIFYs, one at a time: changes that arrive while a NOTIFY is in flight or
// held for coalescing are merged into the next one, and the version goes up by exactly one
// per NOTIFY (RFC 4575 §5.2).
type subscription struct {
	ev     *events
	key    string // dialog ID and Event id
	room   string
	entity string // the room's SIP URI, the document's entity
	event  string // our Event header
	dlg    inDialog
	target sip.Uri // the subscriber's Contact: the NOTIFY Request-URI
	log    *slog.Logger
	kick   chan struct{} // capacity 1: something below changed

	mu      sync.Mutex
	expires time.Time
	full    bool   // send full state next: a new subscription or a refresh
	dirty   bool   // the room changed since the last NOTIFY
	urgent  bool   // ... by a join or a nickname: do not hold it back
	end     string // terminate with this reason at the next NOTIFY

	// Owned by run.
	version uint32
	sent    *roomView // the view the subscriber has been given (shared, read-only)
}

func (sub *subscription) wake() {
	select {
	case sub.kick <- struct{}{}:
	default:
	}
}

func (sub *subscription) changed(urgent bool) {
	sub.mu.Lock()
	sub.dirty = true
	sub.urgent = sub.urgent || urgent
	sub.mu.Unlock()
	sub.wake()
}

func (sub *subscription) terminate(reason string) {
	sub.mu.Lock()
	if sub.end == "" || reason == "noresource" {
		sub.end = reason
	}
	sub.mu.Unlock()
	sub.wake()
}

// refresh extends the subscription (a re-SUBSCRIBE answered 200), or ends it when expires
// is 0; either way a NOTIFY with full state follows (RFC 6665 §4.2.1.2).
func (sub *subscription) refresh(expires time.Duration) {
	sub.mu.Lock()
	sub.expires = time.Now().Add(expires)
	sub.full = true
	if expires == 0 && sub.end == "" {
		sub.end = "timeout"
	}
	sub.mu.Unlock()
	sub.wake()
}

// run sends the subscription's NOTIFYs until it ends: at once for full state and for urgent
// changes, after the coalescing delay for the others; a terminated NOTIFY on expiry,
// unsubscribe or the room's end. A NOTIFY that fails ends the subscription (RFC 6665
// §4.2.2: 481, a timeout or any other failure removes it).
func (sub *subscription) run() {
	defer sub.ev.wg.Done()
	defer sub.ev.remove(sub)
	expiry := time.NewTimer(time.Until(sub.expiresAt()))
	defer expiry.Stop()
	hold := time.NewTimer(time.Hour)
	hold.Stop()
	defer hold.Stop()
	holding, due := false, false
	for {
		select {
		case <-sub.ev.ctx.Done():
			return
		case <-sub.kick:
		case <-expiry.C:
			sub.mu.Lock()
			if !time.Now().Before(sub.expires) && sub.end == "" {
				sub.end = "timeout"
			}
			sub.mu.Unlock()
		case <-hold.C:
			holding, due = false, true
		}
		sub.mu.Lock()
		end, full, dirty, urgent, expires := sub.end, sub.full, sub.dirty, sub.urgent, sub.expires
		send := end != "" || full || (dirty && (urgent || due))
		if send {
			sub.full, sub.dirty, sub.urgent = false, false, false
		}
		sub.mu.Unlock()
		expiry.Reset(time.Until(expires))
		if !send {
			if dirty && !holding {
				hold.Reset(sub.ev.cfg.Coalesce)
				holding = true
			}
			continue
		}
		if holding {
			hold.Stop()
			holding = false
		}
		due = false
		if !sub.notify(end, full, expires) || end != "" {
			return
		}
	}
}

func (sub *subscription) expiresAt() time.Time {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.expires
}

// notify sends one NOTIFY: the final one when end is set (full state, or the deleted document
// for noresource; a room closed with a successor ends with its full state, which names the
// successor), else full state or the partial one since the last NOTIFY (none when
// nothing visible changed). It reports whether the subscription lives on.
func (sub *subscription) notify(end string, full bool, expires time.Time) bool {
	v := sub.ev.view(sub.room)
	if v.view == nil && end == "" {
		end = "noresource" // the room went before RoomGone reached us
	}
	var doc *docBody
	var err error
	switch {
	case v.view == nil || end == "noresource" && !v.moved:
		doc, err = v.deletedBody(sub.ev, sub.entity)
	case full || sub.sent == nil || end != "":
		doc, err = v.fullBody(sub.ev)
	default:
		doc, err = v.partialBody(sub.ev, sub.sent)
		if err == nil && doc == nil {
			return true // nothing a subscriber sees changed
		}
	}
	if err != nil {
		sub.log.Error("conference-info not encoded", "err", err)
		return false
	}
	body := doc.at(sub.version + 1)
	state := "active;expires=" + strconv.FormatInt(int64((time.Until(expires)+time.Second-1)/time.Second), 10)
	if end != "" {
		state = "terminated;reason=" + end
	}
	req := sip.NewRequest(sip.NOTIFY, *sub.target.Clone())
	req.AppendHeader(sip.NewHeader("Event", sub.event))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", confinfo.ContentType))
	req.SetBody(body)
	sub.version++
	if v.view != nil {
		sub.sent = v
	}
	ctx, cancel := context.WithTimeout(sub.ev.ctx, notifyTimeout)
	defer cancel()
	sub.ev.s.metrics.notifies.WithLabelValues(doc.state).Inc()
	res, err := sub.dlg.Do(ctx, req)
	switch {
	case errors.Is(err, sip.ErrUDPMTUCongestion):
		sub.log.Error("NOTIFY larger than the UDP limit: subscription removed; raise sip.udp_mtu or subscribe over TCP",
			"bytes", len(body), "limit", sip.UDPMTUSize-200)
		return false
	case err != nil:
		if sub.ev.ctx.Err() == nil {
			sub.log.Info("NOTIFY failed: subscription removed", "err", err, "bytes", len(body))
		}
		return false
	case res == nil: // sipgo's dialog may end a transaction with neither a response nor an error
		sub.log.Info("NOTIFY got no response: subscription removed", "bytes", len(body))
		return false
	case !res.IsSuccess():
		sub.log.Info("NOTIFY refused: subscription removed", "code", res.StatusCode)
		return false
	}
	return true
}
