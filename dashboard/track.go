package dashboard

import (
	"slices"
	"strings"
	"time"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
)

// Departed members are kept on the page this long, and at most this many.
const (
	goneRetention = 10 * time.Minute
	maxGone       = 32
)

// tracker notices members leaving the view by comparing each reading with
// the previous one. The peer does not say which member left and which
// failed, only how many departures of each kind it counted; when the new
// departures are all of one kind, the members that disappeared are marked
// with it, otherwise they are just gone.
type tracker struct {
	alive        map[string]discovery.Member // at the last reading
	left, failed uint64                      // the peer's departure counts then
	gone         []goneMember                // most recent first
}

type goneMember struct {
	m     discovery.Member
	state MemberState
	since time.Time
}

func (t *tracker) init(members []discovery.Member, ms peer.MemberStats, now time.Time) {
	t.alive = make(map[string]discovery.Member, len(members))
	for _, m := range members {
		t.alive[m.Name] = m
	}
	t.left, t.failed = ms.Left, ms.Failed
}

// update takes a reading: the members alive now, and the peer's membership
// counts read after them. It returns the members gone, most recent first.
func (t *tracker) update(members []discovery.Member, ms peer.MemberStats, now time.Time) []goneMember {
	alive := make(map[string]discovery.Member, len(members))
	for _, m := range members {
		alive[m.Name] = m
	}
	var departed []discovery.Member
	for name, m := range t.alive {
		if _, ok := alive[name]; !ok {
			departed = append(departed, m)
		}
	}
	slices.SortFunc(departed, func(a, b discovery.Member) int { return strings.Compare(a.Name, b.Name) })
	if len(departed) > 0 {
		dl, df := ms.Left-min(t.left, ms.Left), ms.Failed-min(t.failed, ms.Failed)
		n := uint64(len(departed))
		state := StateGone
		switch {
		case df == 0 && dl >= n:
			state = StateLeft
		case dl == 0 && df >= n:
			state = StateFailed
		}
		// A member gone again replaces its earlier entry.
		t.gone = slices.DeleteFunc(t.gone, func(g goneMember) bool {
			return slices.ContainsFunc(departed, func(m discovery.Member) bool { return m.Name == g.m.Name })
		})
		added := make([]goneMember, 0, len(departed))
		for _, m := range departed {
			added = append(added, goneMember{m: m, state: state, since: now})
		}
		t.gone = append(added, t.gone...)
	}
	// A member back in the view is no longer gone; old entries expire.
	t.gone = slices.DeleteFunc(t.gone, func(g goneMember) bool {
		_, back := alive[g.m.Name]
		return back || now.Sub(g.since) > goneRetention
	})
	if len(t.gone) > maxGone {
		t.gone = t.gone[:maxGone]
	}
	t.alive, t.left, t.failed = alive, ms.Left, ms.Failed
	return t.gone
}
