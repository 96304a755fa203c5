#!/usr/bin/env bash
# Builds the Vault image: Vault v1.14.8 (the last MPL-2.0 release; no Vault or OpenBao is packaged
# and no registry is reachable) built from its Go module, FROM scratch, serving a real server with
# file storage (config.hcl). The binary is cached per machine: building it takes about 7.5 minutes
# on 2 cores and needs about 6 GB of module and build cache, kept in a scratch folder removed after.
# Usage (from the module root): tests/images/vault/build.sh REF
set -euo pipefail
. tests/images/lib.sh
version=v1.14.8
sdk=v0.9.2
cache=${OMNI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/omnibase-infra}/vault-$version
bin=$cache/vault
here=$(cd "$(dirname "$0")" && pwd)
work='' root=''
# One trap for both folders: a second `trap ... EXIT` would replace the first and leak the build.
trap 'rm -rf "$work" "$root"' EXIT
if [ ! -x "$bin" ]; then
	echo "building Vault $version from its Go module (about 7.5 minutes measured, once per machine)"
	work=$(mktemp -d)
	# Vault's module graph is large: its own caches, writable so that the trap can remove them.
	export GOMODCACHE=$work/gomod GOCACHE=$work/gocache GOFLAGS="-buildvcs=false -modcacherw"
	dirof() { go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }
	src=$(dirof "github.com/hashicorp/vault@$version")
	sdksrc=$(dirof "github.com/hashicorp/vault/sdk@$sdk")
	[ -n "$src" ] && [ -n "$sdksrc" ] || { echo "could not download Vault $version or its sdk $sdk" >&2; exit 1; }
	mkdir -p "$work/vault" "$work/sdk"
	cp -r "$src/." "$work/vault/"
	cp -r "$sdksrc/." "$work/sdk/"
	chmod -R u+w "$work/vault" "$work/sdk"
	# Vault's in-tree sdk was never published; v0.9.2 is the nearest published one, short of what
	# 1.14.8 calls. The three changes (see ENVIRONMENT.md): the fencing HA backend and unfenced
	# writes, the request-role and original-body context keys, and no panic on the enterprise stub
	# paths that define a CreateOperation without an ExistenceCheck (a check added for 1.15).
	cp "$here/sdk_physical_fencing.go.txt" "$work/sdk/physical/fencing.go"
	cp "$here/sdk_logical_context.go.txt" "$work/sdk/logical/context_compat.go"
	sed -i '/Detect the coding error of attempting to define a CreateOperation/,/^\t\t}$/d' "$work/sdk/framework/backend.go"
	if grep -q 'defines a CreateOperation but no ExistenceCheck' "$work/sdk/framework/backend.go"; then
		echo "could not remove the ExistenceCheck panic from sdk $sdk's framework/backend.go" >&2
		exit 1
	fi
	(cd "$work/vault" && go mod edit \
		-dropreplace=github.com/hashicorp/vault/api \
		-dropreplace=github.com/hashicorp/vault/api/auth/approle \
		-dropreplace=github.com/hashicorp/vault/api/auth/kubernetes \
		-dropreplace=github.com/hashicorp/vault/api/auth/userpass \
		-dropreplace=github.com/hashicorp/vault/sdk \
		-require=github.com/hashicorp/vault/api@v1.10.0 \
		-replace=github.com/hashicorp/vault/sdk="$work/sdk" &&
		CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags='-s -w' -o "$work/vault.bin" .)
	mkdir -p "$cache"
	mv "$work/vault.bin" "$bin"
fi
root=$(mktemp -d)
mkdir -p "$root/tmp" "$root/vault/data" && chmod 1777 "$root/tmp"
cp "$bin" "$root/vault/vault"
cp "$here/config.hcl" "$root/vault/config.hcl"
import_rootfs "$root" "$1" '["/vault/vault"]' --change 'CMD ["server", "-config=/vault/config.hcl"]'
