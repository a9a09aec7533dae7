#!/usr/bin/env bash
# Checks run before anything is installed or started, so that setup and make up stop at once,
# naming what is missing and the command that gets it, instead of late, inside a Go build or with
# every process of honcho stopped by one taken port. Every failing check is listed, then the exit
# status is 1. Quiet and fast (no network) when everything is there.
#
#   scripts/preflight.sh setup [--test|--prod]  what scripts/setup.sh (which runs this first) still
#                                          needs: Debian 12+, root or sudo for apt-get, Python 3.11+
#                                          with venv, Go, npm, disk space. Prints on stdout the
#                                          Debian packages setup is to install (one a line).
#   scripts/preflight.sh up                make up's ports (environment, then .env) are free
#   scripts/preflight.sh prod              make prod's: make up's and the proxy's (HTTPS_PORT, HTTP_PORT)
#   scripts/preflight.sh ports NAME=PORT...  these ports are free on 127.0.0.1; NAME is what sets
#                                          it (the variable); NAME=PORT:redis also accepts a Redis
#                                          answering there (scripts/run-redis.sh uses it)
#   scripts/preflight.sh go VERSION WHAT   a Go that builds WHAT, whose go.mod says `go VERSION`
#   scripts/preflight.sh os | python | npm | postgres    one check alone
#
# SETUP_PYTHON: the Python .venv is made with (default python3). ALLOW_UNSUPPORTED_OS=1: go on
# on a system other than Debian 12+. KEEP_HOST_SERVICES=1: setup leaves the host's Prometheus and
# Alertmanager services running (lib.sh, stop_host_service). PREFLIGHT_OS_RELEASE: the
# os-release file read (tests).
source "$(dirname "$0")/lib.sh"

FAILURES=()    # each: what is missing, a newline, how to get it
APT_WANTED=()  # Debian packages setup is to install
ROOT_WHY=()    # what needs root
DISK_NEEDS=()  # "path|MB|what": written by setup, summed per filesystem

fail() { FAILURES+=("$1"$'\n'"$2"); }
# The Debian packages to install, one a line, on stdout (what setup.sh reads).
print_wanted() { [ ${#APT_WANTED[@]} -eq 0 ] || printf '%s\n' "${APT_WANTED[@]}"; }

# Print the failures (if any) under a header naming the consequence; false if there were some.
report() {
  [ ${#FAILURES[@]} -eq 0 ] && return 0
  local entry
  log "$1"
  for entry in "${FAILURES[@]}"; do
    printf '  * %s\n' "${entry%%$'\n'*}" >&2
    sed 's/^/    /' <<<"${entry#*$'\n'}" >&2
  done
  return 1
}

# --- the system -------------------------------------------------------------------------------

check_os() {
  local file="${PREFLIGHT_OS_RELEASE:-/etc/os-release}" id="" version="" name=""
  if [ -r "$file" ]; then
    # shellcheck disable=SC1090  # os-release is shell assignments by definition
    IFS='|' read -r id version name < <(. "$file" && printf '%s|%s|%s\n' "${ID:-}" "${VERSION_ID:-}" "${PRETTY_NAME:-}")
  fi
  # Debian testing and unstable have no VERSION_ID: newer than 12.
  [ "$id" = debian ] && { [ -z "$version" ] || version_ge "$version" 12; } && return 0
  if [ "${ALLOW_UNSUPPORTED_OS:-}" = 1 ]; then
    log "ALLOW_UNSUPPORTED_OS=1: going on on ${name:-an unknown system} as if it were Debian 12"
    return 0
  fi
  if [ "$id" = debian ]; then
    fail "Debian 12 (bookworm) or newer: this is ${name:-Debian $version}" \
      "upgrade to Debian 12 (https://www.debian.org/releases/bookworm/releasenotes); its Python 3.11 and Prometheus are what the platform runs on.
Or run again with ALLOW_UNSUPPORTED_OS=1 and install what the other checks ask for yourself."
    return
  fi
  fail "Debian 12 (bookworm) or newer: this is ${name:-an unknown system (no $file)}" \
    "setup assumes Debian's apt-get and package names (${UP_PACKAGES[*]}; for the tests ${TEST_PACKAGES[*]}),
Debian's Prometheus 2.42 and its systemd units, and pg_ctlcluster and runuser for PostgreSQL.
Elsewhere install their equivalents yourself and run again with ALLOW_UNSUPPORTED_OS=1, or use docker compose (docker-compose.yml)."
}

# Root for what only root may do; a user whose sudo asks a password can open it first (sudo -v).
check_root() {
  [ ${#ROOT_WHY[@]} -eq 0 ] && return 0
  can_root && return 0
  local why how
  why="$(printf '%s; ' "${ROOT_WHY[@]}")"
  if command -v sudo >/dev/null; then
    how="run as root, or run 'sudo -v' first (sudo then asks no password for a few minutes)"
  else
    how="run as root (sudo is not installed)"
  fi
  fail "root, or sudo without a password prompt: ${why%; }" "$how"
}

# make test and make bench start PostgreSQL with pg_ctlcluster and create its role as the
# postgres user with runuser (scripts/postgres.sh): root only, sudo is not enough.
check_postgres_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  fail "root: scripts/postgres.sh (make test, make bench) starts PostgreSQL with pg_ctlcluster and creates its role with runuser -u postgres, which only root may" \
    "run them as root (sudo make test); make test-fast needs neither PostgreSQL nor root"
}

# --- Python -----------------------------------------------------------------------------------

# Python 3.11+ that can make .venv: `python -m venv` needs venv and ensurepip, which Debian ships
# apart (python3.11-venv). Debian's own Python without it: setup installs the package itself.
check_python() {
  local py="${SETUP_PYTHON:-python3}" path version
  if ! path="$(command -v "$py")"; then
    fail "Python 3.11 or newer as $py: not found" \
      "Debian: apt-get install python3 python3-venv (Debian 12's is 3.11); or SETUP_PYTHON=/path/to/python3.11+"
    return
  fi
  version="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
  if [ -z "$version" ] || ! version_ge "$version" 3.11; then
    fail "Python 3.11 or newer: $path is ${version:-not a working Python}" \
      "Debian 12: apt-get install python3 python3-venv (3.11); or SETUP_PYTHON=/path/to/python3.11+"
    return
  fi
  "$py" -c 'import venv, ensurepip' 2>/dev/null && return 0
  if dpkg -S "$(readlink -f "$path")" >/dev/null 2>&1; then
    APT_WANTED+=("python$version-venv")
  else
    fail "Python's venv and ensurepip: $path ($version) lacks them, and python -m venv needs both to make .venv" \
      "Debian's python3: apt-get install python$version-venv; another build: one with ensurepip (python.org's and pyenv's have it), or SETUP_PYTHON=that python"
  fi
}

# --- Go ---------------------------------------------------------------------------------------

GO_MODCACHE="${HOME:-/root}/go/pkg/mod"
GO_BUILDCACHE="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/go-build"
GO_FETCHES_TOOLCHAIN=false

# check_go VERSION WHAT: a Go that builds WHAT, whose go.mod asks for `go VERSION`. An older Go
# 1.21+ does too when GOTOOLCHAIN lets it fetch VERSION's toolchain (Debian's and Go's default).
check_go() {
  local min="$1" what="$2" go found toolchain version get candidate hint=""
  if version_ge 1.19 "$min"; then
    get="Debian 12: apt-get install golang-go (1.19); or the newest from https://go.dev/dl/"
  else
    get="Debian 12's golang-go is 1.19, too old. Either:
- Go's own build from https://go.dev/dl/, as root:
    rm -rf /usr/local/go && tar -C /usr/local -xzf go1.N.linux-$(dpkg --print-architecture 2>/dev/null || echo amd64).tar.gz
  then PATH=/usr/local/go/bin:\$PATH
- or Go 1.23 from bookworm-backports, which fetches Go $min's toolchain itself at the first build
  (GOTOOLCHAIN=auto, its default; about 300 MB more in Go's module cache), as root:
    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list
    apt-get update && apt-get install -t bookworm-backports golang-go"
  fi
  if ! go="$(command -v go)"; then
    for candidate in /usr/local/go/bin/go /usr/lib/go-*/bin/go "${HOME:-/root}"/sdk/go*/bin/go; do
      [ -x "$candidate" ] && hint=" ($candidate is there: add $(dirname "$candidate") to PATH)"
    done
    fail "Go $min or newer, to build $what: no go on PATH$hint" "$get"
    return
  fi
  # From / so that no go.mod around asks for another toolchain (the check would fetch it).
  { read -r found; read -r toolchain; read -r GO_MODCACHE; read -r GO_BUILDCACHE; } \
    < <(cd / && go env GOVERSION GOTOOLCHAIN GOMODCACHE GOCACHE 2>/dev/null; printf '\n\n\n\n')
  [ -n "$found" ] || found="$(cd / && go version 2>/dev/null | awk '{print $3}')"
  [[ "$found" == devel* ]] && return 0
  version="$(sed -E 's/^go//; s/^([0-9]+(\.[0-9]+)*).*/\1/' <<<"$found")"
  version_ge "${version:-0}" "$min" && return 0
  if version_ge "${version:-0}" 1.21 && [[ "$toolchain" == auto || "$toolchain" == *+auto ]]; then
    log "$found is older than Go $min: building $what fetches Go $min's toolchain (GOTOOLCHAIN=$toolchain, about 300 MB)"
    GO_FETCHES_TOOLCHAIN=true
    return 0
  fi
  if version_ge "${version:-0}" 1.21; then
    fail "Go $min or newer, to build $what: found $found ($go), and GOTOOLCHAIN=$toolchain keeps it from fetching Go $min" \
      "let it: go env -w GOTOOLCHAIN=auto (or GOTOOLCHAIN=auto in the environment). Or a newer Go.
$get"
  else
    fail "Go $min or newer, to build $what: found ${found:-an unknown version} ($go)" "$get"
  fi
}

# --- npm --------------------------------------------------------------------------------------

# npm ci installs centrifuge-js and uPlot from package-lock.json, lockfileVersion 3: npm 7 or
# newer. Missing beside Debian's Node (or no Node at all): setup installs Debian's npm.
check_npm() {
  local version
  if ! command -v npm >/dev/null; then
    if ! command -v node >/dev/null || dpkg -s nodejs 2>/dev/null | grep -q '^Version: .*deb'; then
      APT_WANTED+=(npm)
    else
      fail "npm, beside the Node at $(command -v node): npm ci installs centrifuge-js and uPlot" \
        "install the npm of that Node (Node.js's own packages include it: https://nodejs.org/en/download)"
    fi
    return
  fi
  version="$(npm --version 2>/dev/null || true)"
  version_ge "${version:-0}" 7 && return 0
  fail "npm 7 or newer: found ${version:-a broken npm}; package-lock.json is lockfileVersion 3, which npm ci reads from npm 7 on" \
    "Debian 12: apt-get install npm (9.2, with Node 18); or Node.js's own packages: https://nodejs.org/en/download"
}

# --- disk -------------------------------------------------------------------------------------

need_disk() { DISK_NEEDS+=("$1|$2|$3"); }

# The needs, summed per filesystem, against its free space. Sizes measured on a first run here
# (2026-12, Debian 12, amd64): see need_setup_disk.
check_disk() {
  [ ${#DISK_NEEDS[@]} -eq 0 ] && return 0
  local entry path mb what mount free
  local -A total=() items=()
  for entry in "${DISK_NEEDS[@]}"; do
    IFS='|' read -r path mb what <<<"$entry"
    while [ ! -e "$path" ]; do path="$(dirname "$path")"; done
    mount="$(df -P "$path" | awk 'NR == 2 {print $6}')"
    total[$mount]=$(( ${total[$mount]:-0} + mb ))
    items[$mount]="${items[$mount]:-}, $what $mb MB"
  done
  for mount in "${!total[@]}"; do
    free=$(df -Pk "$mount" | awk 'NR == 2 {print int($4 / 1024)}')
    [ "$free" -ge "${total[$mount]}" ] && continue
    fail "disk space: $mount has $free MB free, setup needs ${total[$mount]} MB there (${items[$mount]#, })" \
      "free space on $mount, or move the caches to another disk (GOMODCACHE, GOCACHE, PIP_CACHE_DIR, npm's cache)"
  done
}

# What a first run writes, in MB: apt's files (installed, and the .deb files apt keeps), .venv
# (1.1 GB) and pip's cache of the wheels (~350 MB), Go's module cache (Centrifugo's modules:
# 0.95 GB; Jaeger's 1.1 GB) and build cache (0.8 GB; Jaeger's 1.5 GB), the binaries,
# node_modules and npm's cache, and var/.
# Reads the NEED_* flags of preflight_setup.
need_setup_disk() {
  local pkg up_missing=false test_missing=false
  for pkg in "${APT_WANTED[@]}"; do
    [[ " ${UP_PACKAGES[*]} " == *" $pkg "* ]] && up_missing=true
    [[ " ${TEST_PACKAGES[*]} " == *" $pkg "* ]] && test_missing=true
  done
  if $up_missing; then need_disk /usr 500 "make up's Debian packages"; need_disk /var/cache/apt 70 "their .deb files"; fi
  if $test_missing; then need_disk /usr 950 "the tests' Debian packages"; need_disk /var/cache/apt 260 "their .deb files"; fi
  if [[ " ${APT_WANTED[*]} " == *" npm "* ]]; then need_disk /usr 430 "Debian's npm"; need_disk /var/cache/apt 55 "its .deb files"; fi
  if $NEED_VENV; then
    need_disk "$VENV" 1200 ".venv"
    [ -n "${PIP_NO_CACHE_DIR:-}" ] || need_disk "${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/pip}" 400 "pip's cache"
  fi
  if $NEED_CENTRIFUGO; then
    need_disk "$GO_MODCACHE" 1000 "Go's module cache"
    need_disk "$GO_BUILDCACHE" 850 "Go's build cache"
    need_disk "$TOOLS" 100 "Centrifugo"
  fi
  if $NEED_JAEGER; then
    # Measured on its first build here (2026-12, Jaeger 2.13): 1.1 GB of modules with their zip
    # files, 1.5 GB of build cache, an 85 MB binary.
    need_disk "$GO_MODCACHE" 1150 "Jaeger's modules"
    need_disk "$GO_BUILDCACHE" 1500 "Jaeger's build"
    need_disk "$TOOLS" 90 "Jaeger"
  fi
  if $NEED_COMPOSE_CONFIG; then
    need_disk "$GO_MODCACHE" 70 "compose-go's modules"
    need_disk "$GO_BUILDCACHE" 200 "its build"
  fi
  $GO_FETCHES_TOOLCHAIN && need_disk "$GO_MODCACHE" 350 "Go's toolchain"
  if $NEED_NPM; then
    need_disk "$ROOT/node_modules" 20 "node_modules"
    need_disk "${npm_config_cache:-${HOME:-/root}/.npm}" 30 "npm's cache"
  fi
  [ ${#DISK_NEEDS[@]} -eq 0 ] || need_disk "$ROOT" 200 "var/ (database, reports)"
}

# --- ports ------------------------------------------------------------------------------------

# Whether something accepts connections on 127.0.0.1:PORT (what a process binding it there, or on
# every address, would collide with).
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
redis_answers() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; printf 'PING\r\n' >&3; IFS= read -r line <&3; [[ \$line == +PONG* ]]" 2>/dev/null
}
# Who listens on PORT, as "pid N: its command line" (cut at 80 characters), when ss can tell
# (other users' processes: as root only).
port_holder() {
  local pid args
  command -v ss >/dev/null || return 0
  pid="$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true)"
  [ -n "$pid" ] || return 0
  args="$(ps -o args= -p "$pid" 2>/dev/null | cut -c1-80 || true)"
  printf 'pid %s%s' "$pid" "${args:+: $args}"
}

# check_ports NAME=PORT[:redis]...: each port free, none given twice. NAME is the variable that
# sets the port, optionally followed by "+N" (an offset from it) or " (what it is)"; 0 means
# not used.
check_ports() {
  local entry name var port kind holder
  local -A seen=()
  for entry in "$@"; do
    name="${entry%=*}"; port="${entry##*=}"; kind=""
    var="${name%% *}"; var="${var%%+*}"
    [[ "$port" == *:redis ]] && { kind=redis; port="${port%:redis}"; }
    if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -gt 65535 ]; then
      fail "$name=$port is not a port number" "set $var to a port from 1 to 65535 in .env (or the environment)"
      continue
    fi
    [ "$port" -eq 0 ] && continue
    if [ -n "${seen[$port]:-}" ]; then
      fail "${seen[$port]} and $name are both port $port: each process needs its own" \
        "set one of them to another free port in .env (or the environment)"
      continue
    fi
    seen[$port]="$name"
    port_open "$port" || continue
    [ "$kind" = redis ] && redis_answers "$port" && continue  # run-redis.sh uses that Redis
    holder="$(port_holder "$port")"
    if [ "$kind" = redis ]; then
      fail "$name's port $port is taken${holder:+ (by $holder)}, by something that does not answer as Redis" \
        "stop it, or point $var at a free port (make up starts its own Redis there) or at a running Redis"
    else
      fail "$name=$port is taken${holder:+ (by $holder)}" \
        "stop it, or set $var to a free port in .env (or the environment)"
    fi
  done
}

# make up's ports (Procfile, scripts/run-*.sh): the environment first, then .env, then defaults.
up_ports() {
  local base group index=0 url hostport host port
  printf '%s\n' \
    "WEB_PORT=$(env_get WEB_PORT 8000)" \
    "CENTRIFUGO_PORT=$(env_get CENTRIFUGO_PORT 8001)" \
    "CENTRIFUGO_INTERNAL_PORT=$(env_get CENTRIFUGO_INTERNAL_PORT 8002)" \
    "FLOWER_PORT=$(env_get FLOWER_PORT 5555)" \
    "PROMETHEUS_PORT=$(env_get PROMETHEUS_PORT 9090)" \
    "ALERTMANAGER_PORT=$(env_get ALERTMANAGER_PORT 9093)" \
    "EMAIL_PORT (the dev SMTP server)=$(env_get EMAIL_PORT 1025)" \
    "SMTP_WEB_PORT=$(env_get SMTP_WEB_PORT 8025)"
  # Jaeger's (scripts/run-jaeger.sh), unless tracing is off (OTEL_SDK_DISABLED=true: no Jaeger).
  if tracing_on; then
    printf '%s\n' "JAEGER_OTLP_PORT=$(jaeger_otlp_port)" "JAEGER_QUERY_PORT=$(jaeger_query_port)"
  fi
  # Each worker group of the Procfile serves its metrics on WORKER_METRICS_PORT + its index in
  # settings.WORKER_GROUPS (launchers.workers.metrics_port): the Procfile lists them in that order.
  base="$(env_get WORKER_METRICS_PORT 9811)"
  if [[ "$base" =~ ^[0-9]+$ ]]; then
    for group in $(sed -nE 's/^worker-[a-z]+:.*launchers\.workers ([a-z]+).*/\1/p' "$ROOT/Procfile"); do
      [ "$base" -eq 0 ] || printf '%s\n' "WORKER_METRICS_PORT+$index (worker-$group's metrics)=$((base + index))"
      index=$((index + 1))
    done
  else
    printf '%s\n' "WORKER_METRICS_PORT=$base"
  fi
  # Redis, as scripts/run-redis.sh reads REDIS_URL: a local one that answers is used as it is.
  url="$(env_get REDIS_URL redis://127.0.0.1:6379/0)"
  hostport="${url#redis://}"; hostport="${hostport%%/*}"; hostport="${hostport##*@}"
  host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$hostport" ] && port=6379
  case "$host" in 127.0.0.1 | localhost) printf '%s\n' "REDIS_URL=$port:redis" ;; esac
}

# --- the commands -----------------------------------------------------------------------------

# What setup.sh is to build or install (each asked as setup.sh asks it).
NEED_VENV=false NEED_CENTRIFUGO=false NEED_COMPOSE_CONFIG=false NEED_NPM=false NEED_MKCERT=false
NEED_JAEGER=false

preflight_setup() {
  local test=false prod=false go_min="" go_what="" compose_go pkg
  [ "${1:-}" = --test ] && test=true
  [ "${1:-}" = --prod ] && prod=true
  { $test || $prod; } && ! mkcert_built && NEED_MKCERT=true
  [ -x "$PY" ] || NEED_VENV=true
  centrifugo_built || NEED_CENTRIFUGO=true
  { $test || tracing_on; } && ! jaeger_built && NEED_JAEGER=true
  $test && [ ! -f "$(compose_config_stamp)" ] && NEED_COMPOSE_CONFIG=true
  npm_installed || NEED_NPM=true
  check_os
  for pkg in "${UP_PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || APT_WANTED+=("$pkg"); done
  if $test; then
    for pkg in "${TEST_PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || APT_WANTED+=("$pkg"); done
  fi
  if $prod; then
    for pkg in "${PROD_PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || APT_WANTED+=("$pkg"); done
  fi
  ! $NEED_VENV || check_python
  if $NEED_CENTRIFUGO; then
    go_min="$CENTRIFUGO_GO_VERSION"; go_what="Centrifugo v$CENTRIFUGO_VERSION"
  fi
  if $NEED_JAEGER; then
    version_ge "${go_min:-0}" "$JAEGER_GO_VERSION" || go_min="$JAEGER_GO_VERSION"
    go_what="${go_what:+$go_what and }Jaeger v$JAEGER_RELEASE"
  fi
  if $NEED_COMPOSE_CONFIG; then
    compose_go="$(awk '$1 == "go" {print $2; exit}' "$ROOT/tests/compose_config/go.mod")"
    version_ge "${go_min:-0}" "$compose_go" || go_min="$compose_go"
    go_what="${go_what:+$go_what and }compose-go's loader (tests/compose_config)"
  fi
  if $NEED_MKCERT; then
    version_ge "${go_min:-0}" "$MKCERT_GO_VERSION" || go_min="$MKCERT_GO_VERSION"
    go_what="${go_what:+$go_what and }mkcert v$MKCERT_VERSION"
  fi
  [ -z "$go_min" ] || check_go "$go_min" "$go_what"
  ! $NEED_NPM || check_npm
  need_setup_disk
  check_disk
  [ ${#APT_WANTED[@]} -eq 0 ] || ROOT_WHY+=("apt-get installs ${APT_WANTED[*]}")
  # The host's services setup.sh is to stop (one an install to come starts is stopped by the root
  # that installs it).
  local entry unit var port what
  if [ "${KEEP_HOST_SERVICES:-}" != 1 ]; then
    for entry in "${HOST_SERVICES_IN_THE_WAY[@]}"; do
      read -r unit var port what <<<"$entry"
      [ "$(env_get "$var" "$port")" = "$port" ] && host_service_running "$unit" \
        && ROOT_WHY+=("systemctl stops the host's $unit service, on $var's port $port (KEEP_HOST_SERVICES=1 leaves it)")
    done
  fi
  check_root
  report "scripts/setup.sh cannot go on; nothing was installed. Missing:" || exit 1
  print_wanted
}

preflight_ports() {
  check_ports "$@"
  report "port check failed; nothing was started:" || exit 1
}

case "${1:-}" in
  setup) shift; preflight_setup "$@" ;;
  up) mapfile -t entries < <(up_ports); preflight_ports "${entries[@]}" ;;
  prod)  # make up's ports (gunicorn on WEB_PORT) and the TLS proxy's
    mapfile -t entries < <(up_ports)
    entries+=("HTTPS_PORT=$(env_get HTTPS_PORT 8443)" "HTTP_PORT=$(env_get HTTP_PORT 8080)")
    preflight_ports "${entries[@]}" ;;
  ports) shift; preflight_ports "$@" ;;
  go)
    [ $# -eq 3 ] || { log "usage: scripts/preflight.sh go VERSION WHAT"; exit 2; }
    check_go "$2" "$3"; report "cannot build $3:" || exit 1 ;;
  os) check_os; report "unsupported system:" || exit 1 ;;
  python) check_python; report "no Python to make .venv with:" || exit 1; print_wanted ;;
  npm) check_npm; report "no npm to install node_modules with:" || exit 1; print_wanted ;;
  postgres) check_postgres_root; report "cannot start PostgreSQL:" || exit 1 ;;
  *) sed -n '2,/^source/p' "$0" | sed '$d' | cut -c3- >&2; exit 2 ;;
esac
