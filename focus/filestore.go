package focus

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Files kept for later joiners (session-chat §5.5) live on disk, one directory per room under the
// files directory (data_dir/files): SEQ.msg holds the CPIM message exactly as it was delivered,
// SEQ.json its metadata. SEQ is a sequence number taken when a file completes and persisted with
// it (name and metadata), so the order of delivery survives a restart whatever the clocks say.
// A file being received is written to a .part file that becomes SEQ.msg only once complete;
// what a crash leaves half-written is removed at start. The metadata is a sidecar rather than a
// table of the store: a kept file and its description are created, evicted and deleted together
// by one directory operation, nothing of them has to be queried, and the store's schema stays
// that of conference objects and the log.

// DefaultMaxFileSize bounds one pushed file (max_file_size).
const DefaultMaxFileSize = 1 << 30

// DefaultFileTotalQuota is how many bytes of kept files all rooms together keep (file_total_quota).
const DefaultFileTotalQuota = 1 << 30

// keptFile describes a file kept for later joiners.
type keptFile struct {
	Seq      uint64    `json:"seq"`
	Room     string    `json:"room"`
	Channel  string    `json:"channel"`
	Sender   string    `json:"sender"`            // XCON-USERID
	Targets  []string  `json:"targets,omitempty"` // XCON-USERIDs of the recipients; none: the room
	Inner    string    `json:"inner"`             // the file's media type
	Name     string    `json:"name,omitempty"`    // the file's name as the sender gave it
	Size     int64     `json:"size"`              // bytes of the CPIM message on disk
	Received time.Time `json:"received"`
}

// visibleTo tells whether a joiner of channel may receive the file.
func (k *keptFile) visibleTo(channel, userID string) bool {
	return k.Channel == channel && (len(k.Targets) == 0 || k.Sender == userID || slices.Contains(k.Targets, userID))
}

// fileStore is the set of kept files of every room, oldest first.
type fileStore struct {
	dir        string
	roomQuota  int64
	totalQuota int64
	log        *slog.Logger
	evicted    func() // counts an eviction (metrics); may be nil

	mu    sync.Mutex
	next  uint64
	files []*keptFile // by Seq
	total int64
}

// openFileStore loads the kept files under dir, removing what an interrupted run left behind,
// and applies the quotas (which may have been lowered since).
func openFileStore(dir string, roomQuota, totalQuota int64, log *slog.Logger) (*fileStore, error) {
	if roomQuota <= 0 {
		roomQuota = DefaultFileQuota
	}
	if totalQuota <= 0 {
		totalQuota = DefaultFileTotalQuota
	}
	fs := &fileStore{dir: dir, roomQuota: roomQuota, totalQuota: totalQuota, log: log, next: 1}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	rooms, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, rd := range rooms {
		if !rd.IsDir() {
			continue
		}
		roomDir := filepath.Join(dir, rd.Name())
		entries, err := os.ReadDir(roomDir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			name := e.Name()
			path := filepath.Join(roomDir, name)
			switch {
			case strings.HasSuffix(name, ".part") || strings.HasSuffix(name, ".tmp"):
				os.Remove(path) // an interrupted transfer or metadata write
			case strings.HasSuffix(name, ".json"):
				k, err := readKept(path)
				if err != nil {
					log.Warn("kept file dropped: unreadable metadata", "path", path, "err", err)
					os.Remove(path)
					os.Remove(strings.TrimSuffix(path, ".json") + ".msg")
					continue
				}
				fs.files = append(fs.files, k)
				fs.total += k.Size
				fs.next = max(fs.next, k.Seq+1)
			}
		}
		// A .msg without metadata was not complete.
		for _, e := range entries {
			if name := e.Name(); strings.HasSuffix(name, ".msg") {
				if _, err := os.Stat(filepath.Join(roomDir, strings.TrimSuffix(name, ".msg")+".json")); err != nil {
					os.Remove(filepath.Join(roomDir, name))
				}
			}
		}
	}
	slices.SortFunc(fs.files, func(a, b *keptFile) int { return compareSeq(a.Seq, b.Seq) })
	fs.mu.Lock()
	fs.evictLocked("")
	fs.mu.Unlock()
	return fs, nil
}

func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func readKept(path string) (*keptFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var k keptFile
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, err
	}
	if k.Seq == 0 || k.Room == "" {
		return nil, errors.New("no sequence number or room")
	}
	st, err := os.Stat(strings.TrimSuffix(path, ".json") + ".msg")
	if err != nil {
		return nil, err
	}
	if st.Size() != k.Size {
		return nil, fmt.Errorf("%d bytes on disk, %d in the metadata", st.Size(), k.Size)
	}
	return &k, nil
}

// roomDir is the directory of a room's files: its name, path-escaped.
func (fs *fileStore) roomDir(room string) string {
	name := url.PathEscape(room)
	if strings.HasPrefix(name, ".") {
		name = "%2E" + name[1:]
	}
	return filepath.Join(fs.dir, name)
}

func (fs *fileStore) path(k *keptFile, ext string) string {
	return filepath.Join(fs.roomDir(k.Room), fmt.Sprintf("%020d%s", k.Seq, ext))
}

// create opens the part file a transfer to room is written to.
func (fs *fileStore) create(room string) (*os.File, error) {
	dir := fs.roomDir(room)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return os.CreateTemp(dir, "incoming-*.part")
}

// fits tells whether a file of n bytes could be kept at all.
func (fs *fileStore) fits(n int64) bool { return n <= fs.roomQuota && n <= fs.totalQuota }

// commit makes a complete part file a kept file: it takes the next sequence number, renames the
// data into place, writes the metadata, and evicts the oldest files beyond the quotas. It returns
// the kept file, or nil when the file is too large to keep. The part file is closed in any case.
func (fs *fileStore) commit(part *os.File, k keptFile) (*keptFile, error) {
	if err := part.Sync(); err != nil {
		part.Close()
		os.Remove(part.Name())
		return nil, err
	}
	part.Close()
	if !fs.fits(k.Size) {
		os.Remove(part.Name())
		return nil, nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	k.Seq = fs.next
	fs.next++
	if err := os.Rename(part.Name(), fs.path(&k, ".msg")); err != nil {
		os.Remove(part.Name())
		return nil, err
	}
	meta, _ := json.Marshal(&k)
	tmp := fs.path(&k, ".json.tmp")
	if err := writeSynced(tmp, meta); err != nil {
		os.Remove(tmp)
		os.Remove(fs.path(&k, ".msg"))
		return nil, err
	}
	if err := os.Rename(tmp, fs.path(&k, ".json")); err != nil {
		os.Remove(tmp)
		os.Remove(fs.path(&k, ".msg"))
		return nil, err
	}
	fs.files = append(fs.files, &k)
	fs.total += k.Size
	fs.evictLocked(k.Room)
	kept := k
	return &kept, nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// evictLocked deletes the oldest files of room beyond the room quota ("" checks every room),
// then the oldest of all beyond the total quota. Caller holds mu.
func (fs *fileStore) evictLocked(room string) {
	perRoom := map[string]int64{}
	for _, k := range fs.files {
		perRoom[k.Room] += k.Size
	}
	for i := 0; i < len(fs.files); {
		k := fs.files[i]
		if (room == "" || k.Room == room) && perRoom[k.Room] > fs.roomQuota {
			perRoom[k.Room] -= k.Size
			fs.removeLocked(i, "room quota")
			continue
		}
		i++
	}
	for fs.total > fs.totalQuota && len(fs.files) > 0 {
		fs.removeLocked(0, "total quota")
	}
}

// removeLocked deletes files[i] from disk and from the list.
func (fs *fileStore) removeLocked(i int, why string) {
	k := fs.files[i]
	os.Remove(fs.path(k, ".json"))
	os.Remove(fs.path(k, ".msg"))
	fs.total -= k.Size
	fs.files = slices.Delete(fs.files, i, i+1)
	if fs.evicted != nil {
		fs.evicted()
	}
	fs.log.Info("kept file evicted", "room", k.Room, "seq", k.Seq, "bytes", k.Size, "reason", why)
}

// bytes is the size of every kept file together; 0 for a nil store.
func (fs *fileStore) bytes() int64 {
	if fs == nil {
		return 0
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.total
}

// forRoom returns, oldest first, the kept files of room a joiner of channel may receive.
func (fs *fileStore) forRoom(room, channel, userID string) []keptFile {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []keptFile
	for _, k := range fs.files {
		if k.Room == room && k.visibleTo(channel, userID) {
			out = append(out, *k)
		}
	}
	return out
}

// open opens a kept file's CPIM message for reading. An evicted file that is already open
// stays readable until closed.
func (fs *fileStore) open(k *keptFile) (*os.File, error) { return os.Open(fs.path(k, ".msg")) }

// deleteRoom removes a room's kept files.
func (fs *fileStore) deleteRoom(room string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i := 0; i < len(fs.files); {
		if fs.files[i].Room == room {
			fs.total -= fs.files[i].Size
			fs.files = slices.Delete(fs.files, i, i+1)
			continue
		}
		i++
	}
	if err := os.RemoveAll(fs.roomDir(room)); err != nil {
		fs.log.Error("kept files of a deleted room not removed", "room", room, "err", err)
	}
}

// keepRooms removes the files of rooms that are not in rooms (deleted while the focus was down).
func (fs *fileStore) keepRooms(rooms map[string]bool) {
	fs.mu.Lock()
	var gone []string
	for _, k := range fs.files {
		if !rooms[k.Room] && !slices.Contains(gone, k.Room) {
			gone = append(gone, k.Room)
		}
	}
	fs.mu.Unlock()
	for _, r := range gone {
		fs.deleteRoom(r)
	}
}
