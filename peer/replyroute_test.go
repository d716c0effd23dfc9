package peer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/wire"
	"github.com/meshmq/meshmq/peer/outbox"
)

// Issue 14, observation 4: a responder whose discovery lists other members
// but not the requester still routes the reply to it, over the connection
// the requester identified itself on (its HELLO).
func TestReplyToARequesterDiscoveryDoesNotList(t *testing.T) {
	other := start(t, fastOpts("other")...)
	rx := start(t, append(fastOpts("responder"), WithDiscovery(discovery.NewStatic(member(other, "elsewhere"))))...)
	if err := rx.Handle("echo", echo); err != nil {
		t.Fatal(err)
	}
	tx := start(t, append(fastOpts("requester"), WithDiscovery(discovery.NewStatic(member(rx, "echo"))))...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := tx.Request(ctx, &channel.Message{Channel: "echo", Body: []byte("ping")})
	if err != nil {
		t.Fatalf("request: %v (responder stats %+v)", err, rx.Stats())
	}
	if string(r.Body) != "re: ping" || r.From != "responder" {
		t.Fatalf("reply %q from %s", r.Body, r.From)
	}
}

// The same with a requester that has no data endpoint to dial back (HELLO
// key 4 is optional: a client-only peer of another implementation): the
// reply goes back over the connection the request came on.
func TestReplyToARequesterWithoutEndpoint(t *testing.T) {
	other := start(t, fastOpts("other")...)
	rx := start(t, append(fastOpts("responder"), WithDiscovery(discovery.NewStatic(member(other, "elsewhere"))))...)
	if err := rx.Handle("echo", echo); err != nil {
		t.Fatal(err)
	}
	rp := dialRaw(t, rx.Endpoint(), "client", "")
	req := &channel.Message{ID: channel.NewID(), Kind: channel.Command, Channel: "echo", Body: []byte("ping"),
		CorrelationID: "c-1", ReplyTo: "client", Time: time.Now(), Deadline: time.Now().Add(time.Minute)}
	rp.send(&wire.Data{Entries: []wire.Entry{{Stream: 1, Seq: 1, Attempt: 1, Partition: wire.NoPartition,
		Message: wire.AppendMessage(nil, req)}}})
	got := make(chan wire.Packet, 1)
	go func() {
		defer close(got)
		got <- rp.recv()
	}()
	select {
	case pk := <-got:
		d, ok := pk.(*wire.Data)
		if !ok || len(d.Entries) != 1 {
			t.Fatalf("got %#v, want the reply", pk)
		}
		var m channel.Message
		if err := wire.DecodeMessage(d.Entries[0].Message, &m); err != nil {
			t.Fatal(err)
		}
		if m.Kind != channel.Reply || m.CorrelationID != "c-1" || string(m.Body) != "re: ping" {
			t.Fatalf("reply %+v", m)
		}
		e := d.Entries[0]
		rp.send(&wire.Ack{Streams: []wire.StreamAck{{Stream: e.Stream, Through: e.Seq}}})
		waitFor(t, "the reply acknowledged", func() bool { return rx.Stats().InFlight == 0 })
	case <-time.After(5 * time.Second):
		rp.close()
		t.Fatalf("no reply within 5s; responder stats: %+v", rx.Stats())
	}
}

// goneRequester has requester send a request to rx's service svc and then
// crash (Abort) while the handler runs; it returns once rx has lost the
// connection, so that the requester can no longer be reached.
func goneRequester(t *testing.T, rx *Peer, svc string, running <-chan struct{}) {
	t.Helper()
	tx, err := New(context.Background(), append(fastOpts("requester"), WithDiscovery(discovery.NewStatic(member(rx, svc))))...)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := tx.Request(context.Background(), &channel.Message{Channel: svc, Body: []byte("q")})
		done <- err
	}()
	<-running
	tx.Abort()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	tx.Close(ctx) // its request is unacknowledged: Close gives up on it
	cancel()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("the requester's Request: %v", err)
	}
	waitFor(t, "the responder losing the requester", func() bool { return rx.tr.Link("requester") == nil })
}

// Issue 14, observation 4: a requester that is gone when the handler calls
// Reply: Reply says so (ErrReplyUndeliverable, and its cause ErrNoRoute),
// and counts it; nothing is sent.
func TestReplyToAGoneRequesterFails(t *testing.T) {
	running, release := make(chan struct{}), make(chan struct{})
	replyErr := make(chan error, 1)
	rx := start(t, fastOpts("responder")...)
	if err := rx.Handle("svc", func(ctx context.Context, m *channel.Message) error {
		close(running)
		<-release
		replyErr <- Reply(ctx, &channel.Message{Body: []byte("too late")})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	goneRequester(t, rx, "svc", running)
	close(release)
	err := <-replyErr
	if !errors.Is(err, ErrReplyUndeliverable) || !errors.Is(err, ErrNoRoute) {
		t.Fatalf("Reply to a gone requester: %v", err)
	}
	waitFor(t, "the request handled", func() bool { return rx.Stats().Handled == 1 })
	if st := rx.Stats(); st.UndeliveredReplies != 1 || st.InFlight != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// Issue 14, observation 4: a reply Reply accepted whose requester is gone by
// the time the handler returns is dead-lettered (ReasonUndeliverable) and
// counted, never dropped silently.
func TestUndeliverableReplyIsDeadLettered(t *testing.T) {
	running, release := make(chan struct{}), make(chan struct{})
	dls := make(chan DeadLetter, 1)
	rx := start(t, append(fastOpts("responder"), WithDeadLetter(func(d DeadLetter) { dls <- d }))...)
	if err := rx.Handle("svc", func(ctx context.Context, m *channel.Message) error {
		if err := Reply(ctx, &channel.Message{Body: []byte("answer")}); err != nil {
			return channel.Permanent(err) // the requester was connected: Reply must take it
		}
		close(running)
		<-release
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	goneRequester(t, rx, "svc", running)
	close(release)
	select {
	case d := <-dls:
		if d.Reason != ReasonUndeliverable || d.Destination != "requester" || string(d.Message.Body) != "answer" ||
			d.Message.Kind != channel.Reply || !strings.Contains(fmt.Sprint(d.Err), "no route") {
			t.Fatalf("dead letter: %v (%+v)", d, d.Message)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no dead letter for the undeliverable reply; stats %+v", rx.Stats())
	}
	if st := rx.Stats(); st.UndeliveredReplies != 1 || st.DeadLettered != 1 || st.InFlight != 0 {
		t.Fatalf("stats: %+v", st)
	}
	n := 0
	rx.DeadLetters(context.Background(), func(d outbox.DeadLetter) error {
		if d.Reason == string(ReasonUndeliverable) && d.Dest.Peer == "requester" {
			n++
		}
		return nil
	})
	if n != 1 {
		t.Fatalf("%d undeliverable replies kept in the store, want 1", n)
	}
}
