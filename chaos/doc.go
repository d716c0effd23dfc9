// Package chaos is meshmq's multi-process chaos suite: it runs real peer
// programs (internal/chaospeer, built by the tests with go build) as OS
// processes, kills them with SIGKILL and stops them with SIGTERM at seeded
// random moments while traffic flows, cuts their network links in network
// namespaces, and checks what their logs say happened against the
// library's guarantees.
//
// Every process appends one line per event to its own log (Log: O_APPEND,
// one write(2) per line): a handler before it returns nil, a sender after
// Send returned nil, the dead-letter callback, a requester's outcome per
// request. The driver logs its own kills, stops, starts, cuts and heals.
// Check reads them all and counts:
//
//   - lost: messages logged as sent and never handled (per group);
//   - order, per group and key: first handlings out of seq order, and a
//     re-handling followed by anything but the next seq;
//   - duplicates, each of which a kill of the handling incarnation or of
//     the sender (or a cut of either's link), or the sender's failure
//     detector dropping the handler from its view, must explain;
//   - requests that ended with neither a reply nor an error;
//   - dead letters.
//
// The tests (TestChaos on loopback, TestPartitions in network namespaces,
// as root) run in the normal suite in a short form; MESHMQ_CHAOS=long runs
// the long form. MESHMQ_CHAOS_SEED replays a run's schedule;
// MESHMQ_CHAOS_MESSAGES, _KILLS, _CUTS, _KEYS and _DURATION size a run. The
// README's "Chaos and partition suites" has the commands.
package chaos
