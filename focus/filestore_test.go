package focus

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func keepBytes(t *testing.T, fs *fileStore, room, body string) {
	t.Helper()
	part, err := fs.create(room)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := part.WriteString(body); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.commit(part, keptFile{Room: room, Channel: "chat", Sender: "xcon-userid:a@x", Inner: "text/plain",
		Size: int64(len(body)), Received: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func bodies(t *testing.T, fs *fileStore, room string) []string {
	t.Helper()
	var out []string
	for _, k := range fs.forRoom(room, "chat", "xcon-userid:b@x") {
		f, err := fs.open(&k)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		out = append(out, string(b))
	}
	return out
}

// TestFileStoreReload: kept files come back in sequence order after a reopen, whatever their
// modification times; part files and data without metadata are removed; the quotas evict the
// oldest; deleting a room removes its directory.
func TestFileStoreReload(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	fs, err := openFileStore(dir, 12, 20, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"first", "second", "third"} {
		keepBytes(t, fs, "r/1", b) // a name that is no path
	}
	if got := bodies(t, fs, "r/1"); len(got) != 2 || got[0] != "second" || got[1] != "third" {
		t.Fatalf("room quota 12: kept %q", got)
	}
	keepBytes(t, fs, "other", "01234")
	keepBytes(t, fs, "other", "abcde") // 6+5+5+5 > 20: the oldest of all goes
	if got := bodies(t, fs, "r/1"); len(got) != 1 || got[0] != "third" {
		t.Fatalf("total quota 20: r/1 keeps %q", got)
	}
	// Older modification times must not reorder anything.
	old := time.Now().Add(-time.Hour)
	entries, _ := os.ReadDir(fs.roomDir("other"))
	for i, e := range entries {
		os.Chtimes(filepath.Join(fs.roomDir("other"), e.Name()), old.Add(-time.Duration(i)*time.Minute), old)
	}
	os.WriteFile(filepath.Join(fs.roomDir("other"), "incoming-1.part"), []byte("half"), 0o600)
	os.WriteFile(filepath.Join(fs.roomDir("other"), "00000000000000000099.msg"), []byte("orphan"), 0o600)

	fs2, err := openFileStore(dir, 12, 20, log)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"01234", "abcde"}
	if got := bodies(t, fs2, "other"); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("after reopen: %q, want %q", got, want)
	}
	for _, name := range []string{"incoming-1.part", "00000000000000000099.msg"} {
		if _, err := os.Stat(filepath.Join(fs2.roomDir("other"), name)); !os.IsNotExist(err) {
			t.Fatalf("%s left on disk", name)
		}
	}
	if got := bodies(t, fs2, "r/1"); len(got) != 1 || got[0] != "third" {
		t.Fatalf("after reopen r/1 keeps %q", got)
	}
	keepBytes(t, fs2, "other", "p")
	if k := fs2.forRoom("other", "chat", ""); k[len(k)-1].Seq <= k[len(k)-2].Seq {
		t.Fatalf("sequence not continued after reopen: %d after %d", k[len(k)-1].Seq, k[len(k)-2].Seq)
	}
	fs2.deleteRoom("other")
	if _, err := os.Stat(fs2.roomDir("other")); !os.IsNotExist(err) || fs2.total != int64(len("third")) {
		t.Fatalf("deleted room: dir %v, total %d", err, fs2.total)
	}
}

// TestFileStorePathsStayInside: whatever a room or a pushed file is called, what is kept lands
// one directory below the store's, named by sequence number; the sender's file name is only
// metadata.
func TestFileStorePathsStayInside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "files")
	fs, err := openFileStore(dir, 1<<20, 1<<20, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rooms := []string{"../escape", "/abs/olute", "a\x00b", "..", ".", "a/../../b", `..\..\x`, ".hidden"}
	for _, room := range rooms {
		part, err := fs.create(room)
		if err != nil {
			t.Fatalf("%q: %v", room, err)
		}
		part.WriteString("x")
		if _, err := fs.commit(part, keptFile{Room: room, Channel: "chat", Name: "../../../etc/passwd\x00", Sender: "xcon-userid:a@x",
			Inner: "text/plain", Size: 1, Received: time.Now()}); err != nil {
			t.Fatalf("%q: %v", room, err)
		}
		if d := fs.roomDir(room); filepath.Dir(d) != dir {
			t.Fatalf("room %q kept in %q, outside %q", room, d, dir)
		}
	}
	if top, _ := os.ReadDir(root); len(top) != 1 || top[0].Name() != "files" {
		t.Fatalf("files outside the store: %v", top)
	}
	subdirs, _ := os.ReadDir(dir)
	if len(subdirs) != len(rooms) {
		t.Fatalf("%d room directories for %d rooms", len(subdirs), len(rooms))
	}
	for _, sd := range subdirs {
		entries, _ := os.ReadDir(filepath.Join(dir, sd.Name()))
		for _, e := range entries {
			if e.IsDir() || (filepath.Ext(e.Name()) != ".msg" && filepath.Ext(e.Name()) != ".json") {
				t.Fatalf("unexpected %q in %q", e.Name(), sd.Name())
			}
		}
	}
}
