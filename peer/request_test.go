package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

// echo answers a request with its body, upper-cased by a prefix.
func echo(ctx context.Context, m *channel.Message) error {
	if _, ok := ctx.Deadline(); !ok {
		return channel.Permanent(errors.New("request without its deadline"))
	}
	return Reply(ctx, &channel.Message{Body: append([]byte("re: "), m.Body...)})
}

// 1,000 concurrent requests, each gets its own reply, which carries the
// request's correlation ID and comes from the responder.
func TestConcurrentRequestsGetTheirOwnReplies(t *testing.T) {
	rx := start(t, fastOpts("responder")...)
	if err := rx.Handle("echo", echo, Concurrency(8)); err != nil {
		t.Fatal(err)
	}
	tx := start(t, append(fastOpts("requester"), WithDiscovery(discovery.NewStatic(member(rx, "echo"))))...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf("q%d", i)
			req := &channel.Message{Channel: "echo", Body: []byte(body)}
			r, err := tx.Request(ctx, req)
			switch {
			case err != nil:
				errs <- err
			case string(r.Body) != "re: "+body || r.Kind != channel.Reply || r.CorrelationID != req.CorrelationID || r.From != "responder":
				errs <- fmt.Errorf("request %s got %q (kind %v, correlation %s, from %s)", body, r.Body, r.Kind, r.CorrelationID, r.From)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A handler that fails sends no reply; the request is retried and the reply
// of the successful run comes back.
func TestReplyOnlyWhenTheHandlerSucceeds(t *testing.T) {
	var mu sync.Mutex
	runs := 0
	h := func(ctx context.Context, m *channel.Message) error {
		Reply(ctx, &channel.Message{Body: []byte(fmt.Sprint("run ", runs+1))})
		mu.Lock()
		defer mu.Unlock()
		runs++
		if runs == 1 {
			return errors.New("transient")
		}
		return nil
	}
	rx := start(t, fastOpts("responder")...)
	rx.Handle("svc", h)
	tx := start(t, append(fastOpts("requester"), WithDiscovery(discovery.NewStatic(member(rx, "svc"))))...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := tx.Request(ctx, &channel.Message{Channel: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Body) != "run 2" {
		t.Fatalf("reply %q, want the second run's", r.Body)
	}
	if st := tx.Stats(); st.LateReplies != 0 {
		t.Fatalf("a failed run's reply was sent: %+v", st)
	}
}

// No instance: ErrNoResponders at once. A reply after the requester gave up
// is dropped and counted. Reply outside a handler fails.
func TestRequestErrors(t *testing.T) {
	release := make(chan struct{})
	slow := func(ctx context.Context, m *channel.Message) error {
		<-release
		return Reply(ctx, &channel.Message{Body: []byte("late")})
	}
	rx := start(t, fastOpts("responder")...)
	rx.Handle("slow", slow)
	tx := start(t, append(fastOpts("requester"), WithDiscovery(discovery.NewStatic(member(rx, "slow"))))...)
	if _, err := tx.Request(context.Background(), &channel.Message{Channel: "nobody"}); !errors.Is(err, ErrNoResponders) {
		t.Fatalf("no instance: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := tx.Request(ctx, &channel.Message{Channel: "slow"})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow request: %v", err)
	}
	close(release)
	waitFor(t, "the late reply counted", func() bool { return tx.Stats().LateReplies == 1 })
	if err := Reply(context.Background(), &channel.Message{}); err == nil {
		t.Fatal("Reply outside a handler accepted")
	}
}

// A handler still running when its peer starts closing finishes, and its
// reply reaches the requester before the peer goes.
func TestReplyOfAHandlerFinishingDuringClose(t *testing.T) {
	running, release := make(chan struct{}), make(chan struct{})
	h := func(ctx context.Context, m *channel.Message) error {
		close(running)
		<-release
		return Reply(ctx, &channel.Message{Body: []byte("done")})
	}
	rx, err := New(context.Background(), fastOpts("responder")...)
	if err != nil {
		t.Fatal(err)
	}
	rx.Handle("svc", h)
	tx := start(t, append(fastOpts("requester"), WithDiscovery(discovery.NewStatic(member(rx, "svc"))))...)
	type result struct {
		r   *channel.Message
		err error
	}
	got := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r, err := tx.Request(ctx, &channel.Message{Channel: "svc"})
		got <- result{r, err}
	}()
	<-running
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		closed <- rx.Close(ctx)
	}()
	waitFor(t, "the responder closing", rx.closing.Load)
	close(release)
	res := <-got
	if res.err != nil || string(res.r.Body) != "done" {
		t.Fatalf("request during the responder's close: %v %v", res.r, res.err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("close: %v", err)
	}
}
