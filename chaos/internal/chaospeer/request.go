package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/chaos"
	"github.com/meshmq/meshmq/peer"
)

const (
	requesters     = 4                // requests in flight at once
	requestTimeout = 10 * time.Second // each Request's ctx
)

// requestAll makes this requester's share of requests, requesters at a time,
// going on after those earlier incarnations asked, and logs each one's
// outcome: a reply answering it, or the error Request returned.
func requestAll(ctx context.Context, o *options, p *peer.Peer, log *chaos.Log, past []chaos.Event) {
	var done atomic.Int64
	for _, e := range past {
		if e.Kind == chaos.Asked && e.Proc == o.name {
			done.Add(1)
		}
	}
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(requesters / o.rate * float64(time.Second))
	}
	var wg sync.WaitGroup
	for range requesters {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := done.Add(1)
				if i > int64(o.messages) {
					return
				}
				ask(ctx, o, p, log, fmt.Sprintf("rq-%d-%d", o.inc, i))
				if interval > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(interval):
					}
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() == nil {
		log.Write(chaos.Event{Kind: chaos.Done})
	}
}

func ask(ctx context.Context, o *options, p *peer.Peer, log *chaos.Log, id string) {
	if err := log.Write(chaos.Event{Kind: chaos.Asked, Group: o.service, ID: id}); err != nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	r, err := p.Request(rctx, &channel.Message{ID: id, Channel: o.service, Body: []byte(id)})
	switch {
	case err != nil:
		log.Write(chaos.Event{Kind: chaos.ReqErr, Group: o.service, ID: id, Note: err.Error()})
	case !bytes.Equal(r.Body, []byte(id)):
		log.Write(chaos.Event{Kind: chaos.Reply, Group: o.service, ID: id, Note: fmt.Sprintf("answers:%q", r.Body)})
	default:
		log.Write(chaos.Event{Kind: chaos.Reply, Group: o.service, ID: id, Note: "ok"})
	}
}
