// Package pgtest gives tests a real PostgreSQL: a fresh database per call of DSN, on the server
// that PARLEY_TEST_PG_DSN names or, without it, on a throwaway cluster that the package starts
// itself (initdb and pg_ctl into a temporary directory, listening only on a Unix socket there)
// the first time a test asks, and that Stop removes. One cluster serves the whole test binary;
// a cluster whose test process was killed before Stop is removed by the next one that starts.
//
// Without PostgreSQL's server binaries the tests that ask are skipped with the Debian package
// to install; with PARLEY_REQUIRE_PEERS=1 (as in CI) they fail instead.
package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/parleychat/parley/internal/peers"
)

// EnvDSN names an existing server to use instead of a throwaway cluster: a connection string
// whose role may CREATE DATABASE. Each test gets a database of its own there, dropped after it.
const EnvDSN = "PARLEY_TEST_PG_DSN"

var (
	once     sync.Once
	srv      *server
	startErr error
	missing  bool // no server binaries: skip (or fail under PARLEY_REQUIRE_PEERS)
	counter  atomic.Int64
)

type server struct {
	base    string // DSN without a database
	admin   *sql.DB
	own     bool // a cluster started here, stopped by Stop
	dir     string
	pgCtl   string
	cred    *syscall.Credential
	dropDBs bool
}

// DSN returns the connection string of a new, empty database for t. It skips t when no
// PostgreSQL is available (fails it under PARLEY_REQUIRE_PEERS=1).
func DSN(t testing.TB) string {
	t.Helper()
	dsn, err := create(t, "")
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// DSNWith is DSN with options for CREATE DATABASE, for example a locale:
// "TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'".
// The error is the server's refusal of them.
func DSNWith(t testing.TB, options string) (string, error) {
	t.Helper()
	return create(t, options)
}

func create(t testing.TB, options string) (string, error) {
	t.Helper()
	once.Do(func() { srv, startErr = start() })
	if startErr != nil {
		if missing && !peers.Required() {
			t.Skipf("%v (or set PARLEY_REQUIRE_PEERS=1 to make this a failure)", startErr)
		}
		t.Fatal(startErr)
	}
	name := fmt.Sprintf("parley_test_%d_%d", os.Getpid(), counter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := srv.admin.ExecContext(ctx, `CREATE DATABASE `+name+` `+options); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	if srv.dropDBs {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := srv.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
				t.Errorf("pgtest: drop database %s: %v", name, err)
			}
		})
	}
	return withDatabase(srv.base, name), nil
}

// Stop stops the cluster DSN started, if it did, and removes its directory. Call it from
// TestMain after m.Run.
func Stop() {
	if srv == nil {
		return
	}
	srv.admin.Close()
	if srv.own {
		stop(srv.pgCtl, srv.dir, srv.cred)
		os.RemoveAll(srv.dir)
	}
	srv = nil
}

func start() (*server, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		db, err := sql.Open("pgx", dsn)
		if err == nil {
			err = db.Ping()
		}
		if err != nil {
			return nil, fmt.Errorf("pgtest: %s: %w", EnvDSN, err)
		}
		return &server{base: dsn, admin: db, dropDBs: true}, nil
	}
	initdb, pgCtl := findBinaries()
	if initdb == "" || pgCtl == "" {
		missing = true
		return nil, errors.New("PostgreSQL server not found (initdb, pg_ctl): apt-get install postgresql, or set " + EnvDSN)
	}
	sweep(pgCtl)
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	// --no-sync and fsync=off: a throwaway cluster; what the tests check does not depend on
	// surviving a power loss, and the machine's disk is shared.
	if out, err := run(cred, dir, initdb, "-D", data, "-U", "parley", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=200", port, dir)
	if out, err := run(cred, dir, pgCtl, "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		stop(pgCtl, dir, cred)
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	base := fmt.Sprintf("host=%s port=%d user=parley sslmode=disable", dir, port)
	db, err := sql.Open("pgx", base+" dbname=postgres")
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		stop(pgCtl, dir, cred)
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: connect to the test cluster: %w", err)
	}
	return &server{base: base, admin: db, own: true, dir: dir, pgCtl: pgCtl, cred: cred}, nil
}

const (
	dirPrefix = "parley-pg-"
	ownerFile = "owner.pid" // the test process that started the cluster
)

// sweep stops and removes the clusters of test processes that died without calling Stop
// (killed at a timeout, say), so that they do not pile up.
func sweep(pgCtl string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue // alive (or unreadable)
		}
		var cred *syscall.Credential
		if st, err := os.Stat(dir); err == nil && os.Geteuid() == 0 {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 {
				cred = &syscall.Credential{Uid: sys.Uid, Gid: sys.Gid}
			}
		}
		stop(pgCtl, dir, cred)
		os.RemoveAll(dir)
	}
}

func stop(pgCtl, dir string, cred *syscall.Credential) {
	run(cred, dir, pgCtl, "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "-t", "30", "stop")
}

// findBinaries looks for initdb and pg_ctl on PATH, then where Debian's postgresql packages
// put them (/usr/lib/postgresql/VERSION/bin, newest first).
func findBinaries() (initdb, pgCtl string) {
	initdb, _ = exec.LookPath("initdb")
	pgCtl, _ = exec.LookPath("pg_ctl")
	if initdb != "" && pgCtl != "" {
		return initdb, pgCtl
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		i, p := filepath.Join(d, "initdb"), filepath.Join(d, "pg_ctl")
		if isExec(i) && isExec(p) {
			return i, p
		}
	}
	return "", ""
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// credential returns nil when the tests run as an ordinary user. PostgreSQL refuses to run as
// root, so a root test process runs initdb and the server as the user postgres (Debian's
// package creates it) or else nobody, and gives the directory to that user.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("pgtest: running as root, and neither user postgres nor nobody exists to run PostgreSQL as")
}

func run(cred *syscall.Credential, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Env = append(cmd.Env, "HOME="+dir)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// freePort picks the port number of the socket (.s.PGSQL.PORT in the cluster's directory);
// the server listens on no TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// withDatabase returns dsn naming database name instead of its own.
func withDatabase(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			u.Path = "/" + name
			return u.String()
		}
	}
	return dsn + " dbname=" + name
}
