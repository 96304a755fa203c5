# lib.sh is sourced by every image's build.sh: helpers to turn a folder into an image.
# shellcheck shell=bash

# import_rootfs DIR REF ENTRYPOINT_JSON [--change ...]: imports DIR as the image REF.
# docker import needs no registry and no base image, which this machine cannot pull.
import_rootfs() {
	local dir=$1 ref=$2 entrypoint=$3
	shift 3
	tar --numeric-owner -C "$dir" -c . | docker import --change "ENTRYPOINT $entrypoint" "$@" - "$ref" >/dev/null
	echo "imported $ref"
}

# static_go_image PKG REF: builds PKG as a static binary and imports it into a FROM-scratch image
# whose entrypoint is the binary, with an empty /tmp.
static_go_image() {
	local pkg=$1 ref=$2 name root status=0
	name=$(basename "$pkg")
	root=$(mktemp -d)
	mkdir -p "$root/tmp" && chmod 1777 "$root/tmp"
	{ CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$root/$name" "$pkg" &&
		import_rootfs "$root" "$ref" "[\"/$name\"]"; } || status=$?
	rm -rf "$root"
	return "$status"
}
