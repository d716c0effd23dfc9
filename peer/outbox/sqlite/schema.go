package sqlite

// ddl is the tables, {p} standing for the prefix. Seqs of dead letters
// come from the messages table's AUTOINCREMENT (see dialect.NewSeq), which
// never reuses a value, so they are unique with the messages' seqs.
const ddl = `
CREATE TABLE IF NOT EXISTS {p}_messages (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	owner TEXT,
	claim TEXT,
	id TEXT NOT NULL,
	channel TEXT NOT NULL,
	msg_key TEXT NOT NULL DEFAULT '',
	dest_peer TEXT NOT NULL DEFAULT '',
	dest_group TEXT NOT NULL DEFAULT '',
	message BLOB NOT NULL,
	created INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0
);
-- No index on owner: every append and ack would maintain it, for Pending
-- alone, which runs once at a peer's start and scans by seq.
CREATE INDEX IF NOT EXISTS {p}_messages_outbox ON {p}_messages (seq) WHERE owner IS NULL;
CREATE TABLE IF NOT EXISTS {p}_dead (
	seq INTEGER PRIMARY KEY,
	owner TEXT,
	claim TEXT,
	id TEXT NOT NULL,
	channel TEXT NOT NULL,
	msg_key TEXT NOT NULL DEFAULT '',
	dest_peer TEXT NOT NULL DEFAULT '',
	dest_group TEXT NOT NULL DEFAULT '',
	message BLOB NOT NULL,
	created INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	reason TEXT NOT NULL DEFAULT '',
	error TEXT NOT NULL DEFAULT '',
	at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS {p}_dead_owner ON {p}_dead (owner, at, seq);
CREATE TABLE IF NOT EXISTS {p}_processed (
	consumer TEXT NOT NULL,
	id TEXT NOT NULL,
	at INTEGER NOT NULL,
	PRIMARY KEY (consumer, id)
);
CREATE INDEX IF NOT EXISTS {p}_processed_at ON {p}_processed (at);
`
