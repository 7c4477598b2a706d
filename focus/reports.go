package focus

import (
	"sync"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/cpim"
)

// A private message is answered 200 once its copy is queued; when the recipient then refuses
// the copy, the sender learns it from a failure REPORT that carries a CPIM wrapper with the
// original From and To (RFC 7701 §6.2, RFC 4975 §7.1.4).

// privateOrigin is what a failure REPORT about a private copy needs: the sender's stream, its
// request, and the CPIM From and To it wrote.
type privateOrigin struct {
	sender   *Stream
	req      *msrp.Message
	from, to string
}

// privateCopies remembers the copies of private messages in flight, by the copy's Message-ID.
type privateCopies struct {
	mu     sync.Mutex
	copies map[string]trackedCopy
}

type trackedCopy struct {
	origin privateOrigin
	sent   time.Time
}

// privateCopyLife bounds how long a copy is remembered: past the transaction timeout (30 s by
// default) a failure is reported by the timeout itself or not at all.
const privateCopyLife = 2 * time.Minute

func (p *privateCopies) track(copyID string, o privateOrigin, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.copies == nil {
		p.copies = map[string]trackedCopy{}
	}
	if len(p.copies) >= 1024 {
		for id, c := range p.copies {
			if now.Sub(c.sent) > privateCopyLife {
				delete(p.copies, id)
			}
		}
	}
	p.copies[copyID] = trackedCopy{origin: o, sent: now}
}

func (p *privateCopies) take(copyID string) (privateOrigin, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.copies[copyID]
	delete(p.copies, copyID)
	return c.origin, ok
}

// DeliveryFailed implements msrp.DeliveryHandler: a copy the recipient refused (or that timed
// out). For a private message the sender gets a failure REPORT with the CPIM wrapper; copies
// of room messages are not reported back (RFC 7701 §6.3: the sender is not told).
func (f *Focus) DeliveryFailed(_ *msrp.Session, messageID string, code int) {
	o, ok := f.private.take(messageID)
	if !ok {
		return
	}
	wrapper := (&cpim.Message{
		From:        cpim.Address{URI: o.from},
		To:          []cpim.Address{{URI: o.to}},
		ContentType: "text/plain;charset=utf-8",
		Body:        []byte("Private message not delivered (" + msrp.StatusText(code) + ")"),
	}).Marshal()
	if err := o.sender.session.SendReportBody(o.req, code, msrp.StatusText(code), "message/cpim", wrapper); err != nil {
		f.log.Debug("failure REPORT not sent", "chat_id", o.sender.chatID, "err", err)
	}
}
