package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/parleychat/parley/xcon"
)

// Heartbeat records that this node (WithNode) is alive now.
func (s *Store) Heartbeat(ctx context.Context) error {
	upsert := s.d.Upsert("nodes", []string{"name", "seen"}, []string{"name"})
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, upsert, s.node, time.Now().UnixNano())
		return err
	})
}

// PurgeDeadNodes removes the bindings of every other node not heard from for deadAfter (its
// members' sessions went with it), and its row in nodes. Several survivors may run it at once:
// each deletes what is still there.
func (s *Store) PurgeDeadNodes(ctx context.Context, deadAfter time.Duration) (xcon.DeadNodes, error) {
	var dead xcon.DeadNodes
	cutoff := time.Now().Add(-deadAfter).UnixNano()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		dead = xcon.DeadNodes{}
		rows, err := tx.QueryContext(ctx, s.sql(`SELECT name FROM nodes WHERE seen < $1 AND name <> $2 ORDER BY name`), cutoff, s.node)
		if err != nil {
			return err
		}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return err
			}
			dead.Nodes = append(dead.Nodes, name)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, name := range dead.Nodes {
			rooms, err := tx.QueryContext(ctx, s.sql(`SELECT DISTINCT room FROM bindings WHERE node = $1`), name)
			if err != nil {
				return err
			}
			for rooms.Next() {
				var room string
				if err := rooms.Scan(&room); err != nil {
					rooms.Close()
					return err
				}
				dead.Rooms = append(dead.Rooms, room)
			}
			rooms.Close()
			if err := rooms.Err(); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, s.sql(`DELETE FROM bindings WHERE node = $1`), name)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			dead.Bindings += int(n)
			if _, err := tx.ExecContext(ctx, s.sql(`DELETE FROM live_nicknames WHERE node = $1`), name); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.sql(`DELETE FROM nodes WHERE name = $1 AND seen < $2`), name, cutoff); err != nil {
				return err
			}
		}
		return nil
	})
	slices.Sort(dead.Rooms)
	dead.Rooms = slices.Compact(dead.Rooms)
	return dead, err
}

// ClaimLiveNickname gives key to userID's sessions on this node, unless a row of another user
// holds it or released it less than quarantine ago. Claims of one key run one after the other
// (Dialect.KeyLock), so that two nodes cannot both give it away.
func (s *Store) ClaimLiveNickname(ctx context.Context, key, nickname, userID string, quarantine time.Duration) error {
	k := hex.EncodeToString([]byte(key))
	now := time.Now().UnixNano()
	upsert := s.d.Upsert("live_nicknames", []string{"name_key", "node", "user_id", "nickname", "released"}, []string{"name_key", "node"})
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.d.KeyLock != "" {
			if _, err := tx.ExecContext(ctx, s.sql(s.d.KeyLock), k); err != nil {
				return err
			}
		}
		// Holds released longer ago than the quarantine are over: they go.
		if _, err := tx.ExecContext(ctx, s.sql(`DELETE FROM live_nicknames WHERE name_key = $1 AND released <> 0 AND released <= $2`),
			k, now-quarantine.Nanoseconds()); err != nil {
			return err
		}
		var holders int
		err := tx.QueryRowContext(ctx, s.sql(`SELECT COUNT(*) FROM live_nicknames
			WHERE name_key = $1 AND LOWER(user_id) <> LOWER($2)`), k, userID).Scan(&holders)
		if err != nil {
			return err
		}
		if holders > 0 {
			return fmt.Errorf("sqlstore: nickname held on another node: %w", xcon.ErrExists)
		}
		_, err = tx.ExecContext(ctx, upsert, k, s.node, userID, nickname, 0)
		return err
	})
}

// ReleaseLiveNickname marks this node's hold of key by userID released now.
func (s *Store) ReleaseLiveNickname(ctx context.Context, key, userID string) error {
	k := hex.EncodeToString([]byte(key))
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.sql(`UPDATE live_nicknames SET released = $1
			WHERE name_key = $2 AND node = $3 AND LOWER(user_id) = LOWER($4)`), time.Now().UnixNano(), k, s.node, userID)
		return err
	})
}
