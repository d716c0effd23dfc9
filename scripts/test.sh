#!/usr/bin/env bash
# The whole meshmq test suite, as CI runs it, on a fresh machine:
# installs what the tests need, then vets and runs every test under -race.
#
#   ./scripts/test.sh              # everything
#   FUZZTIME=60s ./scripts/test.sh # also fuzz each network decoder that long
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The libzmq interoperability tests drive a Python peer on Debian's
# python3-zmq (libzmq 4.3), which works only under /usr/bin/python3.
if ! /usr/bin/python3 -c 'import zmq, msgpack' 2>/dev/null; then
	log "installing python3-zmq and python3-msgpack"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-zmq python3-msgpack >/dev/null
fi
/usr/bin/python3 -c 'import zmq, msgpack; print("libzmq", zmq.zmq_version())'

# >>> dashboard: the browser test of package dashboard drives Debian's
# chromium, headless; it fails (never skips) without /usr/bin/chromium.
if [ ! -x /usr/bin/chromium ]; then
	log "installing chromium"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
fi
# <<< dashboard

# The partition suite (package chaos) puts peers in network namespaces with
# iproute2's ip and tc; it fails, never skips, without them (or without root).
if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
	log "installing iproute2"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q iproute2 >/dev/null
fi

# The durable-store tests run against a real PostgreSQL 15 (wal_level=logical),
# started here unless MESHMQ_TEST_POSTGRES names one already.
if [ -z "${MESHMQ_TEST_POSTGRES:-}" ]; then
	if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
		log "installing postgresql-15"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15 >/dev/null
	fi
	pgdir=$(mktemp -d /tmp/meshmq-pg.XXXXXX)
	trap './scripts/postgres.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
	MESHMQ_TEST_POSTGRES=$(./scripts/postgres.sh start "$pgdir")
	export MESHMQ_TEST_POSTGRES
	log "PostgreSQL 15 at $MESHMQ_TEST_POSTGRES"
fi

# >>> asyncapi: the official AsyncAPI 3.0.0 JSON schema, for package asyncapi's
# tests, which validate generated documents against it and fail without it.
# npm's @asyncapi/specs ships it bundled (schemas/3.0.0.json, every definition
# embedded), installed once into a cache directory unless
# MESHMQ_ASYNCAPI_SCHEMA names one already.
if [ -z "${MESHMQ_ASYNCAPI_SCHEMA:-}" ]; then
	asyncapi_specs="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/meshmq/asyncapi-specs-6.11.1"
	MESHMQ_ASYNCAPI_SCHEMA="$asyncapi_specs/node_modules/@asyncapi/specs/schemas/3.0.0.json"
	if [ ! -f "$MESHMQ_ASYNCAPI_SCHEMA" ]; then
		if ! command -v npm >/dev/null; then
			log "installing npm"
			as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >/dev/null
		fi
		log "installing @asyncapi/specs 6.11.1"
		mkdir -p "$asyncapi_specs"
		npm install --prefix "$asyncapi_specs" --no-save --no-audit --no-fund --loglevel=error @asyncapi/specs@6.11.1 >/dev/null
	fi
	export MESHMQ_ASYNCAPI_SCHEMA
	log "AsyncAPI 3.0.0 schema at $MESHMQ_ASYNCAPI_SCHEMA"
fi
# <<< asyncapi

log "go vet"
go vet ./...

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi

log "go test -race"
go test -race -count=1 -timeout 20m ./...

if [ -n "${FUZZTIME:-}" ]; then
	for target in internal/wire:FuzzDecode internal/wire:FuzzDecodeMessage \
		internal/transport:FuzzInbound internal/transport:FuzzCheckCommand \
		codec:FuzzMsgPackUnmarshal discovery:FuzzDecodeMeta channel:FuzzMatchTopic \
		peer/outbox/pglogtail:FuzzParseMessage peer/outbox/pglogtail:FuzzRecord peer/outbox/pglogtail:FuzzDecodeBytea \
		internal/z85:FuzzDecode internal/z85:FuzzEncode internal/curve:FuzzParseCommand internal/curve:FuzzParseMetadata \
		internal/curve:FuzzServerHello internal/curve:FuzzClientWelcome internal/curve:FuzzServerInitiate \
		internal/curve:FuzzClientReady internal/curve:FuzzSessionOpen; do
		pkg=${target%%:*} fn=${target##*:}
		log "fuzz $fn ($FUZZTIME)"
		go test -run '^$' -fuzz "^$fn\$" -fuzztime "$FUZZTIME" "./$pkg"
	done
fi
log "all tests passed"
