#!/usr/bin/env bash
# Builds the Kafka-protocol broker image: franz-go's kfake in a small static program, FROM scratch.
# Usage (from the module root): tests/images/kafka/build.sh REF
set -euo pipefail
. tests/images/lib.sh
static_go_image ./tests/images/kafka-broker "$1"
