package peer

import (
	"context"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

// A peer at its connection limit refuses a new sender, which keeps its
// message and retries: the refusal shows in both peers' Stats, and once a
// connection ends the message gets through. Nothing stalls unseen.
func TestConnectionLimitIsVisibleAndRecovers(t *testing.T) {
	handled := make(chan string, 2)
	rx := start(t, append(fastOpts("rx"), WithConnectionLimits(1, 4))...)
	if err := rx.Handle("jobs", func(_ context.Context, m *channel.Message) error {
		handled <- m.From
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first := start(t, append(fastOpts("first"), WithDiscovery(discovery.NewStatic(rx.Advertisement())))...)
	if err := first.Send(ctx, &channel.Message{Kind: channel.Command, Channel: "jobs"}); err != nil {
		t.Fatal(err)
	}
	if from := <-handled; from != "first" {
		t.Fatalf("handled a message from %q", from)
	}

	second := start(t, append(fastOpts("second"), WithDiscovery(discovery.NewStatic(rx.Advertisement())))...)
	if err := second.Send(ctx, &channel.Message{Kind: channel.Command, Channel: "jobs"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refusal counted", func() bool {
		return rx.Stats().Connections.OverLimit > 0 && second.Stats().Connections.DialFailures > 0
	})
	if s := rx.Stats().Connections; s.Open != 1 || s.MaxConnections != 1 || s.MaxHandshakes != 4 || s.Accepted != 1 {
		t.Fatalf("rx connections: %+v", s)
	}
	if second.Stats().Acked != 0 {
		t.Fatal("acknowledged through a refused connection")
	}

	first.Close(ctx)
	if from := <-handled; from != "second" {
		t.Fatalf("handled a message from %q", from)
	}
	waitFor(t, "the second sender acknowledged", func() bool { return second.Stats().Acked == 1 })
}
