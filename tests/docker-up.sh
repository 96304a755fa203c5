#!/usr/bin/env bash
# docker-up.sh makes a Docker engine answer on this machine, for testcontainers-go.
# Idempotent: an engine that already answers is left alone. Installs Debian's docker.io when no
# engine is installed, then starts dockerd in the background (overlay2, falling back to vfs).
set -euo pipefail

if docker info >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "docker-up: no Docker engine answers and starting one needs root" >&2
	exit 1
fi
if ! command -v dockerd >/dev/null; then
	echo "docker-up: installing Debian's docker.io"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

log=/var/log/omnibase-dockerd.log
start() {
	echo "docker-up: starting dockerd ($*)"
	nohup dockerd "$@" >"$log" 2>&1 &
	for _ in $(seq 1 60); do
		if docker info >/dev/null 2>&1; then
			echo "docker-up: engine answers"
			return 0
		fi
		sleep 1
	done
	return 1
}

if ! pgrep -x dockerd >/dev/null; then
	start --storage-driver=overlay2 && exit 0
	echo "docker-up: overlay2 did not come up, falling back to vfs; last lines of $log:" >&2
	tail -n 5 "$log" >&2 || true
	pkill -x dockerd || true
	sleep 2
	start --storage-driver=vfs && exit 0
else
	# A dockerd is starting (another caller): wait for it.
	for _ in $(seq 1 60); do
		docker info >/dev/null 2>&1 && exit 0
		sleep 1
	done
fi
echo "docker-up: no Docker engine answers; see $log" >&2
tail -n 20 "$log" >&2 || true
exit 1
