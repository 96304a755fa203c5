#!/usr/bin/env bash
# Builds the project's own image: the static omni binary, FROM scratch.
# Usage (from the module root): tests/images/omni/build.sh REF
set -euo pipefail
. tests/images/lib.sh
static_go_image ./cmd/omni "$1"
