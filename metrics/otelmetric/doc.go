// Package otelmetric exports meshmq peers' statistics as OpenTelemetry
// metrics.
//
// [Register] registers asynchronous (observable) instruments for one peer on
// a metric.MeterProvider and one callback that reads the peer's Stats; the
// [HandleMiddleware] records handler run times in a synchronous histogram,
// meshmq.handler.duration, since OpenTelemetry has no asynchronous
// histogram. Names follow OpenTelemetry's conventions: dotted, lower-case,
// no _total suffix, UCUM units ("{message}", "By", "s"):
//
//	meshmq.channel.sent               counter        {message}       meshmq.peer, meshmq.channel
//	meshmq.channel.acked              counter        {message}       meshmq.peer, meshmq.channel
//	meshmq.channel.retried            counter        {message}       meshmq.peer, meshmq.channel
//	meshmq.channel.dead_lettered      counter        {message}       meshmq.peer, meshmq.channel
//	meshmq.channel.handled            counter        {message}       meshmq.peer, meshmq.channel
//	meshmq.channel.handler_errors     counter        {error}         meshmq.peer, meshmq.channel
//	meshmq.channel.duplicates         counter        {message}       meshmq.peer, meshmq.channel
//	meshmq.channel.in_flight          updowncounter  {message}       meshmq.peer, meshmq.channel
//	meshmq.channel.buffer.size        updowncounter  By              meshmq.peer, meshmq.channel
//	meshmq.destination.sent           counter        {message}       meshmq.peer, meshmq.destination
//	meshmq.destination.acked          counter        {message}       meshmq.peer, meshmq.destination
//	meshmq.destination.retried        counter        {message}       meshmq.peer, meshmq.destination
//	meshmq.destination.dead_lettered  counter        {message}       meshmq.peer, meshmq.destination
//	meshmq.destination.in_flight      updowncounter  {message}       meshmq.peer, meshmq.destination
//	meshmq.destination.buffer.size    updowncounter  By              meshmq.peer, meshmq.destination
//	meshmq.destination.connected      gauge          1               meshmq.peer, meshmq.destination
//	meshmq.members                    updowncounter  {member}        meshmq.peer
//	meshmq.member.events              counter        {event}         meshmq.peer, meshmq.member.event
//	meshmq.security.refused           counter        {connection}    meshmq.peer
//	meshmq.security.unidentified      counter        {connection}    meshmq.peer
//	meshmq.security.insecure          gauge          1               meshmq.peer
//	meshmq.sent_best_effort           counter        {message}       meshmq.peer
//	meshmq.transmissions              counter        {transmission}  meshmq.peer
//	meshmq.rejected                   counter        {message}       meshmq.peer
//	meshmq.late_replies               counter        {reply}         meshmq.peer
//	meshmq.cached_replies             counter        {reply}         meshmq.peer
//	meshmq.failed_over                counter        {message}       meshmq.peer
//	meshmq.published                  counter        {event}         meshmq.peer
//	meshmq.unheard                    counter        {event}         meshmq.peer
//	meshmq.lost_best_effort           counter        {event}         meshmq.peer
//	meshmq.restored                   counter        {message}       meshmq.peer
//	meshmq.relayed                    counter        {message}       meshmq.peer
//	meshmq.kept                       counter        {message}       meshmq.peer
//	meshmq.in_flight                  updowncounter  {message}       meshmq.peer
//	meshmq.buffer.size                updowncounter  By              meshmq.peer
//	meshmq.retained                   updowncounter  {event}         meshmq.peer
//	meshmq.held_events                updowncounter  {event}         meshmq.peer
//	meshmq.handler.duration           histogram      s               meshmq.channel, error.type (failed runs)
//
// Guarantees:
//   - Register reads peer.Peer.Stats once per collection, in one callback,
//     and observes every figure from that one snapshot. It starts no
//     goroutine and keeps no state between collections; the stop function
//     it returns unregisters the callback, after which the peer is no longer
//     observed.
//   - Counters are the peer's own, monotonic for its lifetime (cumulative
//     sums); in-flight and buffer figures are up-down counters (they add up
//     across channels); booleans are gauges of 0 or 1.
//   - The middleware measures each run of the handlers it wraps, errors and
//     panics included (a panic is recorded, then passed on), with the
//     explicit bucket boundaries of peer.LatencyBounds (seconds), so its
//     buckets match the peer's own histogram.
//
// Every observation carries the attribute meshmq.peer (the peer's name),
// and meshmq.channel, meshmq.destination or meshmq.member.event where it
// applies. Replies, which have no channel, are observed under the channel
// [ReplyChannel]. Observations are made with the MeterProvider given, or
// with otel's global one when it is nil.
//
// Importing this package is the only way OpenTelemetry's metric API
// becomes a dependency: package peer does not import it.
package otelmetric
