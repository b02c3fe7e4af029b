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
