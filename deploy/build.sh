#!/usr/bin/env bash
# build.sh builds the omni image from deploy/Dockerfile: the static binary and the host's CA bundle
# are put in a build context of their own (nothing else of the checkout is sent to the engine),
# then `docker build` runs. FROM scratch needs no registry.
# Usage (from anywhere): deploy/build.sh [REF]   (default omnibase-infra/omni:dev)
# CA_BUNDLE names another bundle than /etc/ssl/certs/ca-certificates.crt.
set -euo pipefail
cd "$(dirname "$0")/.."
ref=${1:-omnibase-infra/omni:dev}
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
if [ ! -r "$ca" ] && [ -z "${CA_BUNDLE:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "installing ca-certificates for the image's CA bundle"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ca-certificates >/dev/null
fi
if [ ! -r "$ca" ]; then
	echo "no CA bundle at $ca: install ca-certificates or set CA_BUNDLE" >&2
	exit 1
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/rootfs/tmp"
chmod 1777 "$context/rootfs/tmp"
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$context/omni" ./cmd/omni
cp "$ca" "$context/ca-certificates.crt"
cp deploy/Dockerfile "$context/Dockerfile"
# The legacy builder warns that it is deprecated on every build: show its output only on failure.
if ! out=$(docker build --quiet --tag "$ref" "$context" 2>&1); then
	echo "$out" >&2
	exit 1
fi
echo "built $ref"
