#!/usr/bin/env bash
# make backup: one timestamped archive of the platform's data, var/backups/chatplatform-<UTC
# time>-v<version>.tar (mode 0600): a pg_dump of the database (SQLite's online backup for make up),
# the reports folder and a manifest (version, commit, migrations, row counts, what it holds and
# what it does not). Consistent while the platform runs (the dump is one snapshot). Secrets
# (.env, the local CA) only when asked. launchers/backup.py does the work; docs/deploy.md.
#
#   scripts/backup.sh [--with-secrets] [--up] [--dir DIR]
#     --with-secrets  also .env and make prod's local CA (or BACKUP_SECRETS=1)
#     --up            make up's data (.env's DATABASE_URL, SQLite by default; or BACKUP_PROFILE=up)
#                     instead of make prod's (scripts/prod-env.sh)
#     --dir DIR       where the archive goes (or BACKUP_DIR; default var/backups)
# DATABASE_URL and REPORTS_DIR set in the environment win over the profile's.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

profile="${BACKUP_PROFILE:-prod}" dir="${BACKUP_DIR:-$ROOT/var/backups}" secrets=()
[ "${BACKUP_SECRETS:-}" = 1 ] && secrets=(--with-secrets)
while [ $# -gt 0 ]; do
  case "$1" in
    --with-secrets) secrets=(--with-secrets) ;;
    --up) profile=up ;;
    --prod) profile=prod ;;
    --dir) [ $# -ge 2 ] || { echo "backup: --dir needs a folder" >&2; exit 2; }; dir="$2"; shift ;;
    -h | --help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) echo "backup: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
  shift
done

profile_env "$profile"

exec "$PY" -m launchers.backup create --dir "$dir" "${secrets[@]}"
