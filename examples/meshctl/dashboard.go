package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/meshmq/meshmq/dashboard"
	"github.com/meshmq/meshmq/examples/internal/cli"
)

const dashboardUsage = `Usage: meshctl dashboard [flags]

Serves the live dashboard of package dashboard on -listen (HTTP), and prints
its URL: the members (endpoints, services, subscriptions, keys, connections),
the channels with their rates and handler latencies, and the security status,
as meshctl's peer sees the cluster; the page refreshes every -refresh. Runs
until Ctrl-C.

The page shows what it shows to anyone who can reach -listen: keep it on
127.0.0.1 (the default), or behind authentication.

Examples:

  meshctl dashboard -join 127.0.0.1:7946                      # http://127.0.0.1:8080/
  meshctl dashboard -join 127.0.0.1:7946 -listen 127.0.0.1:0  # any free port
  meshctl dashboard -join 127.0.0.1:7946 -title "orders (eu)" -refresh 2s
  curl -s http://127.0.0.1:8080/api/state | jq .members       # the data, as JSON
` + commonUsage + `
Flags:
`

func dashboardFlags() (*cli.Flags, func(context.Context, *env, []string) error) {
	fs := cli.NewFlagSet("dashboard", dashboardUsage)
	var c common
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP `address` to serve the dashboard on (port 0: any free port)")
	title := fs.String("title", "", "the page's title (default: the cluster's name, or meshmq)")
	refresh := fs.Duration("refresh", dashboard.DefaultRefresh, "how often the page refreshes")
	c.register(fs)
	return fs, func(ctx context.Context, e *env, pos []string) error {
		if len(pos) > 0 {
			return fs.Fail("dashboard takes no argument (got %q)", pos[0])
		}
		if cli.CheckHostPort(*listen) != nil {
			return fs.Fail("-listen %q: want host:port, such as 127.0.0.1:8080", *listen)
		}
		if *refresh < dashboard.MinRefresh || *refresh > dashboard.MaxRefresh {
			return fs.Fail("-refresh %v: want %v to %v", *refresh, dashboard.MinRefresh, dashboard.MaxRefresh)
		}
		if err := c.check(fs, false, false); err != nil {
			return err
		}
		if *title == "" {
			*title = dashboard.DefaultTitle
			if c.cluster != "" {
				*title = c.cluster
			}
		}
		s, err := c.start(ctx, e, nil)
		if err != nil {
			return err
		}
		return s.finish(s.serveDashboard(ctx, *listen, *title, *refresh))
	}
}

func (s *session) serveDashboard(ctx context.Context, addr, title string, refresh time.Duration) error {
	h, err := dashboard.New(s.p, dashboard.WithTitle(title), dashboard.WithRefresh(refresh))
	if err != nil {
		return err
	}
	if err := s.await(ctx, nil, false); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	join := ""
	if len(s.join) == 0 {
		join = s.gossipAddr("; others join with -join ")
	}
	fmt.Fprintf(s.e.stderr, "meshctl: dashboard of %s as %s at http://%s/%s; Ctrl-C to stop\n", title, s.name, ln.Addr(), join)
	fmt.Fprintf(s.e.stdout, "http://%s/\n", ln.Addr())
	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
