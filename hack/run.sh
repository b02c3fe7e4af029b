#!/usr/bin/env bash
# `make run`: a hub, a local spoke and the example pipeline on embedded defaults.
# State lives in .switchyard/ (PostgreSQL data, logs, the spoke's work dir) and is
# reused by the next run. The hub and spoke are left running; `make stop` stops them.
# SWITCHYARD_STATE (another state directory), SWITCHYARD_BIN (where switchyard
# and fly are) and SWITCHYARD_LISTEN let a test run it beside a person's own.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"
. "$here/lib.sh"
need curl curl
state=${SWITCHYARD_STATE:-$root/.switchyard}
bin=${SWITCHYARD_BIN:-$root/bin}
mkdir -p "$state"
listen=${SWITCHYARD_LISTEN:-127.0.0.1:8080}
url=http://$listen

"$here/stop.sh" quiet
db=$("$here/postgres.sh" ensure "$state/postgres")
echo "==> PostgreSQL in .switchyard/postgres"

if curl -sf "$url/healthz" >/dev/null 2>&1 || curl -s -o /dev/null "$url" 2>/dev/null; then
  log "something already listens on $listen: stop it or set SWITCHYARD_LISTEN"; exit 1
fi
mkdir -p "$state/cli"  # fly sync downloads this fly
arch=$(uname -m); case $arch in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
cp "$bin/fly" "$state/cli/fly-$(uname -s | tr '[:upper:]' '[:lower:]')-$arch"
spawn hub "$state" "$bin/switchyard" hub --listen "$listen" --database-url "$db" \
  --add-local-user admin:admin --main-team-local-user admin --spoke-join-token make-run-token \
  --artifact-store "file://$state/artifacts" --cli-artifacts-dir "$state/cli"
for _ in $(seq 1 120); do curl -sf "$url/healthz" >/dev/null 2>&1 && break; sleep 0.25; done
curl -sf "$url/healthz" >/dev/null || { log "the hub did not start:"; tail -20 "$state/hub.log" >&2; exit 1; }
echo "==> hub on $url (log: .switchyard/hub.log)"
spawn spoke "$state" "$bin/switchyard" spoke --hub-url "$url" --join-token make-run-token --name local-spoke \
  --work-dir "$state/spoke"
echo "==> spoke local-spoke (log: .switchyard/spoke.log)"

export FLY_HOME=$state
fly() { "$bin/fly" -t switchyard "$@"; }
fly login -c "$url" -u admin -p admin >/dev/null
fly set-pipeline -n -p hello -c examples/hello.yml >/dev/null
fly unpause-pipeline -p hello >/dev/null
echo "==> fly -t switchyard trigger-job -j hello/hello --watch"
fly trigger-job -j hello/hello --watch

cat <<MSG

The hub is still running at $url with a local spoke.

The web UI: $url/teams/main/pipelines/hello (sign in as admin, password admin);
the build that just ran: $url/teams/main/pipelines/hello/jobs/hello

Use it with fly:

    fly -t switchyard login -c $url -u admin -p admin
    fly -t switchyard pipelines

Stop them with \`make stop\`; a new \`make run\` reuses .switchyard/.
MSG
