package chaos

import (
	"strconv"
	"strings"
	"testing"
)

// events parses a hand-made log: one event a line,
// "<ms> <kind> <proc>#<inc> [<group> <key> <seq> [<note>]]"; a message's ID
// is derived from key and seq, a request's (for asked, reply, reqerr) is
// "<key>".
func events(t *testing.T, log string) []Event {
	t.Helper()
	var evs []Event
	for line := range strings.Lines(log) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		ms, err := strconv.Atoi(f[0])
		if err != nil || len(f) < 3 {
			t.Fatalf("bad line %q", line)
		}
		proc, inc, _ := strings.Cut(f[2], "#")
		e := Event{Time: int64(ms) * 1e6, Kind: Kind(f[1]), Proc: proc}
		e.Inc, _ = strconv.Atoi(inc)
		if len(f) > 3 {
			e.Group, e.Key = f[3], f[4]
		}
		if len(f) > 5 {
			e.Seq, _ = strconv.Atoi(f[5])
			e.ID = MessageID(e.Key, e.Seq)
		}
		if e.Kind == Asked || e.Kind == Reply || e.Kind == ReqErr {
			e.ID = e.Key
		}
		if len(f) > 6 {
			e.Note = f[6]
		}
		evs = append(evs, e)
	}
	return evs
}

// sends logs seqs 1..n of key as sent by its sender at times 1..n ms.
func sends(key string, n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(strconv.Itoa(i) + " sent " + SenderOf(key) + "#1 orders " + key + " " + strconv.Itoa(i) + "\n")
	}
	return b.String()
}

func TestCheckRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		log  string
		rule func(*Report) int // the count of the rule's failures
		want int
	}{
		{"lost: every sent message handled", sends("sq.1", 2) + `
			10 handled c1#1 orders sq.1 1
			11 handled c1#1 orders sq.1 2`,
			func(r *Report) int { return len(r.Lost) }, 0},
		{"lost: a sent message never handled", sends("sq.1", 2) + `
			10 handled c1#1 orders sq.1 1`,
			func(r *Report) int { return len(r.Lost) }, 1},
		{"lost: a message handled by another group does not count", `
			1 sent pub#1 g1 pub.1 1
			1 sent pub#1 g2 pub.1 1
			10 handled s1#1 g1 pub.1 1`,
			func(r *Report) int { return len(r.Lost) }, 1},
		{"lost: a message handled but never logged as sent is no loss", sends("sq.1", 1) + `
			10 handled c1#1 orders sq.1 1
			11 handled c1#1 orders sq.1 2`,
			func(r *Report) int { return len(r.Lost) }, 0},

		{"order: first handlings in seq order", sends("sq.1", 3) + `
			10 handled c1#1 orders sq.1 1
			11 handled c1#1 orders sq.1 2
			12 handled c2#1 orders sq.1 3`,
			func(r *Report) int { return len(r.Order) }, 0},
		{"order: a first handling out of seq order", sends("sq.1", 3) + `
			10 handled c1#1 orders sq.1 1
			11 handled c2#1 orders sq.1 3
			12 handled c1#1 orders sq.1 2`,
			func(r *Report) int { return len(r.Order) }, 1},
		{"order: keys are independent", sends("sq.1", 2) + sends("sq.2", 2) + `
			10 handled c1#1 orders sq.2 1
			11 handled c1#1 orders sq.1 1
			12 handled c1#1 orders sq.2 2
			13 handled c1#1 orders sq.1 2`,
			func(r *Report) int { return len(r.Order) }, 0},
		{"order: a re-handling followed by the next seq", sends("sq.1", 4) + `
			10 handled c1#1 orders sq.1 1
			11 handled c1#1 orders sq.1 2
			12 handled c1#1 orders sq.1 3
			13 kill c1#1
			20 handled c2#1 orders sq.1 2
			21 handled c2#1 orders sq.1 3
			22 handled c2#1 orders sq.1 4`,
			func(r *Report) int { return len(r.Order) }, 0},
		{"order: a re-handling followed by a later seq", sends("sq.1", 4) + `
			10 handled c1#1 orders sq.1 1
			11 handled c1#1 orders sq.1 2
			12 handled c1#1 orders sq.1 3
			13 kill c1#1
			20 handled c2#1 orders sq.1 2
			21 handled c2#1 orders sq.1 4`,
			func(r *Report) int { return len(r.Order) }, 1},
		{"order: a replay restarted from an earlier seq after another kill", sends("sq.1", 4) + `
			10 handled c1#1 orders sq.1 1
			11 handled c1#1 orders sq.1 2
			12 handled c1#1 orders sq.1 3
			13 kill c1#1
			20 handled c2#1 orders sq.1 2
			21 handled c2#1 orders sq.1 3
			22 kill c2#1
			30 handled c3#1 orders sq.1 2
			31 handled c3#1 orders sq.1 3
			32 handled c3#1 orders sq.1 4`,
			func(r *Report) int { return len(r.Order) }, 0},
		{"order: a replay restarted from an earlier seq without a kill", sends("sq.1", 4) + `
			10 handled c1#1 orders sq.1 1
			11 handled c1#1 orders sq.1 2
			12 handled c1#1 orders sq.1 3
			13 kill c1#1
			20 handled c2#1 orders sq.1 2
			21 handled c2#1 orders sq.1 3
			30 handled c3#1 orders sq.1 2
			32 handled c3#1 orders sq.1 4`,
			func(r *Report) int { return len(r.Order) }, 1},

		{"duplicates: explained by a kill of the handling incarnation", sends("sq.1", 1) + `
			10 handled c1#1 orders sq.1 1
			11 kill c1#1
			20 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 0},
		{"duplicates: explained by a kill of the sender", sends("sq.1", 1) + `
			10 handled c1#1 orders sq.1 1
			11 kill sq#1
			20 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 0},
		{"duplicates: explained by a kill noted just before the killed incarnation's last handling", sends("sq.1", 1) + `
			9 kill c1#1
			10 handled c1#1 orders sq.1 1
			20 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 0},
		{"duplicates: explained by a kill of the sender after the Send, before the first handling", sends("sq.1", 1) + `
			9 kill sq#1
			10 handled c1#1 orders sq.1 1
			20 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 0},
		{"duplicates: explained by the sender's failure detector dropping the handler", sends("sq.1", 1) + `
			5 view sq#1 - - 0 c1,c2
			10 handled c1#1 orders sq.1 1
			12 view sq#1 - - 0 c2
			20 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 0},
		{"duplicates: a view that keeps the handler does not explain one", sends("sq.1", 1) + `
			10 handled c1#1 orders sq.1 1
			12 view sq#1 - - 0 c1,c2
			20 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 1},
		{"duplicates: explained by a cut of the handler's link", sends("sq.1", 1) + `
			10 handled c1#1 orders sq.1 1
			11 cut c1#1
			20 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 0},
		{"duplicates: explained by a cut shortly before the first handling", sends("sq.1", 1) + `
			8 cut c1#1
			9 heal c1#1
			10 handled c1#1 orders sq.1 1
			20 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 0},
		{"duplicates: a cut long before does not explain one", sends("sq.1", 1) + `
			1 cut c1#1
			2 heal c1#1
			6000 handled c1#1 orders sq.1 1
			6010 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 1},
		{"duplicates: explained by a killed sender's Send repeated by its restart", `
			5 kill sq#1
			10 handled c1#1 orders sq.1 1
			20 sent sq#2 orders sq.1 1
			21 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 0},
		{"duplicates: explained by a stopped sender's cancelled Send repeated by its restart", `
			5 term sq#1
			10 handled c1#1 orders sq.1 1
			20 sent sq#2 orders sq.1 1
			21 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 0},
		{"duplicates: a sender's earlier kill does not explain a message it logged as sent", `
			5 kill sq#1
			8 sent sq#2 orders sq.1 1
			10 handled c1#1 orders sq.1 1
			21 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 1},
		{"duplicates: explained by a failed Close", sends("sq.1", 1) + `
			10 handled c1#1 orders sq.1 1
			11 closed c1#1 - - 0 context_deadline_exceeded
			20 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 0},
		{"duplicates: no incident between the handlings", sends("sq.1", 1) + `
			10 handled c1#1 orders sq.1 1
			20 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 1},
		{"duplicates: a graceful stop does not explain one", sends("sq.1", 1) + `
			10 handled c1#1 orders sq.1 1
			11 term c1#1
			12 closed c1#1 - - 0 ok
			20 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 1},
		{"duplicates: a kill of another process does not explain one", sends("sq.1", 1) + `
			10 handled c1#1 orders sq.1 1
			11 kill c3#1
			20 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 1},
		{"duplicates: a kill of an earlier incarnation does not explain one", sends("sq.1", 1) + `
			5 kill c1#1
			10 handled c1#2 orders sq.1 1
			20 handled c2#1 orders sq.1 1`,
			func(r *Report) int { return r.Unexplained }, 1},
		{"duplicates: a kill outside the interval does not explain one", sends("sq.1", 1) + `
			10 handled c1#1 orders sq.1 1
			20 handled c2#1 orders sq.1 1
			21 kill c1#1`,
			func(r *Report) int { return r.Unexplained }, 1},

		{"requests: each answered by a reply or an error", `
			1 asked rq#1 rpc r1
			2 asked rq#1 rpc r2
			3 reply rq#1 rpc r1 0 ok
			4 reqerr rq#1 rpc r2 0 no_responders`,
			func(r *Report) int { return len(r.Unanswered) + len(r.BadReplies) }, 0},
		{"requests: unanswered although the requester lived", `
			1 asked rq#1 rpc r1
			5 term rq#1`,
			func(r *Report) int { return len(r.Unanswered) }, 1},
		{"requests: unanswered because the requester was killed", `
			1 asked rq#1 rpc r1
			5 kill rq#1`,
			func(r *Report) int { return len(r.Unanswered) }, 0},
		{"requests: a reply that does not answer its request", `
			1 asked rq#1 rpc r1
			3 reply rq#1 rpc r1 0 got_r7`,
			func(r *Report) int { return len(r.BadReplies) }, 1},

		{"dead letters: none", sends("sq.1", 1) + `
			10 handled c1#1 orders sq.1 1`,
			func(r *Report) int { return len(r.DeadLetters) }, 0},
		{"dead letters: one", sends("sq.1", 1) + `
			10 dead sq#1 orders sq.1 1 max_attempts`,
			func(r *Report) int { return len(r.DeadLetters) }, 1},
		{"dead letters: a reply to a requester that is up", `
			1 asked rq#1 rpc r1
			2 reply rq#1 rpc r1 0 ok
			30000 dead r1#1 - - 0 closed@rq`,
			func(r *Report) int { return len(r.DeadLetters) }, 1},
		{"dead letters: a reply to a requester stopped just before", `
			1 asked rq#1 rpc r1
			2 reqerr rq#1 rpc r1
			2 term rq#1
			30000 dead r1#1 - - 0 closed@rq`,
			func(r *Report) int { return len(r.DeadLetters) }, 0},
		{"dead letters: a reply to a requester killed long before", `
			1 asked rq#1 rpc r1
			2 kill rq#1
			90000 dead r1#1 - - 0 closed@rq`,
			func(r *Report) int { return len(r.DeadLetters) }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(events(t, tc.log), Rules{})
			if got := tc.rule(r); got != tc.want {
				t.Fatalf("got %d, want %d\n%s\n%s", got, tc.want, r.Summary(), r.Details())
			}
			if r.Failed() != (tc.want > 0) {
				t.Fatalf("Failed() = %v with %d failures of the rule\n%s\n%s", r.Failed(), tc.want, r.Summary(), r.Details())
			}
		})
	}
}

// Dead letters fail a run unless its rules expect them.
func TestCheckDeadLettersExpected(t *testing.T) {
	r := Check(events(t, sends("sq.1", 1)+"10 dead sq#1 orders sq.1 1 max_attempts\n"), Rules{DeadLetters: true})
	if r.Failed() {
		t.Fatalf("failed with dead letters expected: %s", r.Details())
	}
}

// A violation's details name the key, its handlings as seq@process#incarnation
// in time order, and the kills around it.
func TestCheckDetails(t *testing.T) {
	r := Check(events(t, sends("sq.1", 4)+`
		10 handled c1#1 orders sq.1 1
		11 handled c1#1 orders sq.1 2
		12 kill sq#1
		13 spawn sq#2 - - 0 pid=7
		14 handled c2#1 orders sq.1 4
		15 handled c1#1 orders sq.1 3`), Rules{})
	d := r.Details()
	for _, want := range []string{"key sq.1 in group orders", "first handling of 3 after the first handling of 4",
		"2@c1#1 +0.010s", "4@c2#1 +0.013s", "3@c1#1 +0.014s <-", "+0.011s kill sq#1", "spawn sq#2 (pid=7)"} {
		if !strings.Contains(d, want) {
			t.Errorf("details lack %q:\n%s", want, d)
		}
	}
	if !strings.Contains(r.Summary(), "order violations 1") {
		t.Errorf("summary: %s", r.Summary())
	}
}

func TestWhole(t *testing.T) {
	evs := events(t, `
		1 view a#1 - - 0 b
		2 view b#1 - - 0 a
		3 view a#2 - - 0 -`)
	evs[0].Note, evs[1].Note, evs[2].Note = "b,c", "a,c", "b"
	views := Views(append(evs, Event{Time: 4e6, Kind: View, Proc: "c", Inc: 1, Note: "a,b"}))
	ok, missing := Whole(views, []string{"a", "b", "c"})
	if ok || missing != "a misses c" {
		t.Fatalf("Whole = %v, %q; want a missing c (its second incarnation's view)", ok, missing)
	}
	views["a"] = []string{"b", "c"}
	if ok, missing := Whole(views, []string{"a", "b", "c"}); !ok {
		t.Fatalf("not whole: %s", missing)
	}
}
