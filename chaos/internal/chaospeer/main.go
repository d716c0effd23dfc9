// Command chaospeer is one meshmq peer of the chaos suite (package chaos),
// run as its own process so that it can be killed with SIGKILL. It uses only
// meshmq's public API. Its role says what it does:
//
//   - consumer: handles a partitioned service (Partitions, Concurrency);
//   - subscriber: subscribes to "ev.>" in one group, partitioned;
//   - responder: answers requests with the request's body;
//   - sender: sends -messages over -keys with a durable store (SQLite or
//     PostgreSQL), one goroutine per key, in order; restarted, it reopens
//     the same store and continues after the last message it logged as sent;
//   - publisher: the same with Publish, one "sent" line per group;
//   - requester: makes -messages requests, logging each one's reply or error.
//
// Every handling, send, dead letter and request outcome is appended to the
// event log (chaos.Log) before the handler returns, or after Send returned.
// SIGTERM closes the peer gracefully (Close) and exits.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaospeer:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "chaospeer %s#%d: %v\n", o.name, o.inc, err)
		stop()
		os.Exit(1)
	}
}
