package focus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/xcon"
	"golang.org/x/text/secure/precis"
)

// Nickname errors; the switch answers NICKNAME with 424 and 425 (RFC 7701 §7.1).
var (
	ErrNicknameMalformed = errors.New("focus: malformed nickname")                  // 424
	ErrNicknameTaken     = errors.New("focus: nickname reserved or already in use") // 425
)

// maxNicknameRunes caps an enforced nickname; RFC 8266 leaves the length to the application.
const maxNicknameRunes = 64

// NicknameScope says where a nickname must be unique.
type NicknameScope int

const (
	// ScopeSystem: a nickname held by one XCON-USERID cannot be taken by another in any room
	// ("unique in the conferencing system", session-chat §5.1). The default.
	ScopeSystem NicknameScope = iota
	// ScopeRoom: unique within each room only (RFC 7701 §7).
	ScopeRoom
)

// nicknames is the registry of nicknames in use, reserved or quarantined, compared with the
// PRECIS Nickname profile (RFC 8266). It is the one place that decides whether a user may take
// a name, for NICKNAME over MSRP and for CCMP alike.
type nicknames struct {
	scope      NicknameScope
	quarantine time.Duration
	now        func() time.Time

	mu       sync.Mutex
	holds    map[string]*nickHold // by scoped compare key
	reserved map[string]bool      // scoped compare keys nobody may take
	shared   sharedNicknames      // the other nodes' holds (the store), when several share the rooms
}

// sharedNicknames records this node's holds where the other nodes see them (xcon.Store does).
type sharedNicknames interface {
	ClaimLiveNickname(ctx context.Context, key, nickname, userID string, quarantine time.Duration) error
	ReleaseLiveNickname(ctx context.Context, key, userID string) error
}

// sharedTimeout bounds a claim or release in the shared store.
const sharedTimeout = 5 * time.Second

// setShared makes every claim from now on check, and record, the holds of the other nodes.
func (n *nicknames) setShared(s sharedNicknames) {
	n.mu.Lock()
	n.shared = s
	n.mu.Unlock()
}

// nickHold records who holds a name and where; a name with no holders left stays with its
// owner until released (quarantine over).
type nickHold struct {
	userID   string
	holders  map[string]bool // "room\x00chat-ID" of each stream using the name
	released time.Time       // when the last holder let go; zero while held
}

func newNicknames(scope NicknameScope, quarantine time.Duration, reserved []string) *nicknames {
	n := &nicknames{scope: scope, quarantine: quarantine, now: time.Now, holds: map[string]*nickHold{}, reserved: map[string]bool{}}
	for _, r := range reserved {
		if key, err := precis.Nickname.CompareKey(r); err == nil {
			n.reserved["\x00"+key] = true
		}
	}
	return n
}

// EnforceNickname returns the stored form of a requested nickname and its comparison key.
func EnforceNickname(raw string) (enforced, key string, err error) {
	if len(raw) == 0 || len(raw) > 1023 || !utf8.ValidString(raw) { // RFC 7701 §7.1: 1..1023 octets
		return "", "", ErrNicknameMalformed
	}
	enforced, err = precis.Nickname.String(raw)
	if err != nil || utf8.RuneCountInString(enforced) > maxNicknameRunes {
		return "", "", ErrNicknameMalformed
	}
	key, err = precis.Nickname.CompareKey(enforced)
	if err != nil {
		return "", "", ErrNicknameMalformed
	}
	return enforced, key, nil
}

func (n *nicknames) scoped(room, key string) string {
	if n.scope == ScopeRoom {
		return room + "\x00" + key
	}
	return "\x00" + key
}

// claim gives nickname raw to the stream (room, chatID) of userID, returning the enforced form.
// The same user may reuse a name it holds (a second device, another chat-ID, RFC 7701 §7.1).
func (n *nicknames) claim(room, chatID, userID, raw string) (string, error) {
	enforced, key, err := EnforceNickname(raw)
	if err != nil {
		return "", err
	}
	k := n.scoped(room, key)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.reserved["\x00"+key] || n.reserved[room+"\x00"+key] {
		return "", ErrNicknameTaken
	}
	h := n.holds[k]
	if h != nil && h.userID != userID {
		if len(h.holders) > 0 || n.now().Sub(h.released) < n.quarantine {
			return "", ErrNicknameTaken
		}
		h = nil // quarantine over: the name is free again
	}
	if n.shared != nil && (h == nil || len(h.holders) == 0) {
		// This node takes the name for the user now: the other nodes' holds decide too.
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		err := n.shared.ClaimLiveNickname(ctx, k, enforced, userID, n.quarantine)
		cancel()
		if errors.Is(err, xcon.ErrExists) {
			return "", ErrNicknameTaken
		}
		if err != nil {
			return "", fmt.Errorf("focus: nickname not checked with the other nodes: %w", err)
		}
	}
	if h == nil {
		h = &nickHold{userID: userID, holders: map[string]bool{}}
		n.holds[k] = h
	}
	h.holders[room+"\x00"+chatID] = true
	h.released = time.Time{}
	return enforced, nil
}

// releaseFor is release, only when userID is the name's holder.
func (n *nicknames) releaseFor(room, chatID, userID, nickname string) {
	_, key, err := EnforceNickname(nickname)
	if err != nil {
		return
	}
	n.mu.Lock()
	h := n.holds[n.scoped(room, key)]
	mine := h != nil && strings.EqualFold(h.userID, userID)
	n.mu.Unlock()
	if mine {
		n.release(room, chatID, nickname)
	}
}

// release lets the stream (room, chatID) give up the name it held; the name stays with its
// user for the quarantine.
func (n *nicknames) release(room, chatID, nickname string) {
	if nickname == "" {
		return
	}
	_, key, err := EnforceNickname(nickname)
	if err != nil {
		return
	}
	k := n.scoped(room, key)
	n.mu.Lock()
	defer n.mu.Unlock()
	h := n.holds[k]
	if h == nil {
		return
	}
	delete(h.holders, room+"\x00"+chatID)
	if len(h.holders) == 0 {
		if n.shared != nil {
			ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
			_ = n.shared.ReleaseLiveNickname(ctx, k, h.userID) // one left held waits for the node's restart or death
			cancel()
		}
		if n.quarantine <= 0 {
			delete(n.holds, k)
			return
		}
		h.released = n.now()
	}
}

// useNickname reads the Use-Nickname value (RFC 7701 §7.1): a quoted string with \\ and \"
// escapes, or, as the AG Projects stack sends it, a bare value. ok is false when the header
// is missing.
func useNickname(value string, present bool) (name string, ok bool, err error) {
	if !present {
		return "", false, nil
	}
	value = strings.TrimSpace(value)
	if !strings.HasPrefix(value, `"`) {
		return value, true, nil
	}
	if len(value) < 2 || !strings.HasSuffix(value, `"`) {
		return "", true, ErrNicknameMalformed
	}
	var b strings.Builder
	inner := value[1 : len(value)-1]
	for i := 0; i < len(inner); i++ {
		switch c := inner[i]; {
		case c == '\\':
			// qd-esc is only \\ or \" (RFC 4975 §9)
			if i+1 == len(inner) || (inner[i+1] != '\\' && inner[i+1] != '"') {
				return "", true, ErrNicknameMalformed
			}
			i++
			b.WriteByte(inner[i])
		case c == '"', c < 0x20 && c != '\t', c == 0x7f:
			return "", true, ErrNicknameMalformed
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true, nil
}
