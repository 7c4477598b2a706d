package focus

import (
	"context"

	"github.com/parleychat/parley/xcon"
)

// RecordAudit stores one audit row (a change request and its outcome) in the focus's store.
func (f *Focus) RecordAudit(ctx context.Context, e xcon.AuditEntry) error {
	return f.store.AppendAudit(ctx, e)
}

// Audit returns the newest limit audit rows of a room, oldest first; the room may be gone.
func (f *Focus) Audit(ctx context.Context, room string, limit int) ([]xcon.AuditEntry, error) {
	return f.store.Audit(ctx, room, limit)
}
