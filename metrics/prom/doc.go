// Package prom exports meshmq peers' statistics to Prometheus.
//
// [NewCollector] returns a [Collector], a prometheus.Collector over one or
// more peers: register it with a prometheus.Registerer and serve the
// registry (promhttp.HandlerFor). Every metric carries a peer label, the
// peer's name, and channel, destination or event labels where they apply;
// the metrics and their labels are listed on [Collector].
//
// Guarantees:
//   - Each collection (each scrape) reads peer.Peer.Stats once per peer and
//     reports that snapshot: the package starts no goroutine, keeps no state
//     between scrapes and adds nothing to the peers' hot paths.
//   - The set of descriptors is fixed when the Collector is made, and Collect
//     reports only metrics of those descriptors (a checked collector, as
//     prometheus.NewPedanticRegistry verifies).
//   - The counters are the peers' own, monotonic for a peer's lifetime; they
//     restart from zero with the process, which Prometheus' rate handles.
//   - The handler latency is a real Prometheus histogram,
//     meshmq_handler_duration_seconds, whose cumulative buckets are built from
//     peer.Histogram (peer.LatencyBounds, in seconds). It is reported for the
//     channels whose handler ran at least once.
//
// Peers given to one Collector, or to collectors registered in one registry,
// must have distinct names: two peers of one name would report the same
// series, which the registry refuses when it gathers.
//
// Replies have no channel; the peer counts them under the empty channel name,
// which the collector reports as [ReplyChannel]. Past 1,024 channels a peer
// counts the others together under peer.OtherChannels ("(other)"), so the
// channel label's cardinality is bounded.
//
// Importing this package is the only way the Prometheus client becomes a
// dependency: package peer does not import it.
package prom
