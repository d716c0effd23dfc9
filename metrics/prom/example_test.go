package prom_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/metrics/prom"
	"github.com/meshmq/meshmq/peer"
)

// A collector over two peers, registered in a registry. A service would
// serve the registry with promhttp:
//
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
func Example() {
	ctx := context.Background()
	billing, err := peer.New(ctx, peer.WithName("billing"))
	if err != nil {
		panic(err)
	}
	defer billing.Close(ctx)
	billing.Handle("billing", func(context.Context, *channel.Message) error { return nil })
	orders, err := peer.New(ctx, peer.WithName("orders"), peer.WithDiscovery(discovery.NewStatic(billing.Advertisement())))
	if err != nil {
		panic(err)
	}
	defer orders.Close(ctx)

	reg := prometheus.NewRegistry()
	reg.MustRegister(prom.NewCollector(orders, billing))

	if err := orders.Send(ctx, &channel.Message{Channel: "billing", Body: []byte("o-1")}); err != nil {
		panic(err)
	}
	// Wait for the acknowledgement (an example has no metrics server to poll).
	for deadline := time.Now().Add(time.Minute); orders.Stats().InFlight > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}

	mfs, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	enc := expfmt.NewEncoder(os.Stdout, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		switch mf.GetName() {
		case "meshmq_channel_acked_total", "meshmq_channel_handled_total", "meshmq_destination_connected":
			if err := enc.Encode(mf); err != nil {
				fmt.Println(err)
			}
		}
	}
	// Output:
	// # HELP meshmq_channel_acked_total Messages sent on the channel and acknowledged by their receiver.
	// # TYPE meshmq_channel_acked_total counter
	// meshmq_channel_acked_total{channel="billing",peer="billing"} 0
	// meshmq_channel_acked_total{channel="billing",peer="orders"} 1
	// # HELP meshmq_channel_handled_total Messages received on the channel whose handler returned nil.
	// # TYPE meshmq_channel_handled_total counter
	// meshmq_channel_handled_total{channel="billing",peer="billing"} 1
	// meshmq_channel_handled_total{channel="billing",peer="orders"} 0
	// # HELP meshmq_destination_connected 1 if a data connection to the member is up, else 0.
	// # TYPE meshmq_destination_connected gauge
	// meshmq_destination_connected{destination="billing",peer="orders"} 1
}
