package peer

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/transport"
	"github.com/meshmq/meshmq/internal/wire"
)

// catalogRequests matches CATALOG replies to the requests waiting for them.
type catalogRequests struct {
	next atomic.Uint64
	waiters[uint64, *wire.CatalogReply]
}

func (r *catalogRequests) answer(pk *wire.CatalogReply) { r.deliver(pk.ID, pk) }

// fetchCatalog asks a member for its catalog over the data connection: the
// catalog outgrows gossip metadata (PROTOCOL.md section 10). have is the
// version the caller holds (0: none); when the member's catalog is still
// that version it answers not modified, and fetchCatalog returns nil, nil:
// keep what you have.
func (p *Peer) fetchCatalog(ctx context.Context, m discovery.Member, have uint64) (*discovery.Catalog, error) {
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
	id := p.catalogs.next.Add(1)
	ch := p.catalogs.open(id)
	defer p.catalogs.close(id)
	if err := c.SendPacket(&wire.CatalogRequest{ID: id, Have: have}); err != nil {
		return nil, fmt.Errorf("peer: catalog of %s: %w", m.Name, err)
	}
	select {
	case reply := <-ch:
		if reply.Catalog == nil {
			if have != 0 && reply.Version == have {
				return nil, nil // not modified
			}
			return nil, fmt.Errorf("peer: catalog of %s: %w: no catalog for version %d (have %d)",
				m.Name, transport.ErrProtocol, reply.Version, have)
		}
		cat := &discovery.Catalog{Version: reply.Version}
		for _, s := range reply.Catalog.Services {
			cat.Services = append(cat.Services, s.Name)
			if s.Partitions > 0 && s.Partitions <= MaxPartitions {
				if cat.Partitions == nil {
					cat.Partitions = make(map[string]int)
				}
				cat.Partitions[s.Name] = int(s.Partitions)
			}
		}
		for _, ws := range reply.Catalog.Subscriptions {
			if s, ok := fromWireSub(ws); ok {
				cat.Subscriptions = append(cat.Subscriptions, s)
			}
		}
		for _, wt := range reply.Catalog.MessageTypes {
			// From the network: only what is well formed is kept.
			if wt.Channel == "" || wt.Direction < wire.DirectionReceive || wt.Direction > wire.DirectionReply ||
				wt.Kind > uint64(channel.Reply) || (len(wt.Schema) > 0 && !json.Valid(wt.Schema)) {
				continue
			}
			cat.MessageTypes = append(cat.MessageTypes, discovery.MessageType{Channel: wt.Channel,
				Direction: discovery.Direction(wt.Direction), Kind: channel.Kind(wt.Kind), Name: wt.Name,
				Description: wt.Description, Schema: wt.Schema})
		}
		return cat, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("peer: catalog of %s: %w", m.Name, ctx.Err())
	}
}
