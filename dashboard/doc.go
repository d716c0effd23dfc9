// Package dashboard serves a live web view of one meshmq peer and of the
// cluster as that peer sees it.
//
// [New] returns an http.Handler serving two paths:
//
//   - "/": a single HTML page, with its style and script inlined (embedded
//     in the binary; no CDN, no framework, no other request), that polls
//     "api/state" every refresh interval (WithRefresh, one second by
//     default) and renders it;
//   - "/api/state": the data, as JSON: a [State].
//
// The page shows:
//
//   - the members: this peer, the others alive in its view, and those seen
//     gone in the last ten minutes (marked left or failed when the peer's
//     membership counts tell which), each with its endpoint, services,
//     subscriptions, whether this peer has a data connection to it, whether
//     it advertises a CURVE key, and what this peer sent it;
//   - the channels: send and handle rates in messages per second, with the
//     last 60 readings' as a sparkline, counts sent, acknowledged, handled, in
//     flight, retried, dead-lettered, duplicates and handler errors, and
//     the handler latency's p50 and p99;
//   - the peer-wide totals and rates, and the security status (CURVE,
//     encrypted gossip, what is not secured, refused connections).
//
// The page uses relative URLs only, so the handler can be mounted under any
// prefix with http.StripPrefix (see the example).
//
// # Rates
//
// Rates are computed on the server, so that the JSON has them too, from two
// readings of the peer's counters: the current one and one taken by an
// earlier request about one refresh interval before (the newest at least
// that old that was kept; readings are kept a quarter interval apart). The
// span is State.RateWindow: about the refresh interval while a page polls;
// after a pause with no request, the first answer's rates average over the
// pause; with no earlier reading, rates are 0 and RateWindow is 0. Handler
// latency quantiles are estimated from the runs within the same window, or
// from every run since the peer started when none ran in it
// (Latency.Recent). Answers are reused for requests arriving within a few
// milliseconds of each other (a tenth of the interval, at most 50 ms), so
// many open pages read the peer's statistics at most that often.
//
// # Guarantees
//
//   - Read-only: the handler reads peer.Peer.Stats, Members and
//     Advertisement, and changes nothing in the peer. It answers GET and
//     HEAD only.
//   - No goroutines: the handler starts none; all its work runs in the
//     request's goroutine, so nothing outlives a request, the peer, or the
//     server. It needs no Close. After the peer is closed it keeps
//     answering with the peer's last counts.
//   - Safe for concurrent requests: the readings shared between requests
//     are guarded by a mutex, held for one reading.
//   - Bounded: it keeps at most a few readings, and at most 32 departed
//     members for ten minutes.
//   - No injection: member names, endpoints, services, topics and
//     subscription groups come from the network. The page puts them into
//     the document as text only (textContent, Text nodes and inert
//     attribute values, never innerHTML), the JSON escapes <, > and &, and
//     the title (WithTitle) is HTML-escaped.
//   - Headers: the page is sent with a Content-Security-Policy admitting
//     only its own inline script and style (by hash) and requests to its
//     own origin (default-src 'none'; frame-ancestors 'none'), the API with
//     Content-Type application/json and Cache-Control no-store; both with
//     X-Content-Type-Options nosniff and Referrer-Policy no-referrer.
//
// The dashboard shows what it serves to anyone who can reach it: member
// names, endpoints and keys, channel names and traffic. Mount it on an
// administrative listener, or behind authentication.
package dashboard
