#!/usr/bin/env bash
# Run Redis for `make up` unless one already answers at REDIS_URL (then just wait, so the
# process manager keeps the platform up).
source "$(dirname "$0")/lib.sh"
url="$(env_get REDIS_URL redis://127.0.0.1:6379/0)"
hostport="${url#redis://}"; hostport="${hostport%%/*}"; hostport="${hostport##*@}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$hostport" ] && port=6379
if redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; then
  log "Redis already answers at $host:$port; using it"
  exec sleep infinity
fi
data="$(var_dir)/redis"
mkdir -p "$data"
exec redis-server --bind "$host" --port "$port" --dir "$data" --appendonly yes
