package sqlstore

import (
	"os"
	"syscall"
)

// datasync flushes f's data and only the metadata needed to read it back (fdatasync): the WAL is
// rewritten in place, so its size and blocks rarely change, and SQLite itself uses fdatasync.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
