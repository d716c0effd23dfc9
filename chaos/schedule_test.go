package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// action is one step of a schedule: at its time, stop (kill, term) or cut
// its targets, and after down, restart (heal) them. Targets are stopped
// ApartBy one another, so a sender and a consumer can die together.
type action struct {
	at      time.Duration // since the traffic started
	kind    Kind          // Kill, Term or Cut
	targets []string
	apart   time.Duration
	down    time.Duration
}

func (a action) String() string {
	return fmt.Sprintf("+%v %s %v (%v apart), back after %v", a.at.Round(time.Millisecond), a.kind, a.targets, a.apart, a.down.Round(time.Millisecond))
}

// schedule draws a run's actions from its seed: kills SIGKILLs and terms
// SIGTERMs among killable (a third of the kills, where both are given, hit a
// sender and a consumer together: pairs), or cuts link cuts among cuttable,
// at times spread over span. The same seed and arguments give the same
// schedule; the run's interleavings still vary.
func schedule(seed uint64, span time.Duration, kills, terms int, killable, senders, consumers []string, cuts int, cuttable []string) []action {
	rng := rand.New(rand.NewPCG(seed, 0x6d6573686d71))
	var acts []action
	pick := func(from []string) string { return from[rng.IntN(len(from))] }
	down := func() time.Duration {
		return 200*time.Millisecond + time.Duration(rng.Int64N(int64(1300*time.Millisecond)))
	}
	for n := 0; n < kills; {
		a := action{kind: Kill, down: down()}
		if len(senders) > 0 && len(consumers) > 0 && kills-n >= 2 && rng.IntN(3) == 0 {
			a.targets = []string{pick(senders), pick(consumers)}
			if rng.IntN(2) == 0 {
				a.targets[0], a.targets[1] = a.targets[1], a.targets[0]
			}
			a.apart = time.Duration(rng.Int64N(int64(200 * time.Millisecond)))
		} else {
			a.targets = []string{pick(killable)}
		}
		n += len(a.targets)
		acts = append(acts, a)
	}
	for range terms {
		acts = append(acts, action{kind: Term, targets: []string{pick(killable)}, down: down()})
	}
	for range cuts {
		acts = append(acts, action{kind: Cut, targets: []string{pick(cuttable)}, down: 500*time.Millisecond + time.Duration(rng.Int64N(int64(2500*time.Millisecond)))})
	}
	rng.Shuffle(len(acts), func(i, j int) { acts[i], acts[j] = acts[j], acts[i] })
	// Spread over the span after a second of traffic, leaving its last
	// tenth clear so that the traffic runs on after the last action.
	for i := range acts {
		acts[i].at = time.Second + time.Duration(rng.Int64N(int64(max(span*9/10-time.Second, time.Millisecond))))
	}
	slices.SortFunc(acts, func(a, b action) int { return int(a.at - b.at) })
	return acts
}
