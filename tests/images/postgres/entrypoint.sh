#!/bin/sh
# entrypoint.sh starts PostgreSQL 15 on $PGPORT (default 5432), making the cluster on first start.
# Trust authentication and no fsync: a throwaway server for tests, never for data that matters.
set -e
PGDATA=/var/lib/postgresql/data
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	initdb -D "$PGDATA" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >/dev/null
fi
exec postgres -D "$PGDATA" -p "${PGPORT:-5432}" -c listen_addresses='*' \
	-c unix_socket_directories=/tmp -c max_connections=500 \
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off "$@"
