package otelmetric

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/peer"
)

// HandlerDuration is the name of the histogram HandleMiddleware records.
const HandlerDuration = "meshmq.handler.duration"

// HandleMiddleware returns a handle middleware that records the run time of
// each handler run, in seconds, in the Float64Histogram
// meshmq.handler.duration of mp (otel's global MeterProvider if mp is nil),
// with the attribute meshmq.channel, and error.type when the run failed
// (ErrorRetryable, ErrorPermanent, ErrorPanic). Its buckets are
// peer.LatencyBounds. A panic is recorded and passed on, for the peer to
// turn into an error. Should the histogram not be created, the error goes
// to otel.Handle and the middleware only calls the handler.
//
// Registered first (peer.WithHandleMiddleware), it measures what the other
// middleware adds too; registered last, the handler alone.
func HandleMiddleware(mp metric.MeterProvider, opts ...Option) peer.HandleMiddleware {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	c := configure(opts)
	h, err := mp.Meter(ScopeName).Float64Histogram(HandlerDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Run time of message handlers, errors and panics included."),
		metric.WithExplicitBucketBoundaries(peer.LatencyBounds...))
	if err != nil {
		otel.Handle(err)
		return func(next channel.Handler) channel.Handler { return next }
	}
	return func(next channel.Handler) channel.Handler {
		return func(ctx context.Context, m *channel.Message) (err error) {
			began := time.Now()
			panicked := true
			defer func() {
				d := time.Since(began).Seconds()
				ch := ChannelKey.String(channelName(m.Channel))
				var set attribute.Set
				switch {
				case panicked:
					set = c.set(ch, ErrorTypeKey.String(ErrorPanic))
				case err == nil:
					set = c.set(ch)
				case channel.IsPermanent(err):
					set = c.set(ch, ErrorTypeKey.String(ErrorPermanent))
				default:
					set = c.set(ch, ErrorTypeKey.String(ErrorRetryable))
				}
				h.Record(ctx, d, metric.WithAttributeSet(set))
			}()
			err = next(ctx, m)
			panicked = false
			return err
		}
	}
}
