package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
)

// TestAudit: audit rows go in, come back newest last within the limit, per room, and outlive
// the room's deletion; on SQLite and PostgreSQL.
func TestAudit(t *testing.T) {
	onBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		defer s.Close()
		if err := s.CreateConference(ctx, room("Cafe")); err != nil {
			t.Fatal(err)
		}
		at := time.Unix(1_800_000_000, 0)
		for i, op := range []string{"create", "update", "update", "delete"} {
			e := xcon.AuditEntry{Room: "Cafe", Time: at.Add(time.Duration(i) * time.Second), Principal: "root",
				Remote: "127.0.0.1", Request: "conf", Operation: op, Code: 200}
			if i == 2 {
				e.Request, e.Target, e.Code = "user", "xcon-userid:zed@example.com", 409
			}
			if err := s.AppendAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AppendAudit(ctx, xcon.AuditEntry{Room: "other", Principal: "x", Request: "conf", Operation: "create", Code: 401}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteConference(ctx, "cafe"); err != nil {
			t.Fatal(err)
		}
		all, err := s.Audit(ctx, "CAFE", 100)
		if err != nil || len(all) != 4 {
			t.Fatalf("audit: %d rows, %v", len(all), err)
		}
		for i, e := range all {
			if e.Room != "cafe" || e.Principal != "root" || e.Remote != "127.0.0.1" || !e.Time.Equal(at.Add(time.Duration(i)*time.Second)) {
				t.Fatalf("row %d: %+v", i, e)
			}
			if i > 0 && e.ID <= all[i-1].ID {
				t.Fatalf("ids not increasing: %+v", all)
			}
		}
		if all[0].Operation != "create" || all[3].Operation != "delete" || all[2].Target != "xcon-userid:zed@example.com" || all[2].Code != 409 || all[2].Request != "user" {
			t.Fatalf("rows: %+v", all)
		}
		last, err := s.Audit(ctx, "cafe", 2)
		if err != nil || len(last) != 2 || last[0].ID != all[2].ID || last[1].ID != all[3].ID {
			t.Fatalf("limit 2: %+v, %v", last, err)
		}
		s.Close()
		s = b.open(t) // survives a reopen
		defer s.Close()
		if other, err := s.Audit(ctx, "other", 10); err != nil || len(other) != 1 || other[0].Code != 401 || other[0].Time.IsZero() {
			t.Fatalf("other: %+v, %v", other, err)
		}
	})
}

// TestPurgeAudit: rows recorded before the cut are deleted, of every room, the others kept; on
// SQLite and PostgreSQL.
func TestPurgeAudit(t *testing.T) {
	onBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		defer s.Close()
		at := time.Unix(1_800_000_000, 0)
		for i, r := range []string{"a", "b", "a", "b"} {
			if err := s.AppendAudit(ctx, xcon.AuditEntry{Room: r, Time: at.Add(time.Duration(i) * time.Hour), Principal: "root",
				Request: "conf", Operation: "update", Code: 200}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.PurgeAudit(ctx, at.Add(90*time.Minute))
		if err != nil || n != 2 {
			t.Fatalf("purged %d, %v; want 2", n, err)
		}
		for _, r := range []string{"a", "b"} {
			rows, err := s.Audit(ctx, r, 10)
			if err != nil || len(rows) != 1 || rows[0].Time.Before(at.Add(90*time.Minute)) {
				t.Fatalf("%s after the purge: %+v %v", r, rows, err)
			}
		}
		if n, err := s.PurgeAudit(ctx, at); err != nil || n != 0 {
			t.Fatalf("second purge: %d %v", n, err)
		}
	})
}
