# Shared helpers for the hack/ scripts; source it, do not run it.
# Caches live outside the repository, keyed by version, so a warm machine never rebuilds.

cache_root() {
  local d=${SWITCHYARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchyard}
  mkdir -p "$d"
  echo "$d"
}

log() { echo "hack: $*" >&2; }

# free_port prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 - 2>/dev/null <<'PY' || shuf -i 20000-60000 -n 1
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# publish moves a finished build directory into its cache slot atomically.
publish() {
  local tmp=$1 dest=$2
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

# spawn NAME DIR CMD... starts CMD in its own session, logging to DIR/NAME.log,
# with its pid in DIR/NAME.pid.
spawn() {
  local name=$1 dir=$2; shift 2
  setsid "$@" >"$dir/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}

# stop_pidfile FILE stops the process whose pid FILE holds: TERM, then KILL after 10 s.
stop_pidfile() {
  local pid
  [ -f "$1" ] || return 0
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
}

# need CMD PACKAGE installs a Debian package when a command is missing.
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2 from Debian's packages (for $1)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "$2" >&2 || { apt-get update -q >&2 && apt-get install -y -q "$2" >&2; }
}
