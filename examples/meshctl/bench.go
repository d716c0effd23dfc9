package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/codec"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/security"
)

const benchUsage = `Usage: meshctl bench [SERVICE] [flags]

Sends -n messages (or as many as it can for -duration) of -size bytes to
SERVICE from -senders goroutines, at least once, and waits until every one
is acknowledged. Shows a progress bar on a terminal (a line a second
otherwise), then a summary: messages, duration, messages and MiB per second,
the p50 and p99 time spent in Send (the retry buffer's backpressure shows
there), retries and dead letters.

With -local it starts a receiver of its own (a second peer in the process,
handling SERVICE, default meshctl.bench), so it needs no cluster; the
summary then has the p50 and p99 from Send to the handler too. The body is
MessagePack bytes (bin): a handler that decodes something else refuses it,
and the messages are dead-lettered.

Examples:

  meshctl bench -local                                    # alone: 10,000 messages of 64 B
  meshctl bench -local -n 200000 -size 1024 -senders 64
  meshctl bench -local -duration 10s
  meshctl bench sink -n 50000 -join 127.0.0.1:7946        # a service of the cluster
` + commonUsage + `
Flags:
`

// defaultBenchService is the service of bench -local.
const defaultBenchService = "meshctl.bench"

type benchConfig struct {
	service  string
	n        int
	duration time.Duration
	size     int
	senders  int
	local    bool
}

func benchFlags() (*cli.Flags, func(context.Context, *env, []string) error) {
	fs := cli.NewFlagSet("bench", benchUsage)
	var c common
	var b benchConfig
	fs.IntVar(&b.n, "n", 10000, "messages to send (not with -duration)")
	fs.DurationVar(&b.duration, "duration", 0, "send for this long instead of -n messages")
	fs.IntVar(&b.size, "size", 64, "body size in `bytes`")
	fs.IntVar(&b.senders, "senders", 16, "sending goroutines")
	fs.BoolVar(&b.local, "local", false, "start a receiver of its own for SERVICE (default "+defaultBenchService+"): no cluster needed")
	c.register(fs)
	return fs, func(ctx context.Context, e *env, pos []string) error {
		switch {
		case len(pos) > 1:
			return fs.Fail("bench takes one SERVICE at most (got %d arguments)", len(pos))
		case len(pos) == 1:
			b.service = pos[0]
		case b.local:
			b.service = defaultBenchService
		default:
			return fs.Fail("bench needs a SERVICE to send to, or -local for a receiver of its own")
		}
		nSet := false
		fs.Visit(func(f *flag.Flag) { nSet = nSet || f.Name == "n" })
		switch {
		case b.duration < 0:
			return fs.Fail("-duration %v: want a positive duration", b.duration)
		case b.duration > 0 && nSet:
			return fs.Fail("-n and -duration: give one")
		case b.duration == 0 && b.n <= 0:
			return fs.Fail("-n %d: want 1 or more messages", b.n)
		case b.size < 0 || b.size > 1<<20:
			return fs.Fail("-size %d: want 0 to 1048576 bytes", b.size)
		case b.senders <= 0 || b.senders > 10000:
			return fs.Fail("-senders %d: want 1 to 10000", b.senders)
		}
		if err := c.check(fs, !b.local, !b.local); err != nil {
			return err
		}
		if b.local && len(c.peers) > 0 {
			return fs.Fail("-local and -peers: the local receiver joins by gossip")
		}
		s, err := c.start(ctx, e, []string{b.service})
		if err != nil {
			return err
		}
		var rx *receiver
		if b.local {
			if rx, err = s.startReceiver(ctx, b.service); err != nil {
				return s.finish(fmt.Errorf("-local: starting the receiver: %w", err))
			}
		}
		err = s.bench(ctx, &b, rx)
		err = s.finish(err)
		if rx != nil {
			if cerr := rx.close(); err == nil {
				err = cerr
			}
		}
		return err
	}
}

// receiver is the peer of bench -local.
type receiver struct {
	p   *peer.Peer
	mu  sync.Mutex
	lat []time.Duration // Send to handler
}

func (r *receiver) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return r.p.Close(ctx)
}

func (r *receiver) latencies() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lat)
}

// startReceiver starts the receiver of -local: a peer on meshctl's host,
// joining meshctl's gossip, handling service. Secured, it has a key pair of
// its own, which meshctl admits, and admits meshctl's key only.
func (s *session) startReceiver(ctx context.Context, service string) (*receiver, error) {
	g, ok := s.p.Discovery().(*discovery.Gossip)
	if !ok {
		return nil, errors.New("meshctl's peer has no gossip")
	}
	host, _, _ := net.SplitHostPort(s.gossip)
	dataHost, _, _ := net.SplitHostPort(strings.TrimPrefix(s.data, "tcp://"))
	gc := s.gossipConfig([]string{g.Addr()})
	gc.Bind = net.JoinHostPort(host, "0")
	opts := []peer.Option{
		peer.WithName(s.name + "-receiver"), peer.WithListen("tcp://" + net.JoinHostPort(dataHost, "0")),
		peer.WithLogger(s.logger),
		peer.WithHeartbeat(100*time.Millisecond, time.Second), peer.WithReconnect(10*time.Millisecond, 500*time.Millisecond),
	}
	switch {
	case s.sec.Config != nil:
		kp, err := security.GenerateKeyPair()
		if err != nil {
			return nil, err
		}
		s.sec.Config.Allow.Allow(kp.Public)
		cfg := security.Config{Keys: kp, Allow: security.NewAllowlist(s.sec.Config.Keys.Public), GossipKeys: s.sec.Config.GossipKeys}
		opts = append(opts, peer.WithGossip(gc), peer.WithSecurity(cfg))
	case s.sec.GossipKey != nil:
		gc.Keys = [][]byte{s.sec.GossipKey}
		opts = append(opts, peer.WithGossip(gc))
	default:
		opts = append(opts, peer.WithGossip(gc))
	}
	p, err := peer.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	r := &receiver{p: p}
	err = p.Handle(service, func(ctx context.Context, m *channel.Message) error {
		d := time.Since(m.Time)
		r.mu.Lock()
		r.lat = append(r.lat, d)
		r.mu.Unlock()
		return nil
	}, peer.Concurrency(8))
	if err != nil {
		return nil, errors.Join(err, r.close())
	}
	return r, nil
}

// bench runs the benchmark and prints its summary.
func (s *session) bench(ctx context.Context, b *benchConfig, rx *receiver) error {
	if err := s.await(ctx, ptr(serviceTarget(b.service, "")), false); err != nil {
		return err
	}
	body, err := codec.MsgPack().Marshal(make([]byte, b.size))
	if err != nil {
		return err
	}
	// The msgpack header counts in -size: the body is -size bytes.
	if extra := len(body) - b.size; extra > 0 && b.size >= extra {
		body, _ = codec.MsgPack().Marshal(make([]byte, b.size-extra))
	}

	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait() // on an early return, the senders end before the peer closes
	}()
	var (
		claimed  atomic.Int64
		sendErr  error
		errOnce  sync.Once
		lat      = make([][]time.Duration, b.senders)
		start    = time.Now()
		deadline = start.Add(b.duration)
	)
	for i := range b.senders {
		wg.Go(func() {
			for sctx.Err() == nil {
				if b.duration > 0 {
					if time.Now().After(deadline) {
						return
					}
				} else if claimed.Add(1) > int64(b.n) {
					return
				}
				m := &channel.Message{Channel: b.service, Kind: channel.Command, Body: body}
				t0 := time.Now()
				err := s.p.Send(sctx, m)
				if err != nil {
					if sctx.Err() == nil {
						errOnce.Do(func() { sendErr = err })
					}
					stop()
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		})
	}

	prog := newProgress(s.e.stdout, s.e.tty, b, start)
	sent := make(chan struct{})
	go func() { wg.Wait(); close(sent) }()
	var sendDone bool
	var elapsed time.Duration
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	lastAcked, lastProgress := uint64(0), time.Now()
	for {
		st := s.p.Stats()
		if !sendDone {
			select {
			case <-sent:
				sendDone = true
				st = s.p.Stats()
			default:
			}
		}
		settled := st.Acked + st.DeadLettered
		if settled != lastAcked {
			lastAcked, lastProgress = settled, time.Now()
		}
		prog.update(st, sendDone)
		if sendDone && settled >= st.Sent && st.InFlight == 0 {
			elapsed = time.Since(start)
			break
		}
		if sendDone && time.Since(lastProgress) > s.timeout {
			prog.end()
			return fmt.Errorf("no acknowledgement for %v: %d of %d acknowledged; sent to %s", s.timeout, st.Acked, st.Sent, destinations(st))
		}
		select {
		case <-ctx.Done():
			prog.end()
			return ctx.Err()
		case <-tick.C:
		}
	}
	prog.update(s.p.Stats(), true)
	prog.end()
	if sendErr != nil {
		return fmt.Errorf("send: %w", sendErr)
	}

	st := s.p.Stats()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	rows := [][2]string{
		{"messages", fmt.Sprintf("%d sent, %d acknowledged", st.Sent, st.Acked)},
		{"body", fmt.Sprintf("%d B", len(body))},
		{"senders", fmt.Sprint(b.senders)},
		{"duration", roundDuration(elapsed).String()},
		{"msgs/s", fmt.Sprintf("%.0f", float64(st.Acked)/elapsed.Seconds())},
		{"MiB/s", fmt.Sprintf("%.2f", float64(st.Acked)*float64(len(body))/elapsed.Seconds()/(1<<20))},
		{"send p50", quantile(all, 0.50)},
		{"send p99", quantile(all, 0.99)},
	}
	if rx != nil {
		h := rx.latencies()
		rows = append(rows, [2]string{"handled p50", quantile(h, 0.50)}, [2]string{"handled p99", quantile(h, 0.99)})
	}
	rows = append(rows, [2]string{"retries", fmt.Sprint(st.Retried)}, [2]string{"dead letters", fmt.Sprint(st.DeadLettered)})
	tw := tabwriter.NewWriter(s.e.stdout, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if st.DeadLettered > 0 {
		err := fmt.Errorf("%d messages dead-lettered", st.DeadLettered)
		select {
		case d := <-s.deadLetters:
			err = fmt.Errorf("%w; the first: %v", err, deadLetterError(d))
		default:
		}
		return err
	}
	return nil
}

// quantile is the q-quantile of ds, "-" for none.
func quantile(ds []time.Duration, q float64) string {
	if len(ds) == 0 {
		return "-"
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return roundDuration(ds[int(q*float64(len(ds)-1))]).String()
}

// progress shows how far a bench is: a bar redrawn in place on a terminal,
// a line a second otherwise.
type progress struct {
	w      io.Writer
	b      *benchConfig
	start  time.Time
	tty    bool
	last   time.Time
	drawn  bool
	prevAt time.Time
	prev   uint64
	rate   float64
}

func newProgress(w io.Writer, tty bool, b *benchConfig, start time.Time) *progress {
	return &progress{w: w, b: b, start: start, tty: tty, prevAt: start, last: start}
}

func (p *progress) update(st peer.Stats, final bool) {
	now := time.Now()
	every := time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if !final && now.Sub(p.last) < every {
		return
	}
	if !p.tty && final {
		return // the summary follows
	}
	p.last = now
	if dt := now.Sub(p.prevAt).Seconds(); dt > 0 {
		p.rate = float64(st.Acked-p.prev) / dt
	}
	p.prev, p.prevAt = st.Acked, now
	var frac float64
	var of string
	if p.b.duration > 0 {
		frac = min(1, now.Sub(p.start).Seconds()/p.b.duration.Seconds())
		of = fmt.Sprintf("%d acked, %v of %v", st.Acked, now.Sub(p.start).Round(time.Second), p.b.duration)
	} else {
		frac = float64(st.Acked) / float64(p.b.n)
		of = fmt.Sprintf("%d/%d acked", st.Acked, p.b.n)
	}
	if !p.tty {
		fmt.Fprintf(p.w, "bench: %s, %.0f msgs/s, in flight %d\n", of, p.rate, st.InFlight)
		return
	}
	const width = 30
	full := int(frac * width)
	bar := strings.Repeat("=", full)
	if full < width {
		bar += ">" + strings.Repeat(" ", width-full-1)
	}
	fmt.Fprintf(p.w, "\r[%s] %3.0f%%  %s  %.0f msgs/s   ", bar, frac*100, of, p.rate)
	p.drawn = true
}

// end ends the bar's line.
func (p *progress) end() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
