// Package natsrelay carries room messages between Parley nodes over NATS JetStream: one stream
// holds every room's messages for a short while, and every node reads it through an ordered
// consumer, so that the members of a room see its messages in the stream's order whichever
// node they are on. The store stays the source of truth for rooms, rosters and logs; this
// carries only what is relayed live.
package natsrelay

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamName is the JetStream stream of room messages; subjects are SubjectPrefix + the room's
// name in unpadded base64url (a room name may hold '.', '*' or '>', which subjects reserve).
// Changes (focus.Event) go by core NATS, not stored, on EventPrefix + the same.
const (
	StreamName    = "PARLEY_ROOMS"
	SubjectPrefix = "parley.room."
	EventPrefix   = "parley.event."
)

// Handler is what the relay hands messages and changes to: the focus.
type Handler interface {
	Deliver(env []byte)
	HandleEvent(event []byte)
}

// Config is what Open needs.
type Config struct {
	URL      string        // nats://host:port[,…]
	Node     string        // this node's name, as NATS shows the connection
	Replicas int           // the stream's replicas when it is created (0: 1)
	MaxAge   time.Duration // how long the stream keeps a message (0: DefaultMaxAge)
	Logger   *slog.Logger
}

// DefaultMaxAge: a message lives in the stream long enough for a node that reconnects to catch
// up, not as a log (the store keeps logged rooms' messages).
const DefaultMaxAge = 5 * time.Minute

// ackTimeout bounds the wait for JetStream to acknowledge one publish; the sender then gets
// 500.
const ackTimeout = 5 * time.Second

// Relay implements focus.Relay.
type Relay struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	cc   jetstream.ConsumeContext
	log  *slog.Logger
	mu   sync.Mutex // orders publishes and their acks alike
	acks chan pendingAck
	done chan struct{}
}

type pendingAck struct {
	future jetstream.PubAckFuture
	err    error
	done   func(error)
}

// Open connects, creates the stream if it is missing, and starts handing every message
// published from now on to h.Deliver, one at a time, in the stream's order, and every change
// announced to h.HandleEvent.
func Open(ctx context.Context, cfg Config, h Handler) (*Relay, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	// No reconnect buffer: a message published while the connection is down fails at once
	// (its sender gets 500), rather than reaching the room later after a 500.
	nc, err := nats.Connect(cfg.URL, nats.Name("parley "+cfg.Node), nats.MaxReconnects(-1), nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: Close
				log.Warn("relay: disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("relay: reconnected to NATS", "server", c.ConnectedUrlRedacted()) }))
	if err != nil {
		return nil, fmt.Errorf("natsrelay: connect to %s: %w", cfg.URL, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(ackTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsrelay: %w", err)
	}
	maxAge := cfg.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	replicas := max(cfg.Replicas, 1)
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: StreamName,
		Description: "Parley room messages between nodes", Subjects: []string{SubjectPrefix + ">"},
		Storage: jetstream.FileStorage, Replicas: replicas, MaxAge: maxAge, Discard: jetstream.DiscardOld})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsrelay: stream %s: %w", StreamName, err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsrelay: consumer: %w", err)
	}
	if _, err := nc.Subscribe(EventPrefix+">", func(m *nats.Msg) { h.HandleEvent(m.Data) }); err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsrelay: subscribe to changes: %w", err)
	}
	// A subscription counts once the server has it: without this round trip, a change
	// announced by another node just after Open returns could pass this node by.
	if err := nc.FlushTimeout(ackTimeout); err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsrelay: subscribe to changes: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { h.Deliver(m.Data()) },
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			log.Warn("relay: consumer", "err", err)
		}))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsrelay: consume: %w", err)
	}
	r := &Relay{nc: nc, js: js, cc: cc, log: log, acks: make(chan pendingAck, 4096), done: make(chan struct{})}
	go r.answer(r.acks)
	return r, nil
}

// Subject is the subject a room's messages are published on.
func Subject(room string) string {
	return SubjectPrefix + base64.RawURLEncoding.EncodeToString([]byte(room))
}

// Publish implements focus.Relay: done gets nil once JetStream has stored env.
func (r *Relay) Publish(room string, env []byte, done func(error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.acks == nil {
		done(errClosed)
		return
	}
	f, err := r.js.PublishAsync(Subject(room), env)
	r.acks <- pendingAck{future: f, err: err, done: done}
}

var errClosed = errors.New("natsrelay: closed")

// answer calls each publish's done in publish order, as its acknowledgement arrives.
func (r *Relay) answer(acks <-chan pendingAck) {
	defer close(r.done)
	for a := range acks {
		if a.err != nil {
			a.done(a.err)
			continue
		}
		select {
		case <-a.future.Ok():
			a.done(nil)
		case err := <-a.future.Err():
			a.done(err)
		}
	}
}

// Announce implements focus.Relay.
func (r *Relay) Announce(room string, event []byte) error {
	return r.nc.Publish(EventPrefix+base64.RawURLEncoding.EncodeToString([]byte(room)), event)
}

// MaxEnvelope implements focus.Relay: the server's maximum payload.
func (r *Relay) MaxEnvelope() int { return int(r.nc.MaxPayload()) }

// Close stops delivering, answers every publish still waiting, and disconnects.
func (r *Relay) Close() {
	r.cc.Stop()
	r.mu.Lock()
	acks := r.acks
	r.acks = nil
	r.mu.Unlock()
	if acks != nil {
		close(acks)
		<-r.done
	}
	r.nc.Close()
}
