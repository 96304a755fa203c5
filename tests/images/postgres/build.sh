#!/usr/bin/env bash
# Builds the PostgreSQL 15 image: a Debian bookworm root made by debootstrap (no registry is
# reachable to pull one from), imported as an image. About 2.5 minutes.
# Usage (from the module root): tests/images/postgres/build.sh REF
set -euo pipefail
. tests/images/lib.sh
if ! command -v debootstrap >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=postgresql-15 bookworm "$root" >/dev/null
# The package's own cluster is never used: the entrypoint makes one where the container wants it.
rm -rf "$root/var/lib/postgresql/15" "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
install -m 0755 tests/images/postgres/entrypoint.sh "$root/usr/local/bin/entrypoint.sh"
import_rootfs "$root" "$1" '["/usr/local/bin/entrypoint.sh"]' --change 'USER postgres' \
	--change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/bin:/bin'
