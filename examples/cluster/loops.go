package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/peer"
)

// handler prints each message of the stream and acknowledges it.
func handler(con *cli.Console, service string) channel.Handler {
	return func(ctx context.Context, m *channel.Message) error {
		var n int
		if err := m.Decode(&n); err != nil {
			return channel.Permanent(err) // not our stream: retrying cannot help
		}
		con.Printf("%s: handled %d from %s attempt %d", service, n, m.From, m.Attempt)
		return nil
	}
}

// sendStream sends 1, 2, 3... to service at rate messages per second, until
// ctx ends or count are sent. It sends whatever is due on each tick rather
// than one per tick, so high rates hold without a timer per message.
func sendStream(ctx context.Context, p *peer.Peer, con *cli.Console, service string, rate float64, count int) {
	con.Printf("sending to %s, %v per second", service, rate)
	tick := max(time.Duration(float64(time.Second)/rate), 5*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	sent := 0
	for {
		due := int(time.Since(start).Seconds()*rate) + 1
		if count > 0 {
			due = min(due, count)
		}
		for ; sent < due; sent++ {
			msg, err := channel.NewCommand(service, sent+1)
			if err == nil {
				// Waits while the retry buffer is full: backpressure.
				err = p.Send(ctx, msg)
			}
			if err != nil {
				if ctx.Err() == nil {
					con.Printf("send %d: %v; sending stopped", sent+1, err)
				}
				return
			}
		}
		if count > 0 && sent == count {
			con.Printf("sent all %d messages", count)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// printStatus prints the sender's counters every second.
func printStatus(ctx context.Context, p *peer.Peer, con *cli.Console) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			con.Printf("status: %s", statusLine(p.Stats()))
		}
	}
}

func statusLine(st peer.Stats) string {
	return fmt.Sprintf("sent %d, acked %d, retried %d, dead-lettered %d, in flight %d",
		st.Sent, st.Acked, st.Retried, st.DeadLettered, st.InFlight)
}

// watchMembers prints members joining, changing and leaving. The peer has
// no membership events for its user, so it polls p.Members() and diffs.
// A member that left and one that failed look the same from here. It also
// prints the connections the peer refused (keys not in its allowlist).
func watchMembers(ctx context.Context, p *peer.Peer, con *cli.Console) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	known := map[string]discovery.Member{}
	var refusals cli.Refusals
	for {
		if line, ok := refusals.Check(p.Stats().Security, time.Now()); ok {
			con.Printf("%s", line)
		}
		now := map[string]discovery.Member{}
		for _, m := range p.Members() {
			now[m.Name] = m
		}
		for _, name := range slices.Sorted(maps.Keys(now)) {
			m := now[name]
			old, ok := known[name]
			switch {
			case !ok:
				con.Printf("joined %s", describe(m))
			case old.Endpoint != m.Endpoint || !slices.Equal(sorted(old.Services), sorted(m.Services)):
				con.Printf("updated %s", describe(m))
			}
		}
		for _, name := range slices.Sorted(maps.Keys(known)) {
			if _, ok := now[name]; !ok {
				con.Printf("left %s", name)
			}
		}
		known = now
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func describe(m discovery.Member) string {
	services := "nothing"
	if len(m.Services) > 0 {
		services = strings.Join(sorted(m.Services), ", ")
	}
	return fmt.Sprintf("%s at %s, serves %s", m.Name, m.Endpoint, services)
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// maxDeadLetterLines caps the dead letters printed one by one: a sender
// closed with no instance of its service would print its whole backlog.
const maxDeadLetterLines = 20

// printDeadLetters is the peer's dead-letter callback.
func printDeadLetters(con *cli.Console) func(peer.DeadLetter) {
	var printed atomic.Int64
	return func(d peer.DeadLetter) {
		switch k := printed.Add(1); {
		case k == maxDeadLetterLines+1:
			con.Printf("more dead letters: counted in the status line")
			return
		case k > maxDeadLetterLines:
			return
		}
		var n int
		d.Message.Decode(&n)
		to := d.Destination
		if to == "" {
			to = "no instance"
		}
		line := fmt.Sprintf("dead letter %d to %s after %d attempts: %s", n, to, d.Attempts, d.Reason)
		if d.Err != nil {
			line += ": " + d.Err.Error()
		}
		con.Printf("%s", line)
	}
}
