package otelmetric

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/meshmq/meshmq/peer"
)

// Register registers the observable instruments of p's statistics on mp (on
// otel's global MeterProvider if mp is nil), observed by one callback that
// reads p.Stats once per collection. It starts no goroutine. stop
// unregisters the callback: p is no longer observed. Register p once per
// MeterProvider; several peers may be registered on one provider, each
// observed under its own meshmq.peer.
func Register(mp metric.MeterProvider, p *peer.Peer, opts ...Option) (stop func() error, err error) {
	if p == nil {
		return nil, errors.New("otelmetric: Register: nil peer")
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	c := configure(opts)
	m := mp.Meter(ScopeName)
	peerInsts, err1 := createAll(m, peerSpecs)
	chanInsts, err2 := createAll(m, channelSpecs)
	destInsts, err3 := createAll(m, destinationSpecs)
	events, err4 := create(m, memberEventsSpec)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, fmt.Errorf("otelmetric: creating instruments: %w", err)
	}

	obs := make([]metric.Observable, 0, len(peerInsts)+len(chanInsts)+len(destInsts)+1)
	for _, in := range peerInsts {
		obs = append(obs, in.obs)
	}
	for _, in := range chanInsts {
		obs = append(obs, in.obs)
	}
	for _, in := range destInsts {
		obs = append(obs, in.obs)
	}
	obs = append(obs, events.obs)

	name := p.Name()
	peerSet := c.set(PeerKey.String(name))
	eventSets := make([]metric.ObserveOption, len(memberEvents))
	for i, ev := range memberEvents {
		eventSets[i] = metric.WithAttributeSet(c.set(PeerKey.String(name), MemberEventKey.String(ev.name)))
	}
	cb := func(_ context.Context, o metric.Observer) error {
		s := p.Stats()
		at := metric.WithAttributeSet(peerSet)
		for _, in := range peerInsts {
			o.ObserveInt64(in.obs, in.value(&s), at)
		}
		for i, ev := range memberEvents {
			o.ObserveInt64(events.obs, int64(ev.count(&s.Members)), eventSets[i])
		}
		for ch, cs := range s.Channels {
			at := metric.WithAttributeSet(c.set(PeerKey.String(name), ChannelKey.String(channelName(ch))))
			for _, in := range chanInsts {
				o.ObserveInt64(in.obs, in.value(&cs), at)
			}
		}
		for dest, ds := range s.Destinations {
			at := metric.WithAttributeSet(c.set(PeerKey.String(name), DestinationKey.String(dest)))
			for _, in := range destInsts {
				o.ObserveInt64(in.obs, in.value(&ds), at)
			}
		}
		return nil
	}
	reg, err := m.RegisterCallback(cb, obs...)
	if err != nil {
		return nil, fmt.Errorf("otelmetric: registering the callback: %w", err)
	}
	return reg.Unregister, nil
}
