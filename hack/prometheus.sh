#!/usr/bin/env bash
# Prints the path of Prometheus's server, installed from Debian's packages
# when it is not there: the metrics tests scrape a hub and a spoke with it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
need prometheus prometheus
command -v prometheus
