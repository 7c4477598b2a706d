package msrp

import (
	"syscall"
	"unsafe"
)

// maxIovecs is the kernel's IOV_MAX: a writev takes at most this many buffers.
const maxIovecs = 1024

type iovecs = []syscall.Iovec

// writevNow makes one writev of vec on the socket and does not wait when it is full: the
// descriptor is non-blocking (Go's poller), and returning true from the RawConn callback gives
// up instead of parking. A full socket writes fewer bytes, or none, without an error.
func writevNow(raw syscall.RawConn, vec [][]byte, scratch *iovecs) (int, error) {
	iov := (*scratch)[:0]
	for _, b := range vec {
		if len(b) > 0 {
			iov = append(iov, syscall.Iovec{Base: &b[0], Len: uint64(len(b))})
		}
	}
	*scratch = iov
	if len(iov) == 0 {
		return 0, nil
	}
	var n uintptr
	var errno syscall.Errno
	err := raw.Write(func(fd uintptr) bool {
		for {
			n, _, errno = syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
			if errno != syscall.EINTR {
				return true
			}
		}
	})
	clear(iov) // the buffers go back to their pools
	switch {
	case err != nil:
		return 0, err
	case errno == syscall.EAGAIN:
		return 0, nil
	case errno != 0:
		return 0, errno
	}
	return int(n), nil
}
