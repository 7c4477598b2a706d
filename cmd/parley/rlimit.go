package main

import (
	"log/slog"
	"syscall"
)

// raiseOpenFileLimit lifts the soft limit on open files to the hard limit and returns the limit
// in force: every member holds an MSRP connection (and, over TCP, maybe a SIP one), and the usual
// soft limit of 1024 would cap a room far below what the process may have. (The Go runtime
// already raises it at start-up on Linux; this makes it explicit and visible.)
func raiseOpenFileLimit(log *slog.Logger) uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("open files limit unknown", "err", err)
		return 0
	}
	if lim.Cur >= lim.Max {
		return lim.Cur
	}
	old := lim.Cur
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("open files limit not raised", "soft", old, "hard", lim.Max, "err", err)
		return old
	}
	log.Info("open files limit raised", "from", old, "to", lim.Max)
	return lim.Cur
}
