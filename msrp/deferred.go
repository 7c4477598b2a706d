package msrp

import "sync"

// Deferred is an answer a SessionHandler gives later. HandleMessage returns one (from Defer) when
// the outcome is not known yet, such as a message that is being made durable; the connection
// goes on reading, and the response, with its success REPORT, is sent once Settle is called.
// Responses on a connection keep the order of their requests: an answer that is ready waits
// behind an earlier deferred one. Every Deferred must be settled exactly once.
type Deferred struct {
	mu      sync.Mutex
	settled bool
	err     error
	c       *conn // set once the connection has queued the answer
}

// Defer returns a new unsettled answer, to return from HandleMessage.
func Defer() *Deferred { return &Deferred{} }

// Error makes a Deferred something HandleMessage can return; it is never sent as such.
func (d *Deferred) Error() string { return "msrp: answer deferred" }

// Settle gives the answer: nil for 200, or an error as HandleMessage would return it. It may be
// called from any goroutine, before or after HandleMessage has returned, and must not be called
// twice.
func (d *Deferred) Settle(err error) {
	d.mu.Lock()
	d.settled, d.err = true, err
	c := d.c
	d.mu.Unlock()
	if c != nil {
		c.answersReady()
	}
}

// answersReady hands the sending of settled answers to c's writer: a group commit settles many
// answers at once, and the writer then builds all of them and writes them with one writev, where
// sending each from the settling goroutine would wake the writer for every one of them.
func (c *conn) answersReady() {
	c.mu.Lock()
	if c.closed || c.answersDue {
		c.mu.Unlock()
		return
	}
	c.answersDue = true
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
		return
	}
	c.cond.Signal()
}

func (d *Deferred) outcome() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.settled, d.err
}

// maxDeferred bounds the answers a connection holds: past it the reader waits for the oldest,
// which is the back-pressure on a client that pipelines faster than commits complete.
const maxDeferred = 4096

// queuedAnswer is a response held to keep order: either waiting for its Deferred or ready and
// behind one that is. It owns copies of what it needs of the request (the frame aliases the read
// buffer): the response goes to From-Path, and comes from our session URI or, with no session,
// from the URI the request addressed.
type queuedAnswer struct {
	d           *Deferred // nil: the code and comment are known
	code        int
	comment     string
	req         Message // TransactionID, Method, report headers, MessageID and FromPath of the request
	s           *Session
	report      bool // a SEND whose 200 brings a success REPORT (§7.1.3) for reportRange
	reportRange ByteRange
}

// answerQueue is a connection's ordered list of answers not yet sent. Only the read goroutine
// appends; Settle (from any goroutine) releases the ready prefix.
type answerQueue struct {
	mu    sync.Mutex
	cond  sync.Cond
	items []queuedAnswer
	head  int
}

func (q *answerQueue) len() int { return len(q.items) - q.head }

// holdAnswer queues an answer behind the deferred ones; what it needs of req is copied.
func (c *conn) holdAnswer(req *Message, s *Session, d *Deferred, code int, comment string, report bool, br ByteRange) {
	a := queuedAnswer{d: d, code: code, comment: comment, s: s, report: report, reportRange: br,
		req: Message{TransactionID: req.TransactionID, Method: req.Method, MessageID: req.MessageID,
			FailureReport: req.FailureReport, SuccessReport: req.SuccessReport}}
	if s == nil && len(req.ToPath) > 0 {
		paths := make([]URI, len(req.FromPath)+1)
		copy(paths, req.FromPath)
		paths[len(paths)-1] = req.ToPath[len(req.ToPath)-1]
		a.req.FromPath, a.req.ToPath = paths[:len(req.FromPath):len(req.FromPath)], paths[len(req.FromPath):]
	} else if req.sharedFrom {
		a.req.FromPath, a.req.sharedFrom = req.FromPath, true // the parser's read-only slice
	} else {
		a.req.FromPath = append([]URI(nil), req.FromPath...)
	}
	q := &c.answers
	q.mu.Lock()
	if q.cond.L == nil {
		q.cond.L = &q.mu
	}
	for q.len() >= maxDeferred && !c.isClosed() {
		q.cond.Wait()
	}
	q.items = append(q.items, a)
	c.held.Add(1)
	q.mu.Unlock()
	if d != nil {
		d.mu.Lock()
		d.c = c
		settled := d.settled
		d.mu.Unlock()
		if !settled {
			return
		}
	}
	c.flushAnswers(c)
}

// flushAnswers sends the answers at the head of the queue that are ready, in order. wake is c
// on c's read goroutine, else nil (queueFrame).
func (c *conn) flushAnswers(wake *conn) {
	q := &c.answers
	q.mu.Lock()
	defer q.mu.Unlock()
	released := 0
	for q.head < len(q.items) {
		a := &q.items[q.head]
		code, comment := a.code, a.comment
		if a.d != nil {
			settled, err := a.d.outcome()
			if !settled {
				break
			}
			code, comment = CodeOf(err)
		}
		c.sendAnswer(&a.req, a.s, code, comment, wake)
		if a.report && code == StatusOK {
			c.successReport(a.s, &a.req, a.reportRange, wake)
		}
		*a = queuedAnswer{}
		q.head++
		released++
	}
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	if released > 0 {
		c.held.Add(-int64(released))
		if q.cond.L != nil {
			q.cond.Broadcast()
		}
	}
}

// releaseAnswers wakes a reader waiting for room in the queue once the connection is closed.
func (c *conn) releaseAnswers() {
	q := &c.answers
	q.mu.Lock()
	if q.cond.L != nil {
		q.cond.Broadcast()
	}
	q.mu.Unlock()
}
