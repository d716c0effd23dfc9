package peer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/wire"
)

// catalogRequests matches CATALOG replies to the requests waiting for them.
type catalogRequests struct {
	next    atomic.Uint64
	mu      sync.Mutex
	waiting map[uint64]chan *wire.CatalogReply
}

func (r *catalogRequests) open() (uint64, chan *wire.CatalogReply) {
	id := r.next.Add(1)
	ch := make(chan *wire.CatalogReply, 1)
	r.mu.Lock()
	if r.waiting == nil {
		r.waiting = map[uint64]chan *wire.CatalogReply{}
	}
	r.waiting[id] = ch
	r.mu.Unlock()
	return id, ch
}

func (r *catalogRequests) done(id uint64) {
	r.mu.Lock()
	delete(r.waiting, id)
	r.mu.Unlock()
}

func (r *catalogRequests) answer(pk *wire.CatalogReply) {
	r.mu.Lock()
	ch := r.waiting[pk.ID]
	delete(r.waiting, pk.ID)
	r.mu.Unlock()
	if ch != nil {
		ch <- pk
	}
}

// fetchCatalog asks a member for its catalog over the data connection: the
// catalog outgrows gossip metadata (PROTOCOL.md section 10).
func (p *Peer) fetchCatalog(ctx context.Context, m discovery.Member, _ uint64) (*discovery.Catalog, error) {
	if p.closing.Load() {
		return nil, ErrClosed
	}
	link, err := p.tr.Connect(m.Name, m.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("peer: catalog of %s: %w", m.Name, err)
	}
	c, err := link.WaitUp(ctx)
	if err != nil {
		return nil, fmt.Errorf("peer: catalog of %s: %w", m.Name, err)
	}
	id, ch := p.catalogs.open()
	defer p.catalogs.done(id)
	if err := c.SendPacket(&wire.CatalogRequest{ID: id}); err != nil {
		return nil, fmt.Errorf("peer: catalog of %s: %w", m.Name, err)
	}
	select {
	case reply := <-ch:
		cat := &discovery.Catalog{Version: reply.Version}
		if reply.Catalog != nil {
			for _, s := range reply.Catalog.Services {
				cat.Services = append(cat.Services, s.Name)
			}
		}
		return cat, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("peer: catalog of %s: %w", m.Name, ctx.Err())
	}
}
