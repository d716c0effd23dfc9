package otelmetric_test

import (
	"context"
	"fmt"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/metrics/otelmetric"
	"github.com/meshmq/meshmq/peer"
)

// A peer's statistics and its handlers' durations on one MeterProvider. A
// service would give the provider a periodic reader and an exporter (OTLP,
// Prometheus) instead of the manual reader read here.
func Example() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(ctx)

	billing, err := peer.New(ctx, peer.WithName("billing"),
		peer.WithHandleMiddleware(otelmetric.HandleMiddleware(mp, otelmetric.WithAttributes(otelmetric.PeerKey.String("billing")))))
	if err != nil {
		panic(err)
	}
	defer billing.Close(ctx)
	billing.Handle("billing", func(context.Context, *channel.Message) error { return nil })
	stop, err := otelmetric.Register(mp, billing)
	if err != nil {
		panic(err)
	}
	defer stop()

	orders, err := peer.New(ctx, peer.WithName("orders"), peer.WithDiscovery(discovery.NewStatic(billing.Advertisement())))
	if err != nil {
		panic(err)
	}
	defer orders.Close(ctx)
	for range 3 {
		if err := orders.Send(ctx, &channel.Message{Channel: "billing", Body: []byte("o-1")}); err != nil {
			panic(err)
		}
	}
	for deadline := time.Now().Add(time.Minute); orders.Stats().InFlight > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			if m.Name == "meshmq.channel.handled" {
				for _, dp := range d.DataPoints {
					ch, _ := dp.Attributes.Value(otelmetric.ChannelKey)
					fmt.Printf("%s{channel=%s}: %d %s\n", m.Name, ch.AsString(), dp.Value, m.Unit)
				}
			}
		case metricdata.Histogram[float64]:
			for _, dp := range d.DataPoints {
				ch, _ := dp.Attributes.Value(otelmetric.ChannelKey)
				p, _ := dp.Attributes.Value(otelmetric.PeerKey)
				fmt.Printf("%s{channel=%s, peer=%s}: %d runs, %s\n", m.Name, ch.AsString(), p.AsString(), dp.Count, m.Unit)
			}
		}
	}
	// Unordered output:
	// meshmq.channel.handled{channel=billing}: 3 {message}
	// meshmq.handler.duration{channel=billing, peer=billing}: 3 runs, s
}
