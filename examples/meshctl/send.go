package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/peer"
)

const sendUsage = `Usage: meshctl send SERVICE [flags]

Sends one message (a command) to one instance of SERVICE, at least once, and
waits until it is acknowledged: its handler returned nil. Prints the message
ID and who acknowledged it; fails if it is dead-lettered (the handler
refused it for good, or -ttl passed) or not acknowledged within -timeout.
` + bodyUsage + `
Examples:

  meshctl send orders -body 42 -join 127.0.0.1:7946
  meshctl send orders -body '{"id":"o-1","cents":4200}' -key o-1 -header tenant=eu -join 127.0.0.1:7946
  meshctl send orders -file order.json -encoding json -to b -join 127.0.0.1:7946
  echo '{"id":"o-2"}' | meshctl send orders -file - -join 127.0.0.1:7946
  meshctl send orders -body 42 -peers a=tcp://127.0.0.1:7001     # no gossip: a handles orders
` + commonUsage + `
Flags:
`

const publishUsage = `Usage: meshctl publish TOPIC [flags]

Publishes one event to TOPIC: every subscriber group whose pattern matches
it gets a copy, at least once. Waits until a subscriber is in view, then
until every copy is acknowledged, and prints which members acknowledged
them; fails if there is no subscriber, or a copy is dead-lettered or not
acknowledged within -timeout.
` + bodyUsage + `
Examples:

  meshctl publish orders.created -body '{"id":"o-1"}' -key o-1 -join 127.0.0.1:7946
  meshctl publish chat.lobby -body '"hello"' -encoding json -join 127.0.0.1:7946
` + commonUsage + `
Flags:
`

const requestUsage = `Usage: meshctl request SERVICE [flags]

Sends a request to one instance of SERVICE and waits for its reply (the
handler answers with peer.Reply) until -timeout. Prints the reply's body to
standard output, as JSON when it is MessagePack or JSON and raw otherwise,
and who answered, the correlation ID and the round trip to standard error.
` + bodyUsage + `
Examples:

  meshctl request quotes -body '{"sku":"a-1","qty":3}' -join 127.0.0.1:7946
  meshctl request quotes -body '{"sku":"a-1"}' -join 127.0.0.1:7946 | jq .price
  meshctl request echo -body hello -to b -timeout 2s -join 127.0.0.1:7946
` + commonUsage + `
Flags:
`

func sendFlags() (*cli.Flags, func(context.Context, *env, []string) error) {
	return messageCommand("send", sendUsage, true, func(ctx context.Context, s *session, m *channel.Message) error {
		return s.send(ctx, m)
	})
}

func publishFlags() (*cli.Flags, func(context.Context, *env, []string) error) {
	return messageCommand("publish", publishUsage, false, func(ctx context.Context, s *session, m *channel.Message) error {
		return s.publish(ctx, m)
	})
}

func requestFlags() (*cli.Flags, func(context.Context, *env, []string) error) {
	return messageCommand("request", requestUsage, true, func(ctx context.Context, s *session, m *channel.Message) error {
		return s.request(ctx, m)
	})
}

// messageCommand is send, publish or request: parse, build the message,
// join, do.
func messageCommand(name, usage string, withTo bool, do func(context.Context, *session, *channel.Message) error) (*cli.Flags, func(context.Context, *env, []string) error) {
	fs := cli.NewFlagSet(name, usage)
	var c common
	var mf msgFlags
	mf.register(fs, withTo)
	c.register(fs)
	arg := "SERVICE"
	if name == "publish" {
		arg = "TOPIC"
	}
	return fs, func(ctx context.Context, e *env, pos []string) error {
		if len(pos) != 1 {
			return fs.Fail("%s takes one %s, such as: meshctl %s orders -body 42 -join 127.0.0.1:7946 (got %d arguments)", name, arg, name, len(pos))
		}
		ch := pos[0]
		kind := channel.Command
		if name == "publish" {
			kind = channel.Event
			if err := channel.ValidateTopic(ch); err != nil {
				return fs.Fail("topic %q: %v (a topic has no wildcards: dot-separated tokens such as orders.created)", ch, err)
			}
		}
		if err := mf.check(fs); err != nil {
			return err
		}
		if err := c.check(fs, true, name != "publish"); err != nil {
			return err
		}
		if mf.to != "" && len(c.peers) > 0 && !slices.ContainsFunc(c.peers, func(m discovery.Member) bool { return m.Name == mf.to }) {
			return fs.Fail("-to %s: not one of -peers", mf.to)
		}
		m, err := mf.message(kind, ch, e.stdin)
		if err != nil {
			return err
		}
		s, err := c.start(ctx, e, []string{ch})
		if err != nil {
			return err
		}
		return s.finish(do(ctx, s, m))
	}
}

// checkTo checks that the member m.To, now in view, handles m's service.
func (s *session) checkTo(m *channel.Message) error {
	if m.To == "" {
		return nil
	}
	for _, mem := range s.p.Members() {
		if mem.Name == m.To && !mem.Handles(m.Channel) {
			return fmt.Errorf("member %s does not handle service %s; members: %s", m.To, m.Channel, summarize(s.p.Members()))
		}
	}
	return nil
}

// send sends m and waits for its acknowledgement.
func (s *session) send(ctx context.Context, m *channel.Message) error {
	if err := s.await(ctx, ptr(serviceTarget(m.Channel, m.To)), false); err != nil {
		return err
	}
	if err := s.checkTo(m); err != nil {
		return err
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.p.Send(sctx, m); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if err := s.awaitAcks(sctx, 1); err != nil {
		return err
	}
	fmt.Fprintf(s.e.stdout, "sent %s to %s: acknowledged by %s in %v\n", m.ID, m.Channel,
		strings.Join(ackedBy(s.p.Stats()), ", "), roundDuration(time.Since(start)))
	return nil
}

// publish publishes m and waits until every copy is acknowledged.
func (s *session) publish(ctx context.Context, m *channel.Message) error {
	// Settled: every subscriber group in view gets its copy.
	if err := s.await(ctx, ptr(topicTarget(m.Channel)), true); err != nil {
		return err
	}
	subs := subscribers(s.p.Members(), m.Channel)
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.p.Publish(pctx, m); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	st := s.p.Stats()
	if st.Unheard > 0 {
		return fmt.Errorf("no subscriber heard it: the subscribers to %s left (members: %s)", m.Channel, summarize(s.p.Members()))
	}
	copies := int(st.Sent)
	if err := s.awaitAcks(pctx, copies); err != nil {
		return err
	}
	what := plural(copies, "copy", "copies") + " acknowledged"
	if by := ackedBy(s.p.Stats()); len(by) > 0 {
		what += " by " + strings.Join(by, ", ")
	}
	if n := int(st.SentBestEffort); n > 0 {
		// Unreliable subscriptions: at most once, never acknowledged.
		what += fmt.Sprintf(", %s sent best effort", plural(n, "copy", "copies"))
	}
	fmt.Fprintf(s.e.stdout, "published %s to %s: %s in %v (subscriptions: %s)\n", m.ID, m.Channel,
		what, roundDuration(time.Since(start)), strings.Join(subs, ", "))
	return nil
}

// awaitAcks waits until n messages (or copies) are acknowledged, and fails
// on a dead letter or when ctx ends.
func (s *session) awaitAcks(ctx context.Context, n int) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		st := s.p.Stats()
		if int(st.Acked) >= n && st.InFlight == 0 {
			return nil
		}
		select {
		case d := <-s.deadLetters:
			return deadLetterError(d)
		case <-ctx.Done():
			st := s.p.Stats()
			return fmt.Errorf("not acknowledged after %v: %d of %d acknowledged; sent to %s (a message not acknowledged may still have been handled)",
				s.timeout, st.Acked, n, destinations(st))
		case <-tick.C:
		}
	}
}

// request sends m as a request and prints its reply.
func (s *session) request(ctx context.Context, m *channel.Message) error {
	if err := s.await(ctx, ptr(serviceTarget(m.Channel, m.To)), false); err != nil {
		return err
	}
	if err := s.checkTo(m); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// A request given up on (the handler failed for good, its TTL passed)
	// ends the wait for its reply.
	var dead error
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		select {
		case d := <-s.deadLetters:
			dead = deadLetterError(d)
			cancel()
		case <-stop:
		}
	})
	start := time.Now()
	reply, err := s.p.Request(rctx, m)
	rtt := time.Since(start)
	close(stop)
	wg.Wait()
	switch {
	case dead != nil:
		return fmt.Errorf("request %s: %w", m.ID, dead)
	case errors.Is(err, peer.ErrNoResponders):
		return fmt.Errorf("no member handles service %s; members: %s", m.Channel, summarize(s.p.Members()))
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		st := s.p.Stats()
		if by := ackedBy(st); len(by) > 0 {
			return fmt.Errorf("no reply after %v: %s handled the request without answering it (a handler answers with peer.Reply)",
				s.timeout, strings.Join(by, ", "))
		}
		return fmt.Errorf("no reply after %v (a request handler answers with peer.Reply, and only when it returns nil); sent to %s",
			s.timeout, destinations(st))
	case err != nil:
		return fmt.Errorf("request: %w", err)
	}
	ct := reply.Headers.Get("content-type")
	if ct == "" && len(reply.Body) > 0 {
		ct = "application/msgpack"
	}
	meta := fmt.Sprintf("reply from %s to %s, correlation %s, in %v", reply.From, m.ID, reply.CorrelationID, roundDuration(rtt))
	if ct != "" {
		meta += ", " + ct
	}
	if h := formatHeaders(reply.Headers); h != "" {
		meta += ", headers " + h
	}
	fmt.Fprintf(s.e.stderr, "meshctl: %s\n", meta)
	if b, ok := bodyJSON(reply); ok {
		_, err = fmt.Fprintf(s.e.stdout, "%s\n", b)
	} else {
		_, err = s.e.stdout.Write(reply.Body)
	}
	return err
}

// ackedBy lists the members that acknowledged what meshctl sent.
func ackedBy(st peer.Stats) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(st.Destinations)) {
		if st.Destinations[name].Acked > 0 {
			out = append(out, name)
		}
	}
	return out
}

// formatHeaders lists h but its content-type: "k=v k2=v2".
func formatHeaders(h channel.Headers) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(h)) {
		if k == "content-type" {
			continue // shown apart
		}
		parts = append(parts, k+"="+h[k])
	}
	return strings.Join(parts, " ")
}

func ptr[T any](v T) *T { return &v }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// roundDuration rounds d for people: 1.234ms, 12.3ms, 1.23s.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond)
	case d < 100*time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d < 10*time.Second:
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
