package peer

import (
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/wire"
)

// Failover. When discovery reports a member failed or left, its destination
// is marked gone and no longer redialed. Once its data connection is closed
// as well (fenced) — at once after a drain or a crash, within the heartbeat
// timeout after a silent failure — its unacknowledged messages move, in order,
// to another instance of their service, or wait (parked) until one appears.
// A false failure detection costs nothing: while the connection stays up the
// peer keeps its messages, and no message moves while it could still be
// acknowledged.

// membership reacts to a discovery event: fail over from a member that went,
// take parked messages to one that came.
func (p *Peer) membership(e discovery.Event, back []*group) {
	p.lanes.changed() // partition counts and owners follow the view
	d := p.destIfAny(e.Member.Name)
	switch e.Type {
	case discovery.Failed, discovery.Left:
		if d == nil {
			return
		}
		d.link.Forget()
		gone := d.setGone(true)
		p.lanes.changed() // its partitions have a new owner
		if gone {
			p.failover(d)
		}
	case discovery.Joined, discovery.Updated:
		if d != nil {
			// Back, restarted, or moved: want it again, at its endpoint now.
			d.setGone(false)
			p.tr.Connect(e.Member.Name, e.Member.Endpoint)
		}
		p.wakeLanes()
		// Copies retained for the groups it came back to go now.
		for _, g := range back {
			g.routing.Lock() // new copies of a partitioned group wait behind these
			for _, m := range g.takeRetained() {
				p.reroute(m)
			}
			g.routing.Unlock()
		}
		signal(p.parkWake)
	}
}

// failover moves d's movable messages to other instances.
func (p *Peer) failover(d *dest) {
	moved := d.takeForFailover()
	if len(moved) == 0 {
		return
	}
	p.log.Info("failing over", "from", d.name, "messages", len(moved))
	p.stats.failedOver.Add(uint64(len(moved)))
	// A partition's messages go back to the head of its lane, in order.
	var byLane map[*lane][]*outMsg
	var order []*lane
	for _, m := range moved {
		if m.lane == nil {
			p.reroute(m.moved())
			continue
		}
		if byLane == nil {
			byLane = make(map[*lane][]*outMsg)
		}
		if _, ok := byLane[m.lane]; !ok {
			order = append(order, m.lane)
		}
		byLane[m.lane] = append(byLane[m.lane], m.moved())
	}
	for _, l := range order {
		l.takeBack(d, byLane[l])
	}
}

// moved is a fresh entry for m, to send elsewhere: the old destination's
// lists still point at m.
func (m *outMsg) moved() *outMsg {
	return &outMsg{storeSeq: m.storeSeq, enc: m.enc, policy: m.policy, created: m.created,
		expires: m.expires, attempts: m.attempts, size: m.size, lastErr: m.lastErr, group: m.group, fresh: m.fresh, lane: m.lane, ch: m.ch}
}

// reroute sends m to an instance of its service, or parks it; a published
// copy goes to another member of its group.
func (p *Peer) reroute(m *outMsg) {
	var hdr channel.Message
	err := wire.DecodeMessage(m.enc, &hdr)
	if m.group != nil {
		// A keyed copy for a partitioned group goes to its partition's owner
		// (as admitCopy sends it), in turn: a copy restored before the group
		// was known, or retained while it was away, too.
		if l := p.groupLane(m.group, hdr.Key); err == nil && l != nil {
			l.submit(m)
			return
		}
		p.rerouteCopy(m, hdr.Channel)
		return
	}
	if err == nil {
		if target, err := p.route(&hdr); err == nil {
			if d, err := p.dest(target); err == nil {
				if d.enqueue(m) {
					return
				}
			}
		}
	}
	p.park(m)
}

func (p *Peer) park(m *outMsg) {
	p.mu.Lock()
	p.parked = append(p.parked, m)
	p.mu.Unlock()
	signal(p.parkWake)
}

// parkLoop routes parked messages when members change, and dead-letters
// those their policy or TTL gives up on.
func (p *Peer) parkLoop() {
	defer p.wg.Done()
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-p.parkWake:
		case <-t.C:
			p.sweepGroups()
			p.sweepLanes(time.Now())
		case <-p.parkQuit:
			return
		}
		p.mu.Lock()
		parked := p.parked
		p.parked = nil
		p.mu.Unlock()
		if len(parked) == 0 {
			continue
		}
		now := time.Now().UnixNano()
		var dead []deadMsg
		for _, m := range parked {
			switch {
			case m.expires != 0 && now > m.expires:
				dead = append(dead, deadMsg{m: m, reason: ReasonExpired, text: "no instance before it expired"})
			case m.policy.MaxAge > 0 && now-m.created > int64(m.policy.MaxAge):
				dead = append(dead, deadMsg{m: m, reason: ReasonMaxAge, text: "no instance of its service"})
			default:
				p.reroute(m)
			}
		}
		p.deadLetter(nil, dead)
	}
}

// sweepGroups dead-letters copies retained too long.
func (p *Peer) sweepGroups() {
	p.deadLetter(nil, p.groups.sweep(time.Now()))
}

// deadLetterParked gives up on parked messages at Close.
func (p *Peer) deadLetterParked(reason Reason) {
	p.mu.Lock()
	parked := p.parked
	p.parked = nil
	p.mu.Unlock()
	dead := make([]deadMsg, len(parked))
	for i, m := range parked {
		dead[i] = deadMsg{m: m, reason: reason}
	}
	p.deadLetter(nil, dead)
}
