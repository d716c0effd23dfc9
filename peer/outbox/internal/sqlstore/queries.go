package sqlstore

import (
	"strconv"
	"strings"
)

// cols are a record's columns after seq, in the order scanRecord reads.
const cols = "id, channel, msg_key, dest_peer, dest_group, message, created, attempts"

// queries are the statements every dialect shares, rebound.
type queries struct {
	pendingMax  string
	pendingPage string
	deadDelete  string // the pending or outbox row a dead letter replaces
	deadInsert  string
	deadPage    string
	redriveTake string
	claim       string
	processed   string
	prune       string
}

func newQueries(d Dialect, t Tables) queries {
	r := func(q string) string {
		q = strings.NewReplacer("{m}", t.Messages, "{d}", t.Dead, "{p}", t.Processed, "{cols}", cols).Replace(q)
		return d.Rebind(q)
	}
	return queries{
		pendingMax: r(`SELECT COALESCE(MAX(seq), 0) FROM {m} WHERE owner = ?`),
		pendingPage: r(`SELECT seq, {cols} FROM {m}
			WHERE owner = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`),
		deadDelete: r(`DELETE FROM {m} WHERE seq = ? AND (owner = ? OR owner IS NULL)`),
		deadInsert: r(`INSERT INTO {d} (seq, owner, {cols}, reason, error, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING`),
		deadPage: r(`SELECT seq, {cols}, reason, error, at FROM {d}
			WHERE owner = ? AND (at > ? OR (at = ? AND seq > ?)) ORDER BY at, seq LIMIT ?`),
		redriveTake: r(`DELETE FROM {d} WHERE seq = ? AND owner = ? RETURNING seq, {cols}`),
		// The subquery picks the oldest rows this epoch has not taken; the
		// caller sorts what RETURNING gives (its order is unspecified).
		claim: r(`UPDATE {m} SET claim = ? WHERE seq IN (
			SELECT seq FROM {m} WHERE owner IS NULL AND claim IS DISTINCT FROM ? ORDER BY seq LIMIT ?)
			RETURNING seq, {cols}`),
		processed: r(`INSERT INTO {p} (consumer, id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
		prune:     r(`DELETE FROM {p} WHERE at < ?`),
	}
}

// RebindDollar turns ? placeholders into $1, $2, ... (PostgreSQL). The
// queries it is used on hold no ? in literals.
func RebindDollar(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
