package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// demoConfig is what the demo runs.
type demoConfig struct {
	exe   string   // the program the two processes run: this one, or a test binary
	env   []string // added to their environment
	rate  float64  // orders per second
	count int      // orders 1 to count
	// dir holds the SQLite files, kept; "": a temporary directory, removed
	// unless the demo fails.
	dir string
	// postgres names a server: both databases go there, each in a fresh
	// schema, dropped unless the demo fails.
	postgres string
	// ordersDSN puts the orders database on PostgreSQL as it is (the
	// shipping database stays in SQLite).
	ordersDSN string
	verbose   bool // print every line of the processes
}

func demoConfigOf(o *options, exe string) demoConfig {
	return demoConfig{exe: exe, rate: o.rate, count: o.count, dir: o.dir, postgres: o.postgres, verbose: o.verbose}
}

// demoWait bounds each wait of the demo: each step takes a second or two.
const demoWait = 45 * time.Second

// What the demo reads in the lines of its processes (after their time).
var (
	nextRE       = regexp.MustCompile(`; next is (ord-\d{8})$`)
	createdRE    = regexp.MustCompile(`^created (ord-\d{8}): `)
	rolledBackRE = regexp.MustCompile(`^rolled back (ord-\d{8}): `)
	heldTxRE     = regexp.MustCompile(`^holding (ord-\d{8}) inside its transaction`)
	relayedRE    = regexp.MustCompile(`^relay: the outbox relay handed over its first `)
	waitingRE    = regexp.MustCompile(`^outbox: \d+ events? waits? for a subscriber`)
	waitedRE     = regexp.MustCompile(`^outbox: no event waits for a subscriber now \(as many as (\d+) did\)`)
	subscriberRE = regexp.MustCompile(`^cluster: a subscriber to \S+ is in the view: `)
	noSubRE      = regexp.MustCompile(`^cluster: no subscriber to \S+ in the view any more`)
	doneRE       = regexp.MustCompile(`^created every order up to `)
	shippedRE    = regexp.MustCompile(`^shipped (ord-\d{8}): `)
	redeliverRE  = regexp.MustCompile(`^redelivered (ord-\d{8}) `)
	heldAckRE    = regexp.MustCompile(`^holding after committing the shipment of (ord-\d{8})`)
	dedupRE      = regexp.MustCompile(`^dedup window: dropped \d+ redelivered events \((\d+) in all\)$`)
	problemRE    = regexp.MustCompile(`^dead letter |SECOND SHIPMENT| given up unheard$`)
	stampRE      = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d\d\d `)
)

// demo is one run of the demo. Its fields below mu are what the processes
// printed, across restarts.
type demo struct {
	cfg   demoConfig
	out   io.Writer
	start time.Time

	outMu        sync.Mutex // one line at a time: the readers of the processes say things too
	lastProgress time.Time  // outMu

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced on every line
	procs       []*proc
	created     map[string]bool
	rolledBack  map[string]bool
	shipped     map[string]int
	redelivered map[string]int
	problems    []string // lines that mean the run failed
}

// proc is one process of the demo: a role, started once.
type proc struct {
	d     *demo
	role  string
	label string // "orders#2": the role and which start
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ended chan struct{} // closed once it exited and its output is read

	// d.mu
	expectExit bool // killed or stopped by the demo
	lines      []string
	next       string // orders: the next order number it announced
	relayed    bool   // orders: its relay handed over events
	waiting    bool   // orders: events wait in its outbox for a first subscriber
	waited     int    // orders: once they went, as many as waited
	subscribed bool   // orders: its view shows a subscriber
	subGone    bool   // orders: the subscriber it saw left its view
	heldTx     string // orders: the order it holds inside a transaction
	done       bool   // orders: it created every order
	heldAck    string // shipping: the order whose acknowledgement it holds
	dropped    int    // shipping: redeliveries its dedup window dropped
}

// runDemo runs the demo, printing its story to out, and returns an error
// unless every check passed.
func runDemo(ctx context.Context, cfg demoConfig, out io.Writer) (err error) {
	d := &demo{cfg: cfg, out: out, start: time.Now(), changed: make(chan struct{}),
		created: map[string]bool{}, rolledBack: map[string]bool{}, shipped: map[string]int{}, redelivered: map[string]int{}}
	ordersDB, shippingDB, cleanup, err := d.databases(ctx)
	if err != nil {
		return err
	}
	defer func() {
		d.killAll() // on every return, before the databases may go: no process outlives the demo
		cleanup(err == nil)
	}()
	ports, err := freePorts(4)
	if err != nil {
		return fmt.Errorf("picking free ports: %w", err)
	}
	ordersGossip, shippingGossip := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	cluster := "orders-demo-" + randomHex(4) // apart from any other run on this host
	common := []string{"-cluster", cluster}
	ordersArgs := append([]string{"-role", "orders", "-name", "orders", "-listen", fmt.Sprintf("tcp://127.0.0.1:%d", ports[2]),
		"-gossip", ordersGossip, "-join", shippingGossip, "-rate", fmt.Sprint(cfg.rate), "-count", strconv.Itoa(cfg.count)},
		append(common, ordersDB.flag()...)...)
	shippingArgs := append([]string{"-role", "shipping", "-name", "shipping", "-listen", fmt.Sprintf("tcp://127.0.0.1:%d", ports[3]),
		"-gossip", shippingGossip, "-join", ordersGossip}, append(common, shippingDB.flag()...)...)

	// The crash points: orders dies inside the transaction of an order a
	// quarter of the way, shipping after committing the shipment of about
	// half of them, before acknowledging it.
	holdTx := validOrderFrom(cfg.count / 4)
	holdAck := validOrdersUpTo(cfg.count / 2)

	d.say("meshmq orders demo: the transactional outbox and the idempotent consumer, across kill -9")
	d.say("orders %s: each order INSERTed and its OrderCreated event written to the outbox in one transaction", ordersDB)
	d.say("shipping %s: each event handled in a transaction that claims its ID and inserts the shipment", shippingDB)

	ship, err := d.startProc(ctx, roleShipping, append(shippingArgs, "-hold-ack", strconv.Itoa(holdAck)))
	if err != nil {
		return err
	}
	d.say("started %s (pid %d): subscribes to orders.> in group shipping", ship.label, ship.pid())
	ord, err := d.startProc(ctx, roleOrders, append(ordersArgs, "-hold-tx", strconv.Itoa(holdTx)))
	if err != nil {
		return err
	}
	d.say("started %s (pid %d): %v orders per second, up to %s; about one in ten fails its credit check and is rolled back",
		ord.label, ord.pid(), cfg.rate, orderID(cfg.count))
	// Until gossip shows orders shipping's subscription, its relay's events
	// wait in the outbox; it may show it before the first commit.
	var waited int
	if err := d.waitFor(ctx, "orders to relay its outbox to shipping", func() bool {
		waited = ord.waited
		return ord.relayed && !ord.waiting && len(d.shipped) > 0
	}); err != nil {
		return err
	}
	if waited > 0 {
		d.say("orders' first %s waited in the outbox until gossip showed it shipping's subscription", waitedEvents(waited))
	}
	d.say("orders found shipping's subscription by gossip; its relay sends what the transactions commit")

	// 1. orders dies with a transaction open.
	// (The conditions copy what they read, under d.mu, for after.)
	var heldTx string
	if err := d.waitFor(ctx, "orders to reach "+orderID(holdTx), func() bool { heldTx = ord.heldTx; return heldTx != "" }); err != nil {
		return err
	}
	d.progress(true)
	d.say("orders is inside the transaction of %s: the order INSERTed, its event in the outbox, nothing committed", heldTx)
	d.kill(ord)
	d.say("kill -9 %s (pid %d)", ord.label, ord.pid())
	if ord, err = d.startProc(ctx, roleOrders, ordersArgs); err != nil {
		return err
	}
	var next string
	if err := d.waitFor(ctx, "orders to start again", func() bool { next = ord.next; return next != "" }); err != nil {
		return err
	}
	d.say("restarted %s (pid %d): next is %s: the killed transaction left neither order nor event, and its number is used again",
		ord.label, ord.pid(), next)
	if next != heldTx {
		d.problem(fmt.Sprintf("orders resumed at %s, not at %s", next, heldTx))
	}
	if err := d.waitFor(ctx, next+" to be shipped", func() bool {
		waited = ord.waited
		return ord.relayed && !ord.waiting && d.shipped[next] > 0
	}); err != nil {
		return err
	}
	if waited > 0 {
		d.say("%s's first %s waited in the outbox until its gossip showed it shipping", ord.label, waitedEvents(waited))
	}
	d.say("orders relays again (%s shipped): an event committed before the kill and not acknowledged goes again (shipping drops any it handled)", next)

	// 2. shipping dies between a commit and its acknowledgement.
	var held string
	if err := d.waitFor(ctx, "shipping to reach its crash point", func() bool { held = ship.heldAck; return held != "" }); err != nil {
		return err
	}
	d.progress(true)
	d.say("shipping committed the shipment of %s, and the claim of its event, and stops before acknowledging it", held)
	d.kill(ship)
	d.say("kill -9 %s (pid %d)", ship.label, ship.pid())
	d.mu.Lock()
	createdAtKill := len(d.created)
	d.mu.Unlock()
	if err := d.waitFor(ctx, "orders to see shipping gone", func() bool { return ord.subGone }); err != nil {
		return err
	}
	d.say("orders' gossip declared shipping failed: its peer keeps the shipping group's events for its return, each customer's in order, and each in the outbox until acknowledged")
	var whileDown int
	if err := d.waitFor(ctx, "orders to go on without shipping", func() bool {
		whileDown = len(d.created) - createdAtKill
		return whileDown >= int(cfg.rate) || ord.done
	}); err != nil {
		return err
	}
	d.say("%d orders committed while shipping was down", whileDown)
	if ship, err = d.startProc(ctx, roleShipping, shippingArgs); err != nil {
		return err
	}
	d.say("restarted %s (pid %d)", ship.label, ship.pid())
	if err := d.waitFor(ctx, held+" to come again", func() bool { return d.redelivered[held] > 0 }); err != nil {
		return err
	}
	d.say("%s came again: its claim was committed with the shipment, so shipping acknowledged it without shipping it twice", held)

	// 3. The end: every order created, every event handled.
	if err := d.waitFor(ctx, "orders to create every order", func() bool { return ord.done }); err != nil {
		return err
	}
	d.progress(true)
	d.say("orders created every order up to %s; waiting for shipping to catch up", orderID(cfg.count))
	oReader, _, err := openReader(ordersDB.path, ordersDB.dsn)
	if err != nil {
		return err
	}
	defer oReader.Close()
	sReader, sKind, err := openReader(shippingDB.path, shippingDB.dsn)
	if err != nil {
		return err
	}
	defer sReader.Close()
	want := validOrdersUpTo(cfg.count)
	var nOrders, nShipments int
	var countErr error
	caughtUp := func() bool {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		nOrders, nShipments, countErr = counts(cctx, oReader, sReader)
		return countErr == nil && nOrders == want && nShipments == want
	}
	if err := d.poll(ctx, "shipping to catch up", caughtUp); err != nil {
		if v, verr := verify(ctx, oReader, sReader, sKind, cfg.count); verr == nil {
			d.printVerdict(v, 0, 0)
		}
		return fmt.Errorf("%w (%d orders, %d shipments, want %d each; %v)", err, nOrders, nShipments, want, countErr)
	}
	d.say("shipping caught up: %d shipments for %d orders", nShipments, nOrders)
	for _, p := range []*proc{ord, ship} {
		if err := d.stop(p); err != nil {
			return err
		}
	}
	d.say("stopped both gracefully")

	v, err := verify(ctx, oReader, sReader, sKind, cfg.count)
	if err != nil {
		return err
	}
	d.mu.Lock()
	redelivered, dropped := 0, 0
	for _, n := range d.redelivered {
		redelivered += n
	}
	for _, p := range d.procs {
		dropped += p.dropped
	}
	for _, p := range d.problems {
		v.problem("%s", p)
	}
	d.mu.Unlock()
	d.printVerdict(v, redelivered, dropped)
	took := time.Since(d.start).Round(100 * time.Millisecond)
	if !v.ok() {
		d.printf("FAIL after %v\n", took)
		return errors.New("the check failed")
	}
	d.printf("PASS in %v\n", took)
	return nil
}

func (d *demo) printVerdict(v *verdict, redelivered, dropped int) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nThe check, reading both databases:\n")
	v.print(&b, redelivered, dropped)
	d.printf("%s", b.String())
}

// printf prints to the demo's output, a whole text at a time.
func (d *demo) printf(format string, args ...any) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	fmt.Fprintf(d.out, format, args...)
}

// say prints a line of the story, stamped with the time since the start.
func (d *demo) say(format string, args ...any) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	fmt.Fprintf(d.out, "[%5.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

// progress says how far the run is, unless it did less than 2.5 s ago (1 s
// if now: a step of the story).
func (d *demo) progress(now bool) {
	d.mu.Lock()
	line := fmt.Sprintf("so far: %d orders committed, %d rolled back, %d shipped", len(d.created), len(d.rolledBack), len(d.shipped))
	d.mu.Unlock()
	d.outMu.Lock()
	since := time.Since(d.lastProgress)
	due := since >= 2500*time.Millisecond || now && since >= time.Second
	if due {
		d.lastProgress = time.Now()
	}
	d.outMu.Unlock()
	if due {
		d.say("%s", line)
	}
}

// problem records what makes the run fail.
func (d *demo) problem(p string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.problems = append(d.problems, p)
}

// waitFor waits until cond, called with d.mu held, holds. It fails at once
// if a process exits on its own.
func (d *demo) waitFor(ctx context.Context, what string, cond func() bool) error {
	timeout := time.NewTimer(demoWait)
	defer timeout.Stop()
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
	for {
		d.mu.Lock()
		ok, changed, err := cond(), d.changed, d.failure()
		d.mu.Unlock()
		switch {
		case err != nil:
			return err
		case ok:
			return nil
		}
		select {
		case <-changed:
		case <-progress.C:
			d.progress(false)
		case <-timeout.C:
			return d.timedOut(what)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// poll waits until cond, which reads the databases, holds: it is asked
// every 100 ms.
func (d *demo) poll(ctx context.Context, what string, cond func() bool) error {
	timeout := time.NewTimer(demoWait)
	defer timeout.Stop()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		d.mu.Lock()
		err := d.failure()
		d.mu.Unlock()
		if err != nil {
			return err
		}
		select {
		case <-t.C:
		case <-timeout.C:
			return d.timedOut(what)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// failure returns an error if a process exited without being told to
// (called with d.mu held).
func (d *demo) failure() error {
	for _, p := range d.procs {
		select {
		case <-p.ended:
			if !p.expectExit {
				return fmt.Errorf("%s exited on its own (%v); its last lines:\n%s", p.label, p.cmd.ProcessState, p.tail())
			}
		default:
		}
	}
	return nil
}

func (d *demo) timedOut(what string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "timed out after %v waiting for %s", demoWait, what)
	for _, p := range d.procs {
		fmt.Fprintf(&b, "\n%s's last lines:\n%s", p.label, p.tail())
	}
	return errors.New(b.String())
}

// tail is the last lines of p (d.mu held).
func (p *proc) tail() string {
	lines := p.lines[max(0, len(p.lines)-15):]
	return "    " + strings.Join(lines, "\n    ")
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// startProc starts the program in role with args.
func (d *demo) startProc(ctx context.Context, role string, args []string) (*proc, error) {
	cmd := exec.Command(d.cfg.exe, args...)
	cmd.Env = append(append(os.Environ(), d.cfg.env...), envChild+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", role, err)
	}
	d.mu.Lock()
	n := 1
	for _, p := range d.procs {
		if p.role == role {
			n++
		}
	}
	p := &proc{d: d, role: role, label: fmt.Sprintf("%s#%d", role, n), cmd: cmd, stdin: stdin, ended: make(chan struct{})}
	d.procs = append(d.procs, p)
	d.mu.Unlock()
	var readers sync.WaitGroup
	readers.Go(func() { scanLines(stdout, func(l string) { d.line(p, l, false) }) })
	readers.Go(func() { scanLines(stderr, func(l string) { d.line(p, l, true) }) })
	go func() {
		readers.Wait()
		cmd.Wait()
		d.mu.Lock()
		close(p.ended)
		d.signal()
		d.mu.Unlock()
	}()
	return p, nil
}

// line takes in a line the process p printed.
func (d *demo) line(p *proc, line string, stderr bool) {
	if d.cfg.verbose || stderr {
		d.printf("    %s| %s\n", p.label, line)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.signal()
	p.lines = append(p.lines, line)
	if stderr {
		d.problems = append(d.problems, p.label+": "+line)
		return
	}
	l := stampRE.ReplaceAllString(line, "")
	if problemRE.MatchString(l) {
		d.problems = append(d.problems, p.label+": "+l)
	}
	match := func(re *regexp.Regexp) (string, bool) {
		m := re.FindStringSubmatch(l)
		if m == nil {
			return "", false
		}
		if len(m) > 1 {
			return m[1], true
		}
		return "", true
	}
	if p.role == roleOrders {
		if id, ok := match(createdRE); ok {
			d.created[id] = true
		} else if id, ok := match(rolledBackRE); ok {
			if len(d.rolledBack) == 0 {
				ord := orderFor(mustParse(id))
				d.say("orders rolled back %s: %v; neither the order nor its event exists", id, ord.check())
			}
			d.rolledBack[id] = true
		} else if id, ok := match(nextRE); ok {
			p.next = id
		} else if id, ok := match(heldTxRE); ok {
			p.heldTx = id
		} else if _, ok := match(relayedRE); ok {
			p.relayed = true
		} else if _, ok := match(waitingRE); ok {
			p.waiting = true
		} else if n, ok := match(waitedRE); ok {
			p.waiting = false
			p.waited, _ = strconv.Atoi(n)
		} else if _, ok := match(subscriberRE); ok {
			p.subscribed, p.subGone = true, false
		} else if _, ok := match(noSubRE); ok {
			p.subGone = p.subscribed
		} else if _, ok := match(doneRE); ok {
			p.done = true
		}
		return
	}
	if id, ok := match(shippedRE); ok {
		d.shipped[id]++
	} else if id, ok := match(redeliverRE); ok {
		d.redelivered[id]++
	} else if id, ok := match(heldAckRE); ok {
		p.heldAck = id
	} else if n, ok := match(dedupRE); ok {
		p.dropped, _ = strconv.Atoi(n)
	}
}

// signal wakes the waiters (d.mu held).
func (d *demo) signal() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// kill ends p with SIGKILL, as kill -9 does, and waits until it is gone.
func (d *demo) kill(p *proc) {
	d.mu.Lock()
	p.expectExit = true
	d.mu.Unlock()
	p.cmd.Process.Kill()
	<-p.ended
}

// stop closes p's stdin, which makes it close its peer as Ctrl-C does, and
// waits for it to exit.
func (d *demo) stop(p *proc) error {
	d.mu.Lock()
	p.expectExit = true
	d.mu.Unlock()
	p.stdin.Close()
	select {
	case <-p.ended:
	case <-time.After(drainTimeout + 5*time.Second):
		d.kill(p)
		return fmt.Errorf("%s did not stop", p.label)
	}
	if !p.cmd.ProcessState.Success() {
		d.mu.Lock()
		defer d.mu.Unlock()
		return fmt.Errorf("%s exited with %v; its last lines:\n%s", p.label, p.cmd.ProcessState, p.tail())
	}
	return nil
}

// killAll kills the processes still running.
func (d *demo) killAll() {
	d.mu.Lock()
	procs := append([]*proc(nil), d.procs...)
	d.mu.Unlock()
	for _, p := range procs {
		select {
		case <-p.ended:
		default:
			d.kill(p)
		}
	}
}

// dbSpec is a role's database: a SQLite file or a PostgreSQL DSN.
type dbSpec struct{ path, dsn string }

func (s dbSpec) flag() []string {
	if s.dsn != "" {
		return []string{"-postgres", s.dsn}
	}
	return []string{"-db", s.path}
}

func (s dbSpec) String() string {
	if s.dsn != "" {
		return "on PostgreSQL, " + redactDSN(s.dsn)
	}
	return "in " + s.path
}

// databases makes the two databases of the run, and a cleanup that
// removes them if the run went well and they are not to be kept.
func (d *demo) databases(ctx context.Context) (orders, shipping dbSpec, cleanup func(ok bool), err error) {
	cfg := d.cfg
	if cfg.postgres != "" {
		return d.schemas(ctx)
	}
	dir, temporary := cfg.dir, cfg.dir == ""
	if temporary {
		dir, err = os.MkdirTemp("", "meshmq-orders-")
	} else {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return dbSpec{}, dbSpec{}, nil, err
	}
	orders, shipping = dbSpec{path: filepath.Join(dir, "orders.db")}, dbSpec{path: filepath.Join(dir, "shipping.db")}
	if cfg.ordersDSN != "" {
		orders = dbSpec{dsn: cfg.ordersDSN}
	}
	if !temporary {
		for _, s := range []dbSpec{orders, shipping} {
			if _, err := os.Stat(s.path); s.path != "" && err == nil {
				return dbSpec{}, dbSpec{}, nil, fmt.Errorf("%s exists: the demo starts from empty databases; remove it or pick another -dir", s.path)
			}
		}
	}
	cleanup = func(ok bool) {
		switch {
		case !temporary:
			d.printf("The databases are in %s.\n", dir)
		case ok:
			os.RemoveAll(dir)
		default:
			d.printf("The databases are kept in %s.\n", dir)
		}
	}
	return orders, shipping, cleanup, nil
}

// schemas makes two fresh schemas on the PostgreSQL server, one database
// each, and a cleanup that drops them if the run went well.
func (d *demo) schemas(ctx context.Context) (orders, shipping dbSpec, cleanup func(ok bool), err error) {
	server := d.cfg.postgres
	db, err := sql.Open("pgx", server)
	if err != nil {
		return dbSpec{}, dbSpec{}, nil, err
	}
	base := "orders_demo_" + randomHex(4)
	names := []string{base + "_orders", base + "_shipping"}
	for _, s := range names {
		if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+s); err != nil {
			db.Close()
			return dbSpec{}, dbSpec{}, nil, fmt.Errorf("PostgreSQL %s: creating a schema for the demo: %w", redactDSN(server), err)
		}
	}
	cleanup = func(ok bool) {
		defer db.Close()
		if !ok {
			d.printf("The schemas %s and %s are kept.\n", names[0], names[1])
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, s := range names {
			if _, err := db.ExecContext(ctx, "DROP SCHEMA "+s+" CASCADE"); err != nil {
				d.printf("dropping the schema %s: %v\n", s, err)
			}
		}
	}
	return dbSpec{dsn: withSearchPath(server, names[0])}, dbSpec{dsn: withSearchPath(server, names[1])}, cleanup, nil
}

// freePorts returns n distinct ports free on 127.0.0.1 for both TCP and
// UDP (gossip takes both). Another process may take one before the demo's
// processes bind it: unlikely, and they would then fail to start.
func freePorts(n int) ([]int, error) {
	var ports []int
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100 {
			return nil, errors.New("no free ports on 127.0.0.1")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		closers = append(closers, l)
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		closers = append(closers, u)
		ports = append(ports, port)
	}
	return ports, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// waitedEvents is "event", "events (as many as 3)": what waited for a
// subscriber, as the orders process saw it.
func waitedEvents(n int) string {
	if n == 1 {
		return "event"
	}
	return fmt.Sprintf("events (as many as %d)", n)
}

func mustParse(id string) int {
	n, _ := parseOrderID(id)
	return n
}

// validOrderFrom returns the first order number from n on that passes the
// check.
func validOrderFrom(n int) int {
	for orderFor(n).check() != nil {
		n++
	}
	return n
}

// validOrdersUpTo returns how many of the orders 1 to n pass the check.
func validOrdersUpTo(n int) int {
	k := 0
	for i := 1; i <= n; i++ {
		if orderFor(i).check() == nil {
			k++
		}
	}
	return k
}
