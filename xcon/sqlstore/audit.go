package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/parleychat/parley/xcon"
)

// AppendAudit implements xcon.Store: one row of audit_log. The room need not exist (a refused
// create, a deleted room).
func (s *Store) AppendAudit(ctx context.Context, e xcon.AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.sql(`INSERT INTO audit_log (room, at, principal, remote, request, operation, target, code)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`),
			roomKey(e.Room), e.Time.UnixNano(), e.Principal, e.Remote, e.Request, e.Operation, e.Target, int64(e.Code))
		return err
	})
}

// Audit implements xcon.Store: the newest limit rows of room, oldest first.
func (s *Store) Audit(ctx context.Context, room string, limit int) ([]xcon.AuditEntry, error) {
	room = roomKey(room)
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, s.sql(`SELECT id, at, principal, remote, request, operation, target, code
		FROM audit_log WHERE room = $1 ORDER BY id DESC LIMIT $2`), room, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []xcon.AuditEntry
	for rows.Next() {
		e := xcon.AuditEntry{Room: room}
		var at, code int64
		if err := rows.Scan(&e.ID, &at, &e.Principal, &e.Remote, &e.Request, &e.Operation, &e.Target, &code); err != nil {
			return nil, err
		}
		e.Time, e.Code = time.Unix(0, at), int(code)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// PurgeAudit implements xcon.Store: deletes the audit rows recorded before before.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.sql(`DELETE FROM audit_log WHERE at < $1`), before.UnixNano())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
