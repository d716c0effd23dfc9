package peer

import (
	"sync"

	"github.com/meshmq/meshmq/channel"
)

// Reply cache bounds: the replies a responder keeps for repeated requests.
const (
	replyCacheSize     = 4096
	replyCacheBytes    = 8 << 20
	replyCacheMaxReply = 64 << 10 // larger replies are not kept
)

// replyCache keeps the replies this peer sent, by requester and request ID,
// so that a request seen again — its requester repeated it under the same
// ID after losing the wait, or resent it across a restart — is answered with
// the same reply instead of running the handler twice. Oldest first out.
type replyCache struct {
	mu    sync.Mutex
	max   int
	bytes int
	byKey map[replyID]*channel.Message
	order []replyID
	sizes map[replyID]int
}

// replyID identifies a request: its requester and its ID.
type replyID struct{ requester, id string }

func (c *replyCache) init(n int) {
	c.max = n
	c.byKey = make(map[replyID]*channel.Message)
	c.sizes = make(map[replyID]int)
}

func (c *replyCache) put(requester, id string, reply *channel.Message) {
	size := len(reply.Body) + 256
	for k, v := range reply.Headers {
		size += len(k) + len(v)
	}
	if size > replyCacheMaxReply || id == "" {
		return
	}
	key := replyID{requester, id}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; ok {
		return
	}
	for len(c.order) > 0 && (len(c.order) >= c.max || c.bytes+size > replyCacheBytes) {
		old := c.order[0]
		c.order[0] = replyID{}
		c.order = c.order[1:]
		c.bytes -= c.sizes[old]
		delete(c.byKey, old)
		delete(c.sizes, old)
	}
	c.byKey[key], c.sizes[key] = reply, size
	c.order = append(c.order, key)
	c.bytes += size
}

func (c *replyCache) get(requester, id string) *channel.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byKey[replyID{requester, id}]
}

// resendReply sends a copy of a cached reply.
func (p *Peer) resendReply(r *channel.Message) {
	if err := p.Send(p.ctx, r); err != nil {
		p.undeliverable(r, err)
	}
}
