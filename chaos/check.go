package chaos

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Rules says what a scenario tolerates.
type Rules struct {
	// DeadLetters are expected (a scenario that provokes them); otherwise
	// any dead letter fails the check.
	DeadLetters bool
}

// Stream is one key's messages as one group must handle them.
type Stream struct{ Group, Key string }

func (s Stream) String() string { return s.Group + "/" + s.Key }

// Violation is a broken rule of one stream, with the handlings that show it.
type Violation struct {
	Stream Stream
	Rule   string  // what was broken, in words
	At     int     // index in Handlings of the handling that broke it
	Of     []Event // the stream's handlings in time order
}

// Duplicate is a message handled again.
type Duplicate struct {
	Stream      Stream
	First, Then Event // the previous handling and the repeat
	Explained   bool  // a kill (or cut) between them accounts for it
	// Suspected: what accounts for it is the sender's failure detector,
	// which dropped the first handler from its view while that process was
	// alive (stalled on a loaded machine): its connection timed out and its
	// unacknowledged messages moved, as at-least-once delivery must.
	Suspected bool
}

// Report is what Check found.
type Report struct {
	Rules       Rules
	Sent        int     // messages that must be handled: (group, ID) pairs logged as sent
	Handled     int     // of those, handled at least once
	Handlings   int     // handled lines
	Unsent      int     // messages handled but never logged as sent (Send in progress at a kill)
	Lost        []Event // sent, never handled (the sent line)
	Order       []Violation
	Duplicates  []Duplicate
	Unexplained int // duplicates no kill accounts for
	Asked       int
	Replies     int
	ReqErrs     int
	Unanswered  []Event // asked, neither reply nor error, and the asker was not killed
	BadReplies  []Event // replies that did not answer their request
	DeadLetters []Event
	// ReplyDeadLetters are replies dead-lettered while their requester was
	// down (killed or stopped within ReplySlack before): the reply's
	// documented end when its requester is gone, not a failure.
	ReplyDeadLetters []Event
	Kills            int
	Terms            int
	Cuts             int
	incidents        []Event            // kills, terms, cuts, heals, spawns and Close results, in time order
	views            map[string][]Event // each process's View events, in time order
	sentAt           map[string]int64   // group/ID -> when it was first logged as sent
	start            int64              // the first event's time
}

// Failed reports whether any rule was broken.
func (r *Report) Failed() bool {
	return len(r.Lost) > 0 || len(r.Order) > 0 || r.Unexplained > 0 || len(r.Unanswered) > 0 ||
		len(r.BadReplies) > 0 || (len(r.DeadLetters) > 0 && !r.Rules.DeadLetters)
}

// Check applies the rules to the events of a run (every process's log and
// the driver's, in any order):
//   - lost: a message logged as sent and never handled by its group (nor
//     dead-lettered);
//   - order, per group and key: first handlings out of seq order; a
//     re-handling followed by anything but the next seq (or, after another
//     kill, a new replay from an earlier seq);
//   - duplicates: each repeat must be explained by a SIGKILL of the
//     incarnation that handled it before, or a Close of it or of the
//     sender that failed, between the two handlings; by a SIGKILL of the
//     key's sender between the message's Send and the second handling (its
//     acknowledgement may have been in flight); or by a cut
//     (or heal) of either's link between CutSlack before the first
//     handling and the second; or, for a message a killed sender had in
//     Send, by its restart sending it again (the first handling came before
//     the Send that was logged); or by the sender dropping the first
//     handler from its view from CutSlack before the first handling on
//     (Duplicate.Suspected: a failure detected in a live process);
//   - requests: each must end with a reply (answering it) or an error,
//     unless the requester was killed while waiting;
//   - dead letters: none, unless the rules expect them, or a reply's
//     while its requester was down (Report.ReplyDeadLetters).
func Check(events []Event, rules Rules) *Report {
	evs := slices.Clone(events)
	slices.SortStableFunc(evs, func(a, b Event) int { return cmp.Compare(a.Time, b.Time) })
	r := &Report{Rules: rules}
	if len(evs) > 0 {
		r.start = evs[0].Time
	}
	type msgKey struct{ group, id string }
	sent := map[msgKey]Event{}
	handled := map[msgKey]bool{}
	dead := map[string]bool{} // by message ID: a dead letter is reported as such, not as lost
	streams := map[Stream][]Event{}
	asked := map[msgKey]Event{} // by asker incarnation and request ID
	answered := map[msgKey]bool{}
	inc := func(e Event) string { return e.Proc + "#" + itoa(e.Inc) }
	var deads []Event
	requesters := map[string]bool{}
	for _, e := range evs {
		switch e.Kind {
		case Sent:
			k := msgKey{e.Group, e.ID}
			if _, ok := sent[k]; !ok {
				sent[k] = e
			}
		case Handled:
			handled[msgKey{e.Group, e.ID}] = true
			s := Stream{e.Group, e.Key}
			streams[s] = append(streams[s], e)
			r.Handlings++
		case Dead:
			deads = append(deads, e)
			dead[e.ID] = true
		case Asked:
			r.Asked++
			requesters[e.Proc] = true
			asked[msgKey{inc(e), e.ID}] = e
		case Reply, ReqErr:
			if e.Kind == Reply {
				r.Replies++
				if e.Note != "ok" {
					r.BadReplies = append(r.BadReplies, e)
				}
			} else {
				r.ReqErrs++
			}
			answered[msgKey{inc(e), e.ID}] = true
		case Kill:
			r.Kills++
		case Term:
			r.Terms++
		case Cut:
			r.Cuts++
		}
		switch e.Kind {
		case Kill, Term, Cut, Heal, Spawn, Closed:
			r.incidents = append(r.incidents, e)
		case View:
			if r.views == nil {
				r.views = make(map[string][]Event)
			}
			r.views[e.Proc] = append(r.views[e.Proc], e)
		}
	}
	for _, d := range deads {
		if i := strings.LastIndexByte(d.Note, '@'); i >= 0 && requesters[d.Note[i+1:]] && r.down(d.Note[i+1:], d.Time-ReplySlack, d.Time) {
			r.ReplyDeadLetters = append(r.ReplyDeadLetters, d)
		} else {
			r.DeadLetters = append(r.DeadLetters, d)
		}
	}
	r.Sent = len(sent)
	r.sentAt = make(map[string]int64, len(sent))
	for k, e := range sent {
		r.sentAt[k.group+"/"+k.id] = e.Time
	}
	for k, e := range sent {
		if handled[k] {
			r.Handled++
		} else if !dead[k.id] {
			r.Lost = append(r.Lost, e)
		}
	}
	for k := range handled {
		if _, ok := sent[k]; !ok {
			r.Unsent++
		}
	}
	slices.SortFunc(r.Lost, func(a, b Event) int { return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Seq, b.Seq)) })
	for k, e := range asked {
		if !answered[k] && !r.killedAfter(e.Proc, e.Inc, e.Time) {
			r.Unanswered = append(r.Unanswered, e)
		}
	}
	slices.SortFunc(r.Unanswered, func(a, b Event) int { return cmp.Compare(a.Time, b.Time) })
	keys := slices.SortedFunc(mapKeys(streams), func(a, b Stream) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Key, b.Key))
	})
	for _, s := range keys {
		r.checkStream(s, streams[s])
	}
	return r
}

// checkStream applies the order and duplicate rules to one stream's
// handlings, in time order.
func (r *Report) checkStream(s Stream, hs []Event) {
	seen := map[int]Event{} // seq -> its latest handling
	maxFirst := 0
	violated := false
	violate := func(i int, rule string) {
		if !violated { // the first break of a stream says what matters; later ones follow from it
			r.Order = append(r.Order, Violation{Stream: s, Rule: rule, At: i, Of: hs})
			violated = true
		}
	}
	prevRe := false // whether hs[i-1] was a re-handling
	for i, h := range hs {
		prevHandling, re := seen[h.Seq]
		// After a re-handling comes the next seq, or a new replay from an
		// earlier one that a kill (or cut) between explains: a sender's
		// restart replays what its store kept, which may repeat a message
		// its killed incarnation had in Send under the same ID.
		if p := hs[max(i-1, 0)]; prevRe && h.Seq != p.Seq+1 && !(re && h.Seq <= p.Seq &&
			(r.explains(s.Key, p, h) || r.senderKilled(s.Key, r.sentAt[s.Group+"/"+h.ID], h))) {
			violate(i, "re-handling of "+itoa(p.Seq)+" followed by "+itoa(h.Seq)+", not "+itoa(p.Seq+1))
		}
		prevRe = re
		if re {
			sentAt := r.sentAt[s.Group+"/"+h.ID]
			d := Duplicate{Stream: s, First: prevHandling, Then: h,
				Explained: r.explains(s.Key, prevHandling, h) || r.senderKilled(s.Key, sentAt, h) ||
					r.resent(s.Key, prevHandling, sentAt)}
			if !d.Explained {
				d.Suspected = r.suspected(s.Key, prevHandling, h)
				d.Explained = d.Suspected
			}
			r.Duplicates = append(r.Duplicates, d)
			if !d.Explained {
				r.Unexplained++
			}
		} else {
			if h.Seq < maxFirst {
				violate(i, "first handling of "+itoa(h.Seq)+" after the first handling of "+itoa(maxFirst))
			}
			maxFirst = max(maxFirst, h.Seq)
		}
		seen[h.Seq] = h
	}
}

// explains reports whether something between handlings a and b of key
// accounts for handling again: a SIGKILL of a's incarnation or of the key's
// sender, a cut of either's link (or its heal), or a failed Close of either.
func (r *Report) explains(key string, a, b Event) bool {
	sender := SenderOf(key)
	lo, _ := slices.BinarySearchFunc(r.incidents, a.Time-CutSlack, func(e Event, t int64) int { return cmp.Compare(e.Time, t) })
	for _, e := range r.incidents[lo:] {
		if e.Time > b.Time {
			break
		}
		if e.Proc != a.Proc && e.Proc != sender {
			continue
		}
		switch {
		case e.Kind == Cut || e.Kind == Heal:
			return true
		case e.Kind == Kill && e.Proc == a.Proc && e.Inc == a.Inc:
			// The driver notes a kill just before the signal lands: the
			// incarnation may log a last handling after the note.
			return true
		case e.Time < a.Time:
		case e.Kind == Kill:
			if e.Proc == sender || e.Inc == a.Inc {
				return true
			}
		case e.Kind == Closed:
			if e.Note != "ok" {
				return true
			}
		}
	}
	return false
}

// suspected reports whether the key's sender dropped a's process from its
// view between CutSlack before handling a and handling b: a failure it
// detected (falsely, if the process lived on) moves that process's
// unacknowledged messages once their connection closes.
func (r *Report) suspected(key string, a, b Event) bool {
	for _, v := range r.views[SenderOf(key)] {
		if v.Time < a.Time-CutSlack {
			continue
		}
		if v.Time > b.Time {
			break
		}
		if !slices.Contains(strings.Split(v.Note, ","), a.Proc) {
			return true
		}
	}
	return false
}

// senderKilled reports whether the key's sender was killed between the
// message's Send (sentAt; 0: its Send never returned) and handling b: the
// message was in its retry buffer then, and an acknowledgement of an earlier
// handling may not have reached it (even one that began before the kill: its
// acknowledgement came after), so its store resent it, possibly to another
// instance whose dedup window never saw it.
func (r *Report) senderKilled(key string, sentAt int64, b Event) bool {
	sender := SenderOf(key)
	for _, e := range r.incidents {
		if e.Time > b.Time {
			break
		}
		if e.Kind == Kill && e.Proc == sender && e.Time >= sentAt {
			return true
		}
	}
	return false
}

// resent reports whether a message first handled at a was one a killed
// or stopped sender incarnation had in Send: handled (restored from the store) before
// the next incarnation's Send of it, under the same ID, returned at sentAt,
// the sender killed before a.
func (r *Report) resent(key string, a Event, sentAt int64) bool {
	if sentAt == 0 || a.Time >= sentAt {
		return false
	}
	sender := SenderOf(key)
	for _, e := range r.incidents {
		if e.Time >= a.Time {
			break
		}
		// A stop cancels the Send too: a durable store may have committed
		// its record anyway (outbox.Store.Append), and restores it.
		if (e.Kind == Kill || e.Kind == Term) && e.Proc == sender {
			return true
		}
	}
	return false
}

// CutSlack is how long before a handling a cut of the handler's or the
// sender's link still explains handling it again: a cut shorter than the
// heartbeat timeout leaves the connection up, but TCP's retransmission
// backoff can deliver a message after the sender's heartbeat timeout
// closed the connection and failed it over; gossip's suspicion also
// outlasts the cut.
const CutSlack = int64(5 * time.Second)

// ReplySlack is how long before a reply's dead letter its requester's kill
// or stop accounts for it: a responder's Close waits up to 20 s for the
// acknowledgement, and the requester's restart pause comes on top.
const ReplySlack = int64(time.Minute)

// down reports whether proc was killed or stopped between from and to.
func (r *Report) down(proc string, from, to int64) bool {
	for _, e := range r.incidents {
		if (e.Kind == Kill || e.Kind == Term) && e.Proc == proc && e.Time >= from && e.Time <= to {
			return true
		}
	}
	return false
}

// killedAfter reports whether proc's incarnation inc was killed at or after t.
func (r *Report) killedAfter(proc string, inc int, t int64) bool {
	for _, e := range r.incidents {
		if e.Kind == Kill && e.Proc == proc && e.Inc == inc && e.Time >= t {
			return true
		}
	}
	return false
}

// SenderOf is the process that sends a key's messages: keys are named
// "<sender>.<n>".
func SenderOf(key string) string {
	s, _, _ := strings.Cut(key, ".")
	return s
}

// Key is the name of a sender's n-th key.
func Key(sender string, n int) string { return sender + "." + itoa(n) }
