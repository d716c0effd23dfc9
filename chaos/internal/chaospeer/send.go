package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/chaos"
	"github.com/meshmq/meshmq/peer"
)

// topic is what publishers publish to; subscribers subscribe to "ev.>".
const topic = "ev.created"

// sendAll sends (or publishes) this sender's share of messages, one
// goroutine per key, each key's in seq order, going on after the last
// message an earlier incarnation logged as sent: the one a kill caught in
// Send goes again, with the same ID. Logs Done when every key is through.
func sendAll(ctx context.Context, o *options, p *peer.Peer, log *chaos.Log, past []chaos.Event) {
	last := map[string]int{}
	for _, e := range past {
		if e.Kind == chaos.Sent && e.Proc == o.name {
			last[e.Key] = max(last[e.Key], e.Seq)
		}
	}
	perKey := o.messages / o.keys
	var wg sync.WaitGroup
	for k := range o.keys {
		key := chaos.Key(o.name, k+1)
		n := perKey
		if k < o.messages%o.keys {
			n++
		}
		wg.Go(func() { sendKey(ctx, o, p, log, key, last[key]+1, n) })
	}
	wg.Wait()
	if ctx.Err() == nil {
		log.Write(chaos.Event{Kind: chaos.Done})
	}
}

// sendKey sends seqs from..n of key, paced so that the keys together make
// the sender's rate.
func sendKey(ctx context.Context, o *options, p *peer.Peer, log *chaos.Log, key string, from, n int) {
	var tick <-chan time.Time
	if o.rate > 0 {
		t := time.NewTicker(time.Duration(float64(o.keys) / o.rate * float64(time.Second)))
		defer t.Stop()
		tick = t.C
	}
	for seq := from; seq <= n; seq++ {
		if tick != nil {
			select {
			case <-ctx.Done():
				return
			case <-tick:
			}
		}
		id := chaos.MessageID(key, seq)
		for {
			err := sendOne(ctx, o, p, id, key)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			// Not expected of a durable Send; said, and tried again with
			// the same ID so that the key stays whole.
			fmt.Fprintf(os.Stderr, "chaospeer %s#%d: send %s: %v\n", o.name, o.inc, id, err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		groups := o.groups
		if o.role == "sender" {
			groups = []string{o.service}
		}
		for _, g := range groups {
			log.Write(chaos.Event{Kind: chaos.Sent, Group: g, Key: key, Seq: seq, ID: id})
		}
	}
}

func sendOne(ctx context.Context, o *options, p *peer.Peer, id, key string) error {
	if o.role == "publisher" {
		return p.Publish(ctx, &channel.Message{ID: id, Channel: topic, Key: key, Body: []byte(id)})
	}
	return p.Send(ctx, &channel.Message{ID: id, Kind: channel.Command, Channel: o.service, Key: key, Body: []byte(id)})
}
