package prom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshmq/meshmq/peer"
)

// DefaultNamespace prefixes every metric name unless Opts.Namespace says
// otherwise.
const DefaultNamespace = "meshmq"

// ReplyChannel is the channel label of replies (request/reply answers),
// which have no channel of their own.
const ReplyChannel = peer.ReplyChannel

// Opts configures a Collector.
type Opts struct {
	// Namespace prefixes the metric names; "" means DefaultNamespace.
	Namespace string
	// ConstLabels are added to every metric, such as a service or zone.
	// They must not be named peer, channel, destination or event.
	ConstLabels prometheus.Labels
}

// Collector is a prometheus.Collector over peers: each Collect reads every
// peer's Stats once and reports the snapshot. It starts no goroutine and is
// safe for concurrent use.
//
// The metrics (with the default namespace; labels in braces):
//
//	meshmq_channel_sent_total{peer,channel}                   counter
//	meshmq_channel_acked_total{peer,channel}                  counter
//	meshmq_channel_retried_total{peer,channel}                counter
//	meshmq_channel_dead_lettered_total{peer,channel}          counter
//	meshmq_channel_handled_total{peer,channel}                counter
//	meshmq_channel_handler_errors_total{peer,channel}         counter
//	meshmq_channel_duplicates_total{peer,channel}             counter
//	meshmq_channel_in_flight{peer,channel}                    gauge
//	meshmq_channel_buffer_bytes{peer,channel}                 gauge
//	meshmq_handler_duration_seconds{peer,channel}             histogram
//	meshmq_destination_sent_total{peer,destination}           counter
//	meshmq_destination_acked_total{peer,destination}          counter
//	meshmq_destination_retried_total{peer,destination}        counter
//	meshmq_destination_dead_lettered_total{peer,destination}  counter
//	meshmq_destination_in_flight{peer,destination}            gauge
//	meshmq_destination_buffer_bytes{peer,destination}         gauge
//	meshmq_destination_connected{peer,destination}            gauge (1 or 0)
//	meshmq_members{peer}                                      gauge
//	meshmq_member_events_total{peer,event}                    counter (event: joined, left, failed)
//	meshmq_security_refused_total{peer}                       counter
//	meshmq_security_unidentified_total{peer}                  counter
//	meshmq_security_insecure{peer}                            gauge (1 or 0)
//	meshmq_sent_best_effort_total{peer}                       counter
//	meshmq_transmissions_total{peer}                          counter
//	meshmq_rejected_total{peer}                               counter
//	meshmq_late_replies_total{peer}                           counter
//	meshmq_cached_replies_total{peer}                         counter
//	meshmq_failed_over_total{peer}                            counter
//	meshmq_published_total{peer}                              counter
//	meshmq_unheard_total{peer}                                counter
//	meshmq_lost_best_effort_total{peer}                       counter
//	meshmq_restored_total{peer}                               counter
//	meshmq_relayed_total{peer}                                counter
//	meshmq_kept_total{peer}                                   counter
//	meshmq_in_flight{peer}                                    gauge
//	meshmq_buffer_bytes{peer}                                 gauge
//	meshmq_retained{peer}                                     gauge
//	meshmq_held_events{peer}                                  gauge
//
// Peer-wide totals of sent, acked, retried, dead-lettered, handled, handler
// errors and duplicates are not reported apart: sum the channel metrics over
// the channel label (sum without (channel)).
type Collector struct {
	peers    []*peer.Peer
	d        descs
	describe []*prometheus.Desc
}

// NewCollector returns a Collector over peers with the default options.
func NewCollector(peers ...*peer.Peer) *Collector {
	return NewCollectorOpts(Opts{}, peers...)
}

// NewCollectorOpts returns a Collector over peers configured by o. A
// namespace or constant label that makes invalid descriptors (a constant
// label named like a variable one) fails the collector's registration.
func NewCollectorOpts(o Opts, peers ...*peer.Peer) *Collector {
	ns := o.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	c := &Collector{peers: append([]*peer.Peer(nil), peers...), d: newDescs(ns, o.ConstLabels)}
	c.describe = c.d.all()
	return c
}

// Describe sends the descriptors of every metric Collect may report.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.describe {
		ch <- d
	}
}

// Collect reads each peer's Stats and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.peers {
		c.collect(ch, p.Name(), p.Stats())
	}
}

func (c *Collector) collect(ch chan<- prometheus.Metric, name string, s peer.Stats) {
	for _, m := range c.d.peer {
		send(ch, m.desc, m.typ, m.value(&s), name)
	}
	for _, ev := range memberEvents {
		send(ch, c.d.memberEvents, prometheus.CounterValue, float64(ev.count(&s.Members)), name, ev.name)
	}
	for chName, cs := range s.Channels {
		if chName == "" {
			chName = ReplyChannel
		}
		for _, m := range c.d.channel {
			send(ch, m.desc, m.typ, m.value(&cs), name, chName)
		}
		if cs.HandlerLatency.Count > 0 {
			ch <- histogram(c.d.handlerDuration, cs.HandlerLatency, name, chName)
		}
	}
	for dest, ds := range s.Destinations {
		for _, m := range c.d.destination {
			send(ch, m.desc, m.typ, m.value(&ds), name, dest)
		}
	}
}

// send sends one constant metric, or an invalid one carrying the error.
func send(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}
