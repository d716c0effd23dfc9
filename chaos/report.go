package chaos

import (
	"cmp"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
)

func itoa(n int) string { return strconv.Itoa(n) }

func mapKeys[K comparable, V any](m map[K]V) iter.Seq[K] { return maps.Keys(m) }

// maxListed caps each kind of failure listed in Details; the counts are in
// Summary.
const maxListed = 10

// Summary is the run's counts, one line.
func (r *Report) Summary() string {
	suspected := 0
	for _, d := range r.Duplicates {
		if d.Suspected {
			suspected++
		}
	}
	explained := len(r.Duplicates) - r.Unexplained - suspected
	return fmt.Sprintf("sent %d, handled %d (%d handlings, %d unsent handled), lost %d, order violations %d, "+
		"duplicates %d (%d explained by kills or cuts, %d by a failure detected in a live process, %d unexplained), "+
		"requests %d (replies %d, errors %d, unanswered %d, bad replies %d), "+
		"dead letters %d (and %d replies to a requester killed or stopped), kills %d, graceful stops %d, cuts %d",
		r.Sent, r.Handled, r.Handlings, r.Unsent, len(r.Lost), len(r.Order),
		len(r.Duplicates), explained, suspected, r.Unexplained, r.Asked, r.Replies, r.ReqErrs, len(r.Unanswered), len(r.BadReplies),
		len(r.DeadLetters), len(r.ReplyDeadLetters), r.Kills, r.Terms, r.Cuts)
}

// Details explains each failure (up to maxListed of each kind): for an
// order violation the key's handlings around it as seq@process#incarnation
// with their times since the start of the run, and the incidents (kills,
// stops, cuts, starts) around it.
func (r *Report) Details() string {
	var b strings.Builder
	for i, v := range r.Order {
		if i == maxListed {
			fmt.Fprintf(&b, "... and %d more keys out of order\n", len(r.Order)-maxListed)
			break
		}
		r.describeViolation(&b, v)
	}
	listEvents := func(what string, evs []Event) {
		for i, e := range evs {
			if i == maxListed {
				fmt.Fprintf(&b, "... and %d more %s\n", len(evs)-maxListed, what)
				return
			}
			fmt.Fprintf(&b, "%s: %s %s group %s key %s seq %d from %s at %s\n", what, e.Kind, e.ID, e.Group, e.Key, e.Seq, r.who(e), r.at(e.Time))
		}
	}
	listEvents("lost", r.Lost)
	var unexplained []Duplicate
	for _, d := range r.Duplicates {
		if !d.Explained {
			unexplained = append(unexplained, d)
		}
	}
	for i, d := range unexplained {
		if i == maxListed {
			fmt.Fprintf(&b, "... and %d more unexplained duplicates\n", len(unexplained)-maxListed)
			break
		}
		fmt.Fprintf(&b, "unexplained duplicate: %s seq %d handled by %s at %s and again by %s at %s; incidents between: %s\n",
			d.Stream, d.Then.Seq, r.who(d.First), r.at(d.First.Time), r.who(d.Then), r.at(d.Then.Time),
			r.incidentsBetween(d.First.Time, d.Then.Time, 0))
	}
	listEvents("unanswered request", r.Unanswered)
	listEvents("bad reply", r.BadReplies)
	if !r.Rules.DeadLetters {
		for i, e := range r.DeadLetters {
			if i == maxListed {
				fmt.Fprintf(&b, "... and %d more dead letters\n", len(r.DeadLetters)-maxListed)
				break
			}
			fmt.Fprintf(&b, "dead letter: %s at %s by %s: %s\n", e.ID, r.at(e.Time), r.who(e), e.Note)
		}
	}
	return b.String()
}

// violationWindow is how many handlings before and after a violation are shown.
const violationWindow = 12

func (r *Report) describeViolation(b *strings.Builder, v Violation) {
	from, to := max(v.At-violationWindow, 0), min(v.At+violationWindow/2, len(v.Of)-1)
	fmt.Fprintf(b, "order: key %s in group %s: %s (handling %d of %d)\n", v.Stream.Key, v.Stream.Group, v.Rule, v.At+1, len(v.Of))
	fmt.Fprintf(b, "  handlings (seq@process#incarnation +time):")
	for i := from; i <= to; i++ {
		h := v.Of[i]
		mark := ""
		if i == v.At {
			mark = " <-"
		}
		fmt.Fprintf(b, "\n    %d@%s %s%s", h.Seq, r.who(h), r.at(h.Time), mark)
	}
	fmt.Fprintf(b, "\n  incidents around: %s\n", r.incidentsBetween(v.Of[from].Time, v.Of[to].Time, 2_000_000_000))
}

// incidentsBetween lists the incidents from lo-slack to hi+slack.
func (r *Report) incidentsBetween(lo, hi, slack int64) string {
	var parts []string
	for _, e := range r.incidents {
		if e.Time < lo-slack || e.Time > hi+slack {
			continue
		}
		s := fmt.Sprintf("%s %s %s", r.at(e.Time), e.Kind, r.who(e))
		if e.Kind == Closed || e.Kind == Spawn {
			s += " (" + e.Note + ")"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (r *Report) who(e Event) string { return e.Proc + "#" + itoa(e.Inc) }

// at is a time as seconds since the start of the run.
func (r *Report) at(t int64) string { return fmt.Sprintf("+%.3fs", float64(t-r.start)/1e9) }

// Views returns each process's last logged member list (the process's
// latest incarnation), by process.
func Views(events []Event) map[string][]string {
	last := map[string]Event{}
	for _, e := range events {
		if e.Kind != View {
			continue
		}
		if l, ok := last[e.Proc]; !ok || cmp.Or(cmp.Compare(e.Inc, l.Inc), cmp.Compare(e.Time, l.Time)) > 0 {
			last[e.Proc] = e
		}
	}
	views := map[string][]string{}
	for p, e := range last {
		if e.Note != "" {
			views[p] = strings.Split(e.Note, ",")
		} else {
			views[p] = nil
		}
	}
	return views
}

// Whole reports whether every process in procs lists every other in its
// last view, and if not, who misses whom.
func Whole(views map[string][]string, procs []string) (bool, string) {
	var missing []string
	for _, p := range procs {
		for _, q := range procs {
			if p != q && !slices.Contains(views[p], q) {
				missing = append(missing, p+" misses "+q)
			}
		}
	}
	return len(missing) == 0, strings.Join(missing, "; ")
}
