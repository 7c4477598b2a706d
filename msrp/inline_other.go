//go:build !linux

package msrp

import "syscall"

const maxIovecs = 0

type iovecs = struct{}

// writevNow is not available here: every write goes through the connection's writer.
func writevNow(syscall.RawConn, [][]byte, *iovecs) (int, error) { return 0, nil }
