// Command demo runs a small live meshmq cluster in one process and serves
// the dashboard of one of its peers, or takes a screenshot of it.
//
//	go run ./dashboard/internal/demo                                 # http://127.0.0.1:8080/ until interrupted
//	go run ./dashboard/internal/demo -screenshot docs/dashboard.png  # what the README shows
//
// The cluster: orders-api (the dashboard's peer) sends billing commands to
// two billing instances, publishes order events to an audit subscriber
// group, and handles the payments the billing instances send back; a third
// billing instance joins, takes traffic and leaves. Every peer is secured
// with CURVE and admits only the others' keys. The screenshot needs
// Chromium at /usr/bin/chromium (Debian's chromium package).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/dashboard"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/security"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "address to serve the dashboard on")
	shot := flag.String("screenshot", "", "take a screenshot of the page into this PNG file and exit")
	warmup := flag.Duration("warmup", 40*time.Second, "with -screenshot: how long traffic flows before the screenshot")
	width := flag.Int("width", 1280, "screenshot width")
	height := flag.Int("height", 800, "screenshot height")
	flag.Parse()
	if err := run(*addr, *shot, *warmup, *width, *height); err != nil {
		log.Fatal(err)
	}
}

func run(addr, shot string, warmup time.Duration, width, height int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	c, err := startCluster(ctx)
	if err != nil {
		return err
	}
	defer c.close()

	h, err := dashboard.New(c.api, dashboard.WithTitle("meshmq · eu-west"))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-served
	}()
	url := "http://" + ln.Addr().String() + "/"

	if shot == "" {
		log.Printf("dashboard of %s at %s", c.api.Name(), url)
		select {
		case <-ctx.Done():
			return nil
		case err := <-served:
			return err
		}
	}
	return screenshot(ctx, url, shot, warmup, width, height)
}

// screenshot loads url in headless Chromium, lets the page run for warmup
// (so that its sparklines fill), and writes the viewport to path.
func screenshot(ctx context.Context, url, path string, warmup time.Duration, width, height int) error {
	dir, err := os.MkdirTemp("", "meshmq-demo-chromium")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.UserDataDir(dir), chromedp.WindowSize(width, height))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(int64(width), int64(height)), chromedp.Navigate(url)); err != nil {
		return err
	}
	log.Printf("page loaded; screenshot in %v", warmup)
	select {
	case <-time.After(warmup):
	case <-ctx.Done():
		return ctx.Err()
	}
	png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s (%d bytes)", path, len(png))
	return chromedp.Cancel(bctx)
}

// cluster is the demo's peers and the goroutines making their traffic.
type cluster struct {
	api   *peer.Peer
	peers []*peer.Peer
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

func startCluster(parent context.Context) (*cluster, error) {
	ctx, stop := context.WithCancel(parent)
	c := &cluster{stop: stop}
	names := []string{"orders-api", "billing-1", "billing-2", "audit", "billing-3"}
	keys := map[string]security.KeyPair{}
	allow := security.NewAllowlist()
	for _, n := range names {
		kp, err := security.GenerateKeyPair()
		if err != nil {
			return nil, err
		}
		keys[n] = kp
		allow.Allow(kp.Public)
	}
	views := map[string]*discovery.Static{}
	start := func(name string) (*peer.Peer, error) {
		views[name] = discovery.NewStatic()
		p, err := peer.New(ctx, peer.WithName(name), peer.WithDiscovery(views[name]),
			peer.WithSecurity(security.Config{Keys: keys[name], Allow: allow}))
		if err != nil {
			return nil, err
		}
		c.peers = append(c.peers, p)
		return p, nil
	}
	byName := map[string]*peer.Peer{}
	for _, n := range names {
		p, err := start(n)
		if err != nil {
			c.close()
			return nil, err
		}
		byName[n] = p
	}
	c.api = byName["orders-api"]

	// Handlers take a little time, and billing fails now and then (retried).
	work := func(fail float64) channel.Handler {
		return func(ctx context.Context, m *channel.Message) error {
			time.Sleep(time.Duration(200+rand.IntN(2500)) * time.Microsecond)
			if rand.Float64() < fail {
				return errors.New("card network timeout")
			}
			return nil
		}
	}
	for _, n := range []string{"billing-1", "billing-2", "billing-3"} {
		if err := byName[n].Handle("billing", work(0.004), peer.Concurrency(8)); err != nil {
			return nil, err
		}
	}
	if err := c.api.Handle("payments", work(0), peer.Concurrency(8)); err != nil {
		return nil, err
	}
	if _, err := byName["audit"].Subscribe("orders.>", work(0), peer.Group("audit"), peer.Concurrency(4)); err != nil {
		return nil, err
	}
	// Everyone sees everyone (CURVE checks each name against its key).
	for _, n := range names {
		for _, o := range names {
			if o != n {
				views[n].Add(byName[o].Advertisement())
			}
		}
	}

	// The load swells and ebbs, a period of about a minute, so that the
	// sparklines show something.
	began := time.Now()
	burst := func(phase float64) int {
		x := math.Sin(2*math.Pi*time.Since(began).Seconds()/50 + phase)
		return 1 + int(math.Round(1.2*(1+x)+rand.Float64()*0.6))
	}
	every := func(p *peer.Peer, d time.Duration, phase float64, msg func(i int) *channel.Message, publish bool) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			t := time.NewTicker(d)
			defer t.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				for range burst(phase) {
					var err error
					if publish {
						err = p.Publish(ctx, msg(i))
					} else {
						err = p.Send(ctx, msg(i))
					}
					if err != nil && ctx.Err() == nil {
						log.Printf("%s: %v", p.Name(), err)
					}
				}
			}
		}()
	}
	every(c.api, 6*time.Millisecond, 0, func(i int) *channel.Message {
		return &channel.Message{Kind: channel.Command, Channel: "billing", Key: fmt.Sprint("order-", i%97), Body: []byte(fmt.Sprint(i))}
	}, false)
	every(c.api, 14*time.Millisecond, 2, func(i int) *channel.Message {
		region := []string{"eu", "us"}[i%2]
		return &channel.Message{Kind: channel.Event, Channel: "orders." + region + ".created", Body: []byte(fmt.Sprint(i))}
	}, true)
	for _, n := range []string{"billing-1", "billing-2"} {
		every(byName[n], 12*time.Millisecond, 4, func(i int) *channel.Message {
			return &channel.Message{Kind: channel.Command, Channel: "payments", Body: []byte(fmt.Sprint(i))}
		}, false)
	}

	// billing-3 takes traffic for a while, then leaves.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-time.After(4 * time.Second):
		case <-ctx.Done():
			return
		}
		for _, n := range names[:4] {
			views[n].Remove("billing-3", false)
		}
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := byName["billing-3"].Close(cctx); err != nil {
			log.Printf("billing-3: %v", err)
		}
	}()
	return c, nil
}

func (c *cluster) close() {
	c.stop()
	c.wg.Wait()
	// The peers send to each other: let what is in flight be acknowledged
	// before any of them closes, so that none waits for a closed one.
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range c.peers {
		for p.Stats().InFlight > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range c.peers {
		if err := p.Close(ctx); err != nil && !errors.Is(err, peer.ErrClosed) {
			log.Printf("close %s: %v", p.Name(), err)
		}
	}
}
