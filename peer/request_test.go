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

// A responder killed between request and reply: the request fails over to
// another instance, which runs the handler again (counted), and the Request
// completes.
func TestRequestSurvivesResponderKilled(t *testing.T) {
	cl := newCluster(t)
	requester := cl.peer("requester")
	running := make(chan struct{})
	var once sync.Once
	doomed := cl.unmanaged("doomed")
	if err := doomed.Handle("echo", func(ctx context.Context, m *channel.Message) error {
		once.Do(func() { close(running) })
		<-ctx.Done() // never answers: it is killed first
		return ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "doomed in view", func() bool { return len(requester.Members()) == 1 && requester.Members()[0].Handles("echo") })
	done := make(chan error, 1)
	var reply *channel.Message
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		reply, err = requester.Request(ctx, &channel.Message{Channel: "echo", Body: []byte("ping")})
		done <- err
	}()
	<-running
	survivor := cl.peer("survivor")
	if err := survivor.Handle("echo", echo); err != nil {
		t.Fatal(err)
	}
	doomed.kill()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if string(reply.Body) != "re: ping" || reply.From != "survivor" {
		t.Fatalf("reply %q from %s", reply.Body, reply.From)
	}
	if s := requester.Stats(); s.FailedOver != 1 {
		t.Fatalf("FailedOver = %d, want 1", s.FailedOver)
	}
}

// A request repeated under the same ID reaches the responder that answered
// it: the cached reply comes back, and the handler does not run again.
func TestRepeatedRequestGetsCachedReply(t *testing.T) {
	rx := start(t, fastOpts("responder")...)
	var mu sync.Mutex
	count := 0
	if err := rx.Handle("once", func(ctx context.Context, m *channel.Message) error {
		mu.Lock()
		count++
		mu.Unlock()
		return Reply(ctx, &channel.Message{Body: []byte(fmt.Sprintf("run %d", count))})
	}); err != nil {
		t.Fatal(err)
	}
	tx := start(t, append(fastOpts("requester"), WithDiscovery(discovery.NewStatic(member(rx, "once"))))...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := &channel.Message{Channel: "once", Body: []byte("q")}
	r1, err := tx.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again := &channel.Message{ID: req.ID, Channel: "once", Body: []byte("q")} // a new correlation ID
	r2, err := tx.Request(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if string(r1.Body) != "run 1" || string(r2.Body) != "run 1" || r2.CorrelationID != again.CorrelationID {
		t.Fatalf("replies %q and %q (correlation %s, want %s)", r1.Body, r2.Body, r2.CorrelationID, again.CorrelationID)
	}
	if s := rx.Stats(); s.CachedReplies != 1 || s.Handled != 1 {
		t.Fatalf("responder stats: %+v", s)
	}
}
