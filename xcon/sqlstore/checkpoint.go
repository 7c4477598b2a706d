package sqlstore

import (
	"context"
	"database/sql"
	"os"
	"time"
)

// checkpointer copies the WAL back into the database file from a connection of its own, so that
// the log's writer never stops for it. SQLite's automatic checkpoint runs inside the COMMIT that
// crosses wal_autocheckpoint pages, and the writer, which every logged message waits for, stalls
// there for milliseconds; here the writer runs with wal_autocheckpoint(0) and a PASSIVE
// checkpoint, which waits for neither readers nor the writer, runs beside it whenever the WAL
// has grown past walCheckpointBytes. The WAL is synced before and the database after each
// checkpoint (synchronous NORMAL), as with the automatic one.
type checkpointer struct {
	db     *sql.DB
	wal    string        // the -wal file, whose size says when to checkpoint
	poke   chan struct{} // a commit was made
	done   chan struct{}
	closed chan struct{}
}

// walCheckpointBytes is SQLite's default wal_autocheckpoint (1000 pages of 4 KiB).
const walCheckpointBytes = 1000 * 4096

// checkpointEvery bounds how long a WAL that grew waits, however few commits follow.
const checkpointEvery = time.Second

func newCheckpointer(db *sql.DB, dbPath string) *checkpointer {
	c := &checkpointer{db: db, wal: dbPath + "-wal", poke: make(chan struct{}, 1), done: make(chan struct{}),
		closed: make(chan struct{})}
	go c.run()
	return c
}

// committed tells the checkpointer that the WAL may have grown; it never waits.
func (c *checkpointer) committed() {
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-c.poke:
		case <-tick.C:
		}
		if st, err := os.Stat(c.wal); err != nil || st.Size() < walCheckpointBytes {
			continue
		}
		// A failure leaves the frames in the WAL for the next try; the WAL stays readable.
		c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
	}
}

func (c *checkpointer) close() error {
	close(c.closed)
	<-c.done
	return c.db.Close()
}
