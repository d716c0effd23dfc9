package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/peer"
)

const subscribeUsage = `Usage: meshctl subscribe PATTERN [flags]   (alias: meshctl tail)

Subscribes to the topics matching PATTERN (orders.created; orders.* for one
token; orders.> for one or more) and prints each event as it arrives: the
time, its topic, the member it came from, its key, and its body (as JSON
when it decodes, quoted otherwise). Runs until Ctrl-C, or until -count
events. Each event is acknowledged once printed.

Without -group, meshctl is a subscriber group of its own: it gets every
event, beside the cluster's own groups. With -group it joins that group and
shares its events with the other members: one member gets each.

Examples:

  meshctl subscribe 'orders.>' -join 127.0.0.1:7946
  meshctl tail chat.lobby -count 10 -join 127.0.0.1:7946
  meshctl subscribe 'orders.*' -json -join 127.0.0.1:7946 | jq .body
` + commonUsage + `
Without -join, meshctl starts a cluster of its own: it prints its gossip
address for the others to join.

Flags:
`

const serveUsage = `Usage: meshctl serve SERVICE [flags]

Handles SERVICE: prints each message as it arrives (as subscribe does) and
acknowledges it; answers each request with -reply, or with the request's
own body (an echo). Runs until Ctrl-C, or until -count messages. Handy to
try send and request, or to stand in for a service.

Examples:

  meshctl serve quotes -join 127.0.0.1:7946
  meshctl serve quotes -reply '{"price":420}' -join 127.0.0.1:7946
  meshctl serve orders -count 1 -json -join 127.0.0.1:7946
` + commonUsage + `
Flags:
`

func subscribeFlags() (*cli.Flags, func(context.Context, *env, []string) error) {
	fs := cli.NewFlagSet("subscribe", subscribeUsage)
	var c common
	var lf listenFlags
	group := fs.String("group", "", "join the subscriber `GROUP` (default: a group of its own)")
	lf.register(fs)
	c.register(fs)
	return fs, func(ctx context.Context, e *env, pos []string) error {
		if len(pos) != 1 {
			return fs.Fail("subscribe takes one PATTERN, such as: meshctl subscribe 'orders.>' -join 127.0.0.1:7946 (got %d arguments)", len(pos))
		}
		pattern := pos[0]
		if err := channel.ValidatePattern(pattern); err != nil {
			return fs.Fail("pattern %q: %v (dot-separated tokens; * one token, > the rest)", pattern, err)
		}
		if err := lf.check(fs); err != nil {
			return err
		}
		if err := c.check(fs, false, false); err != nil {
			return err
		}
		s, err := c.start(ctx, e, nil)
		if err != nil {
			return err
		}
		l := newListener(s, &lf)
		opts := []peer.HandleOption{}
		what := "subscribed to " + pattern
		if *group != "" {
			opts = append(opts, peer.Group(*group))
			what += " in group " + *group
		}
		sub, err := s.p.Subscribe(pattern, l.handle, opts...)
		if err != nil {
			return s.finish(err)
		}
		return s.finish(l.run(ctx, what, sub.Unsubscribe))
	}
}

func serveFlags() (*cli.Flags, func(context.Context, *env, []string) error) {
	fs := cli.NewFlagSet("serve", serveUsage)
	var c common
	var lf listenFlags
	reply := fs.String("reply", "", "answer requests with this body (`JSON` or text; default: the request's body)")
	encoding := fs.String("encoding", encMsgPack, "the encoding of -reply: msgpack or json")
	lf.register(fs)
	c.register(fs)
	return fs, func(ctx context.Context, e *env, pos []string) error {
		if len(pos) != 1 {
			return fs.Fail("serve takes one SERVICE, such as: meshctl serve quotes -join 127.0.0.1:7946 (got %d arguments)", len(pos))
		}
		service := pos[0]
		if err := lf.check(fs); err != nil {
			return err
		}
		if *encoding != encMsgPack && *encoding != encJSON {
			return fs.Fail("-encoding %q: want msgpack or json", *encoding)
		}
		var answer *channel.Message
		if *reply != "" {
			answer = &channel.Message{}
			if err := encodeBody(answer, []byte(*reply), *encoding); err != nil {
				return fs.Fail("-reply: %v", err)
			}
		}
		if err := c.check(fs, false, false); err != nil {
			return err
		}
		s, err := c.start(ctx, e, nil)
		if err != nil {
			return err
		}
		l := newListener(s, &lf)
		l.answer, l.echo = answer, answer == nil
		if err := s.p.Handle(service, l.handle); err != nil {
			return s.finish(err)
		}
		// A handler cannot be withdrawn: with -count, what comes after is
		// refused (retried by its sender) until meshctl has left.
		return s.finish(l.run(ctx, "serving "+service, nil))
	}
}

// listenFlags are the output flags of subscribe and serve.
type listenFlags struct {
	count  int
	asJSON bool
}

func (f *listenFlags) register(fs *cli.Flags) {
	fs.IntVar(&f.count, "count", 0, "exit after `N` messages (0: run until Ctrl-C)")
	fs.BoolVar(&f.asJSON, "json", false, "print one JSON object per message (time, channel, from, key, id, kind, attempt, headers, body)")
}

func (f *listenFlags) check(fs *cli.Flags) error {
	if f.count < 0 {
		return fs.Fail("-count %d: want 0 (no limit) or more", f.count)
	}
	return nil
}

// listener prints the messages of a subscription or a service.
type listener struct {
	s      *session
	f      *listenFlags
	con    *cli.Console
	answer *channel.Message // the reply to requests; nil: none
	echo   bool             // answer requests with their own body

	mu   sync.Mutex
	n    int
	done chan struct{} // closed at -count messages
}

// errEnough refuses what comes after -count: its sender retries it, with
// another member of the group if there is one.
var errEnough = errors.New("meshctl: -count reached, leaving")

func newListener(s *session, f *listenFlags) *listener {
	return &listener{s: s, f: f, con: s.e.stdout, done: make(chan struct{})}
}

func (l *listener) handle(ctx context.Context, m *channel.Message) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f.count > 0 && l.n >= l.f.count {
		return errEnough
	}
	if m.ReplyTo != "" && (l.answer != nil || l.echo) {
		r := &channel.Message{Body: m.Body, Headers: channel.Headers{}}
		if ct := m.Headers.Get("content-type"); ct != "" {
			r.SetHeader("content-type", ct)
		}
		if l.answer != nil {
			r = l.answer.Clone()
		}
		if err := peer.Reply(ctx, r); err != nil {
			return err
		}
	}
	l.print(m)
	l.n++
	if l.n == l.f.count {
		close(l.done)
	}
	return nil
}

func (l *listener) print(m *channel.Message) {
	if !l.f.asJSON {
		line := m.Channel + " from " + m.From
		if m.Key != "" {
			line += " key " + m.Key
		}
		if m.ReplyTo != "" {
			line += " (request " + m.ID + ")"
		}
		if h := formatHeaders(m.Headers); h != "" {
			line += " headers " + h
		}
		if m.Attempt > 1 {
			line += fmt.Sprintf(" attempt %d", m.Attempt)
		}
		l.con.Printf("%s: %s", line, bodyText(m))
		return
	}
	out := struct {
		Time     time.Time       `json:"time"`
		Received time.Time       `json:"received"`
		Channel  string          `json:"channel"`
		From     string          `json:"from"`
		Key      string          `json:"key,omitempty"`
		ID       string          `json:"id"`
		Kind     string          `json:"kind"`
		Attempt  int             `json:"attempt"`
		ReplyTo  string          `json:"replyTo,omitempty"`
		Headers  channel.Headers `json:"headers,omitempty"`
		Body     json.RawMessage `json:"body"`
		Raw      bool            `json:"raw,omitempty"` // body not decodable: the bytes as a string
	}{m.Time, time.Now(), m.Channel, m.From, m.Key, m.ID, m.Kind.String(), m.Attempt, m.ReplyTo, m.Headers, nil, false}
	if b, ok := bodyJSON(m); ok {
		out.Body = b
	} else {
		out.Body, _ = json.Marshal(string(m.Body))
		out.Raw = true
	}
	b, err := json.Marshal(out)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"id": m.ID, "error": err.Error()})
	}
	l.con.Write(append(b, '\n'))
}

// run waits until meshctl has joined (saying so), then until Ctrl-C or
// -count messages; then it withdraws with stop, if given.
func (l *listener) run(ctx context.Context, what string, stop func(context.Context) error) error {
	if err := l.s.await(ctx, nil, false); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	hint := "Ctrl-C to stop"
	if l.f.count > 0 {
		hint = fmt.Sprintf("until %s (or Ctrl-C)", plural(l.f.count, "message", "messages"))
	}
	join := ""
	if len(l.s.join) == 0 {
		join = l.s.gossipAddr("; others join with -join ")
	}
	fmt.Fprintf(l.s.e.stderr, "meshctl: %s as %s%s; %s\n", what, l.s.name, join, hint)
	select {
	case <-ctx.Done():
	case <-l.done:
	}
	if stop != nil {
		sctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		return stop(sctx)
	}
	return nil
}
