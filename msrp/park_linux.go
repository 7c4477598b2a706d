package msrp

import (
	"sync"
	"syscall"
)

// The parking poller: one epoll set for every parked reader of the process, and one goroutine in
// epoll_wait (an OS thread blocked in a system call, which the runtime replaces for other work).
// A socket is registered one-shot and level-triggered: bytes that arrived before the registration
// wake it at once, and it fires once per park.
type parkPoller struct {
	epfd  int
	mu    sync.Mutex
	conns map[uint32]*conn // parked connections by token
	next  uint32
}

var (
	poller     *parkPoller
	pollerOnce sync.Once
)

func parkingAvailable() bool {
	pollerOnce.Do(func() {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return // readers then never park
		}
		poller = &parkPoller{epfd: fd, conns: make(map[uint32]*conn)}
		go poller.run()
	})
	return poller != nil
}

func (p *parkPoller) run() {
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range events[:n] {
			p.mu.Lock()
			c := p.conns[uint32(ev.Fd)]
			delete(p.conns, uint32(ev.Fd))
			p.mu.Unlock()
			if c != nil {
				c.resumeReader()
			}
		}
	}
}

// parkReader registers the connection's socket and marks its reader parked. False means it could
// not be (the socket is closing): the reader reads on and sees why.
func (c *conn) parkReader() bool {
	p := poller
	p.mu.Lock()
	first := c.park.token == 0
	if first {
		for p.next++; p.next == 0 || p.conns[p.next] != nil; p.next++ {
		}
		c.park.token = p.next
	}
	p.conns[c.park.token] = c
	p.mu.Unlock()
	// Parked before the registration: an event or a failure that comes at once finds the reader
	// parked and starts the next one, and this one must then not read again.
	c.park.state.Store(readerParked)
	c.e.stats.parkedReaders.Add(1)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(c.park.token)}
	var ctlErr error
	err := c.raw.Control(func(fd uintptr) {
		op := syscall.EPOLL_CTL_MOD // a one-shot registration stays in the set, disarmed, once it fired
		if first {
			op = syscall.EPOLL_CTL_ADD
		}
		ctlErr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
		if ctlErr == syscall.ENOENT || ctlErr == syscall.EEXIST {
			op ^= syscall.EPOLL_CTL_ADD ^ syscall.EPOLL_CTL_MOD
			ctlErr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
		}
	})
	if err == nil && ctlErr == nil {
		c.e.stats.readerParks.Add(1)
		return true
	}
	p.mu.Lock()
	delete(p.conns, c.park.token)
	p.mu.Unlock()
	if c.park.state.CompareAndSwap(readerParked, readerRunning) {
		c.e.stats.parkedReaders.Add(-1)
		return false
	}
	return true // someone already started the next reader
}

// forgetParked drops the connection from the poller once its reader resumed.
func (c *conn) forgetParked() {
	p := poller
	p.mu.Lock()
	if p.conns[c.park.token] == c {
		delete(p.conns, c.park.token)
	}
	p.mu.Unlock()
}
