#!/usr/bin/env bash
# Prints the path of OpenSSH's sshd, installed from Debian's packages when it
# is not there: the git resource's tests serve repositories over SSH with it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
sshd=/usr/sbin/sshd
if [ ! -x "$sshd" ]; then
  log "installing openssh-server from Debian's packages (for sshd)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q openssh-server >&2 || { apt-get update -q >&2 && apt-get install -y -q openssh-server >&2; }
fi
echo "$sshd"
