#!/usr/bin/env bash
# make restore FILE=...: bring back an archive of scripts/backup.sh. It shows what it overwrites
# (the database, its row counts now and in the archive, the reports folder) and asks
# "Overwrite? [y/N]" (`yes | make restore FILE=...` answers). It refuses an archive of a newer
# schema than this code (migrations it does not know). A running make prod ($VAR_DIR/prod.pid)
# is stopped first and started again, in the background, afterwards; one that was not running
# is not started. After the database and the reports, `manage.py migrate` brings an older
# archive to this code's schema. launchers/backup.py does the work; docs/deploy.md.
#
#   scripts/restore.sh [--with-secrets] [--up] ARCHIVE
#     --with-secrets  also put back the archive's .env and local CA (the current ones kept aside)
#     --up            into make up's database (BACKUP_PROFILE=up) instead of make prod's
# DATABASE_URL and REPORTS_DIR set in the environment win over the profile's;
# PROD_START_COMMAND replaces scripts/prod.sh as what starts make prod again.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

profile="${BACKUP_PROFILE:-prod}" secrets=() file=""
[ "${BACKUP_SECRETS:-}" = 1 ] && secrets=(--with-secrets)
while [ $# -gt 0 ]; do
  case "$1" in
    --with-secrets) secrets=(--with-secrets) ;;
    --up) profile=up ;;
    --prod) profile=prod ;;
    -h | --help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    -*) echo "restore: unknown option $1 (--help)" >&2; exit 2 ;;
    *) [ -z "$file" ] || { echo "restore: one archive at a time" >&2; exit 2; }; file="$1" ;;
  esac
  shift
done
[ -n "$file" ] || { echo "restore: which archive? make restore FILE=var/backups/chatplatform-....tar" >&2; exit 2; }
[ -f "$file" ] || { echo "restore: $file: no such file" >&2; exit 2; }
file="$(cd "$(dirname "$file")" && pwd)/$(basename "$file")"

profile_env "$profile"

# make prod's pid when it runs: its pid file names a live process that is make prod (a pid
# reused by another program after a crash is not), not a zombie.
prod_pid() {
  local pidfile="${VAR_DIR:-}/prod.pid" pid
  [ "$profile" = prod ] && [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE 'Procfile\.prod|scripts/prod\.sh' || return 1
  printf '%s' "$pid"
}
alive() { kill -0 "$1" 2>/dev/null && [[ "$(ps -o stat= -p "$1" 2>/dev/null)" != Z* ]]; }

# What is overwritten, or a refusal (exit 3: a newer schema, another engine, not an archive).
"$PY" -m launchers.backup plan "$file" "${secrets[@]}"
running="$(prod_pid || true)"
if [ -n "$running" ]; then
  echo "  make prod  running (pid $running): stopped for the restore, started again after it"
fi
printf 'Overwrite? [y/N] ' >&2
answer=""
read -r answer || true
[ -t 0 ] || echo "$answer" >&2
case "${answer,,}" in
  y | yes) ;;
  *) log "not restored: nothing was changed"; exit 1 ;;
esac
started=$SECONDS

start_prod() {
  local command="${PROD_START_COMMAND:-$ROOT/scripts/prod.sh}"
  mkdir -p "$VAR_DIR"
  setsid bash -c "$command" >"$VAR_DIR/prod.log" 2>&1 </dev/null &
  log "make prod started again in the background (pid $!), as it ran before the restore:"
  log "  its output goes to $VAR_DIR/prod.log; stop it with kill \$(cat $VAR_DIR/prod.pid)"
}

if [ -n "$running" ]; then
  log "stopping make prod (pid $running): honcho stops each of its processes"
  kill -TERM "$running"
  for _ in $(seq 1 120); do alive "$running" || break; sleep 0.5; done
  if alive "$running"; then
    log "make prod (pid $running) did not stop within 60 s: stop it (Ctrl-C), then run again; nothing was restored"
    exit 1
  fi
fi

# make prod's own cluster: its role and database, created as scripts/prod.sh does when a restore
# comes first (a new machine, a dropped database); that role may not create databases itself.
[ "$profile" = prod ] && ensure_prod_database

if ! "$PY" -m launchers.backup restore "$file" "${secrets[@]}"; then
  log "the restore failed: see above"
  if [ -n "$running" ]; then start_prod; fi
  exit 1
fi
log "bringing the database to this code's schema (manage.py migrate)"
if ! "$PY" manage.py migrate --noinput -v 1; then
  log "manage.py migrate failed: the archive is restored, its schema not brought to this code's"
  if [ -n "$running" ]; then log "make prod was not started again (its start migrates too)"; fi
  exit 1
fi
log "restored $(basename "$file") in $((SECONDS - started)) s"
if [ -n "$running" ]; then start_prod; fi
