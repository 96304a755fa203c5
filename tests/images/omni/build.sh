#!/usr/bin/env bash
# Builds the project's own image from deploy/Dockerfile, the image a deployment runs, so every
# `make test` exercises that file.
# Usage (from the module root): tests/images/omni/build.sh REF
set -euo pipefail
exec bash deploy/build.sh "$1"
