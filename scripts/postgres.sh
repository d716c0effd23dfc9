#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 for the tests and prints its DSN:
#
#   export MESHMQ_TEST_POSTGRES=$(./scripts/postgres.sh start /tmp/meshmq-pg)
#   ./scripts/postgres.sh stop /tmp/meshmq-pg
#
# The server runs with wal_level=logical (for the log-tailing relay), listens
# on 127.0.0.1 at a free port, and trusts local connections. initdb and
# pg_ctl refuse to run as root, so as root they run as the postgres user.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
cmd=${1:?start or stop}
dir=${2:?directory}

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
start)
	if [ ! -x "$PGBIN/initdb" ]; then
		echo "postgres.sh: no PostgreSQL 15 in $PGBIN (apt-get install postgresql-15)" >&2
		exit 1
	fi
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		useradd --system --no-create-home postgres
	fi
	mkdir -p "$dir"
	if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	if [ ! -d "$dir/data" ]; then
		as_owner "$PGBIN/initdb" -D "$dir/data" -U meshmq -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
		"-p $port -k $dir -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_replication_slots=64 -c max_wal_senders=64 -c max_connections=300" \
		>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
	echo "postgres://meshmq@127.0.0.1:$port/postgres?sslmode=disable"
	;;
stop)
	as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	;;
*)
	echo "usage: postgres.sh start|stop DIR" >&2
	exit 2
	;;
esac
