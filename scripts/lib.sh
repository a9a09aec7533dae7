# Shared helpers for the scripts: paths, logging, "install only if missing".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
TOOLS="$ROOT/.tools"
PY="$VENV/bin/python"
CENTRIFUGO_VERSION="6.9.1"
log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

# Install Debian packages that are missing (apt-get update once, only when something is).
apt_ensure() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The folder of local state (VAR_DIR, relative to the project unless absolute), as in the settings.
var_dir() {
  local dir; dir="$(env_get VAR_DIR)"; dir="${dir:-var}"
  case "$dir" in /*) printf '%s' "$dir" ;; *) printf '%s' "$ROOT/$dir" ;; esac
}

# Read one variable from the environment, else from .env, else a default. Of duplicate lines in
# .env the first wins, as in export_env_defaults and Django's settings.
env_get() {
  local name="$1" default="${2:-}"
  if [ -n "${!name:-}" ]; then printf '%s' "${!name}"; return; fi
  if [ -f "$ROOT/.env" ]; then
    local line; line=$(grep -m1 -E "^${name}=" "$ROOT/.env" || true)
    if [ -n "$line" ]; then printf '%s' "${line#*=}"; return; fi
  fi
  printf '%s' "$default"
}

# Export every variable of .env that the environment does not already set: the environment wins,
# as in Django's settings (honcho's own -e would let .env override it).
export_env_defaults() {
  [ -f "$ROOT/.env" ] || return 0
  local line name
  while IFS= read -r line || [ -n "$line" ]; do
    [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || continue
    name="${line%%=*}"
    [ -n "${!name+x}" ] || export "$name=${line#*=}"
  done < "$ROOT/.env"
}
