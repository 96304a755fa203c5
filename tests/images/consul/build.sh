#!/usr/bin/env bash
# Builds the Consul image: Consul built from its Go module (Consul is not packaged in Debian and no
# registry is reachable), FROM scratch. The binary is cached per machine: building it takes
# 6 to 7 minutes on 2 cores with an empty Go build cache (measured).
# Usage (from the module root): tests/images/consul/build.sh REF
set -euo pipefail
. tests/images/lib.sh
version=v1.21.0 # v1.22.0 does not build this way: its sub-module versions are not published.
cache=${OMNI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/omnibase-infra}/consul-$version
bin=$cache/consul
work='' root=''
# One trap for both folders: a second `trap ... EXIT` would replace the first and leak the source copy.
trap 'rm -rf "$work" "$root"' EXIT
if [ ! -x "$bin" ]; then
	echo "building Consul $version from its Go module (6 to 7 minutes measured, once per machine)"
	src=$(go mod download -json "github.com/hashicorp/consul@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[ -n "$src" ] || { echo "could not download github.com/hashicorp/consul@$version" >&2; exit 1; }
	work=$(mktemp -d)
	cp -r "$src/." "$work/"
	chmod -R u+w "$work"
	# The module's replace directives point at sub-folders; use the published sub-modules instead.
	(cd "$work" && go mod edit \
		-dropreplace=github.com/hashicorp/consul/api \
		-dropreplace=github.com/hashicorp/consul/sdk \
		-dropreplace=github.com/hashicorp/consul/proto-public \
		-dropreplace=github.com/hashicorp/consul/envoyextensions \
		-dropreplace=github.com/hashicorp/consul/troubleshoot &&
		CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags='-s -w' -o "$work/consul.bin" .)
	mkdir -p "$cache"
	mv "$work/consul.bin" "$bin"
fi
root=$(mktemp -d)
mkdir -p "$root/tmp" "$root/consul/data" && chmod 1777 "$root/tmp"
cp "$bin" "$root/consul/consul"
import_rootfs "$root" "$1" '["/consul/consul"]'
