package peer

import "fmt"

// debugState describes a peer's delivery state, for test failures.
func (p *Peer) debugState() string {
	s := fmt.Sprintf("%s stats %+v\n", p.cfg.name, p.Stats())
	p.mu.Lock()
	for _, d := range p.dests {
		d.mu.Lock()
		s += fmt.Sprintf("  dest %s: conn %v live %d unacked %d sendq %d resendq %d retries %d limit %d limited %v initial %d next %d\n",
			d.name, d.conn != nil, d.live, len(d.unacked), len(d.sendq), len(d.resendq), len(d.retries), d.limit, d.limited, d.initial, d.nextSeq)
		if len(d.unacked) > 0 {
			m := d.unacked[0]
			s += fmt.Sprintf("    first unacked seq %d attempts %d queued %v waiting %v done %v err %q\n", m.seq, m.attempts, m.queued, m.waiting, m.done, m.lastErr)
		}
		d.mu.Unlock()
	}
	p.mu.Unlock()
	p.recv.mu.Lock()
	for _, ip := range p.recv.senders {
		for _, st := range ip.streams {
			s += fmt.Sprintf("  from %s/%d stream %d: through %d pending %d active %d granted %d conn %v refused %d\n",
				ip.name, ip.epoch, st.id, st.settled.Through(), st.settled.Pending(), len(st.active), st.granted, ip.conn != nil, len(ip.refused))
		}
	}
	p.recv.mu.Unlock()
	return s
}
