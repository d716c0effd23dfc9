package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/peer"
)

const (
	topicPrefix = "chat." // a room's topic is chat.<room>
	maxNameLen  = 64
	// presenceEvery is how often the chat looks for members joining and
	// leaving its room: the peer reports no membership events to its user.
	presenceEvery = 100 * time.Millisecond
	// closeTimeout bounds the graceful close on /quit: lines the others
	// have not acknowledged by then are reported as not delivered.
	closeTimeout = 5 * time.Second
)

// line is the body of a chat message.
type line struct {
	Name string `json:"name"` // the sender's chat name
	Text string `json:"text"`
}

func checkName(name string) error {
	switch {
	case name == "" || len(name) > maxNameLen:
		return fmt.Errorf("a name is 1 to %d bytes", maxNameLen)
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("name %q: no spaces or control characters", name)
	}
	return nil
}

// checkRoom accepts a room name that makes chat.<room> a topic of two
// tokens: one word, no dots, no wildcards.
func checkRoom(room string) error {
	if room == "" || strings.ContainsAny(room, ".*>") {
		return fmt.Errorf("room %q: want one word, without dots or wildcards", room)
	}
	if err := channel.ValidateTopic(topicPrefix + room); err != nil {
		return fmt.Errorf("room %q: %w", room, err)
	}
	return nil
}

// Peer names are unique in a cluster (a second peer with the same name would
// replace the first, as a restart does), chat names need not be: a chat peer
// is named after its user plus a random suffix, which the chat strips again.
var suffixRE = regexp.MustCompile(`-[0-9a-f]{6}$`)

func peerName(name string) string {
	var b [3]byte
	rand.Read(b[:])
	return name + "-" + hex.EncodeToString(b[:])
}

func displayName(peerName string) string { return suffixRE.ReplaceAllString(peerName, "") }

// run is the chat: it starts a peer for cfg, reads lines from in until
// /quit, the end of in, or the end of ctx, prints the room's messages and
// its notices to out, and closes the peer gracefully. A read of in still
// blocked when run returns ends with in's next line or its end.
func run(ctx context.Context, in io.Reader, out io.Writer, cfg config) error {
	if err := checkName(cfg.name); err != nil {
		return err
	}
	if err := checkRoom(cfg.room); err != nil {
		return err
	}
	// The key files are read here, not in parseArgs: a missing or too open
	// file is not a mistake the usage text helps with.
	sec, err := cfg.security.Load()
	if err != nil {
		return err
	}
	secOpts, err := sec.PeerOptions(discovery.GossipConfig{Bind: cfg.gossip, Seeds: cfg.join, Cluster: cfg.cluster, Profile: discovery.ProfileFast})
	if err != nil {
		return err
	}
	c := &chat{con: &console{w: out}, name: cfg.name}
	c.p, err = peer.New(ctx, append([]peer.Option{peer.WithName(peerName(cfg.name)), peer.WithListen(cfg.listen),
		// Match the data connections to fast gossip, as examples/cluster does.
		peer.WithHeartbeat(100*time.Millisecond, time.Second), peer.WithReconnect(10*time.Millisecond, 500*time.Millisecond),
		peer.WithDeadLetter(c.deadLetter)}, secOpts...)...)
	if err != nil {
		return err
	}
	// The gossip the peer built: the others -join its address.
	g, ok := c.p.Discovery().(*discovery.Gossip)
	if !ok {
		return errors.Join(fmt.Errorf("discovery is %T, want *discovery.Gossip", c.p.Discovery()), c.close())
	}
	c.con.printf("* you are %s; others join with -join %s", cfg.name, g.Addr())
	c.con.printf("* %s", sec.Describe(c.p.Stats().Security))
	if err := c.enter(ctx, cfg.room); err != nil {
		return errors.Join(err, c.close())
	}

	var wg sync.WaitGroup
	loops, stopLoops := context.WithCancel(ctx)
	wg.Go(func() { c.watchPresence(loops) })
	err = c.readLoop(ctx, in)
	stopLoops()
	wg.Wait()
	return errors.Join(err, c.close())
}

// readLoop handles the lines of in until /quit, the end of in or of ctx.
func (c *chat) readLoop(ctx context.Context, in io.Reader) error {
	lines := make(chan string)
	done := make(chan struct{})
	defer close(done)
	var readErr error
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
		readErr = sc.Err() // read once lines is closed
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case l, ok := <-lines:
			if !ok {
				return readErr
			}
			if quit := c.command(ctx, l); quit {
				return nil
			}
		}
	}
}

// command handles one line typed by the user; it reports /quit.
func (c *chat) command(ctx context.Context, l string) (quit bool) {
	l = strings.TrimSpace(l)
	if !strings.HasPrefix(l, "/") {
		if l != "" {
			c.say(ctx, l)
		}
		return false
	}
	cmd, arg, _ := strings.Cut(l, " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "/quit":
		return true
	case "/who":
		c.who()
	case "/join":
		if err := checkRoom(arg); err != nil {
			c.con.printf("* /join: %v", err)
			return false
		}
		if err := c.enter(ctx, arg); err != nil {
			c.con.printf("* /join: %v", err)
		}
	default:
		c.con.printf("* %s: unknown command (try /join ROOM, /who, /quit)", cmd)
	}
	return false
}

// chat is one user's session.
type chat struct {
	p    *peer.Peer
	con  *console
	name string

	mu   sync.Mutex // guards what follows
	room string
	sub  *peer.Subscription
	here map[string]bool // the other peers in the room, by peer name
}

// say publishes text to the current room. The room is changed only by the
// goroutine that calls say, so it is read without a race.
func (c *chat) say(ctx context.Context, text string) {
	c.mu.Lock()
	room := c.room
	c.mu.Unlock()
	msg, err := channel.NewEvent(topicPrefix+room, line{Name: c.name, Text: text})
	if err != nil {
		c.con.printf("* not sent: %v", err)
		return
	}
	msg.Key = c.p.Name() // our lines are handled in the order we typed them
	// Publish says nothing of who got the event, but counts the ones that
	// had no subscriber; only this goroutine publishes.
	unheard := c.p.Stats().Unheard
	if err := c.p.Publish(ctx, msg); err != nil {
		c.con.printf("* not sent: %v", err)
		return
	}
	if c.p.Stats().Unheard > unheard {
		c.con.printf("* nobody else is in #%s to hear that", room)
	}
}

// enter leaves the current room, if any, for room.
func (c *chat) enter(ctx context.Context, room string) error {
	c.mu.Lock()
	old, oldSub := c.room, c.sub
	c.mu.Unlock()
	if oldSub != nil && room == old {
		c.con.printf("* already in #%s", room)
		return nil
	}
	if oldSub != nil {
		uctx, cancel := context.WithTimeout(ctx, closeTimeout)
		err := oldSub.Unsubscribe(uctx)
		cancel()
		if err != nil {
			return fmt.Errorf("leaving #%s: %w", old, err)
		}
		c.mu.Lock()
		c.sub = nil
		c.mu.Unlock()
	}
	// No subscriber group: everyone in the room gets every line. If we
	// crash, the others keep our lines for a short while only.
	sub, err := c.p.Subscribe(topicPrefix+room, c.handle, peer.Retain(time.Minute, 256, 0))
	if sub == nil {
		return fmt.Errorf("joining #%s: %w", room, err)
	}
	if err != nil {
		// Subscribed, but the cluster may not know yet: say so and go on.
		c.con.printf("* joining #%s: %v", room, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.room, c.sub = room, sub
	c.here = c.inRoom(room)
	if len(c.here) == 0 {
		c.con.printf("* in #%s: nobody else yet", room)
	} else {
		c.con.printf("* in #%s with %s", room, strings.Join(c.names(c.here), ", "))
	}
	return nil
}

// handle prints a line said in the room. A peer never delivers its own
// events to itself, so our own lines do not come back.
func (c *chat) handle(_ context.Context, m *channel.Message) error {
	var l line
	if err := m.Decode(&l); err != nil {
		return channel.Permanent(err) // not a chat line: retrying will not help
	}
	name := l.Name
	if name == "" {
		name = displayName(m.From)
	}
	room := strings.TrimPrefix(m.Channel, topicPrefix)
	c.con.printf("[%s] %s: %s", room, printable(name), printable(l.Text))
	return nil
}

// watchPresence prints the peers joining and leaving the room, and the
// connections refused (keys not in the allowlist), until ctx ends.
func (c *chat) watchPresence(ctx context.Context) {
	t := time.NewTicker(presenceEvery)
	defer t.Stop()
	var refusals cli.Refusals
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if line, ok := refusals.Check(c.p.Stats().Security, time.Now()); ok {
			c.con.printf("* %s", line)
		}
		c.mu.Lock()
		now := c.inRoom(c.room)
		for _, name := range slices.Sorted(maps.Keys(now)) {
			if !c.here[name] {
				c.con.printf("* %s joined #%s", displayName(name), c.room)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(c.here)) {
			if !now[name] {
				c.con.printf("* %s left #%s", displayName(name), c.room)
			}
		}
		c.here = now
		c.mu.Unlock()
	}
}

// inRoom returns the other peers subscribed to room, by peer name.
func (c *chat) inRoom(room string) map[string]bool {
	in := map[string]bool{}
	for _, m := range c.p.Members() {
		for _, s := range m.Subscriptions {
			if channel.MatchTopic(s.Pattern, topicPrefix+room) {
				in[m.Name] = true
			}
		}
	}
	return in
}

func (c *chat) names(peers map[string]bool) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(peers)) {
		out = append(out, displayName(name))
	}
	return out
}

// who lists the cluster's peers and the rooms they are in.
func (c *chat) who() {
	members := c.p.Members()
	c.mu.Lock()
	room := c.room
	c.mu.Unlock()
	c.con.printf("* %d in the cluster:", len(members)+1)
	c.con.printf("*   %s (you) in #%s", c.name, room)
	for _, m := range members {
		var rooms []string
		for _, s := range m.Subscriptions {
			if r, ok := strings.CutPrefix(s.Pattern, topicPrefix); ok {
				rooms = append(rooms, "#"+r)
			}
		}
		where := "in no room"
		if len(rooms) > 0 {
			slices.Sort(rooms)
			where = "in " + strings.Join(rooms, ", ")
		}
		c.con.printf("*   %s %s", printable(displayName(m.Name)), printable(where))
	}
}

// deadLetter reports a line the peer gave up delivering. A member that left
// the room while we spoke is not worth a notice.
func (c *chat) deadLetter(d peer.DeadLetter) {
	if d.Reason == peer.ReasonUnsubscribed {
		return
	}
	var l line
	d.Message.Decode(&l)
	to := "anyone"
	if d.Destination != "" {
		to = displayName(d.Destination)
	}
	c.con.printf("* not delivered to %s (%s): %s", to, d.Reason, printable(l.Text))
}

// close leaves the cluster gracefully: the others acknowledge what we said
// first.
func (c *chat) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := c.p.Close(ctx); err != nil {
		return fmt.Errorf("closing: %w", err)
	}
	c.con.printf("* bye")
	return nil
}

// printable replaces control characters, so that a peer cannot drive our
// terminal with escape sequences.
func printable(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}

// console writes whole lines to one writer from the chat's goroutines and
// the peer's. Unlike the other examples' cli.Console it stamps no time on
// them: a chat line shows as said, "[lobby] alice: hello", and chat has no
// -v log to interleave with them.
type console struct {
	mu sync.Mutex
	w  io.Writer
}

func (c *console) printf(format string, args ...any) {
	s := fmt.Sprintf(format, args...) + "\n"
	c.mu.Lock()
	defer c.mu.Unlock()
	io.WriteString(c.w, s)
}
