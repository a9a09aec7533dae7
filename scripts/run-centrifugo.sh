#!/usr/bin/env bash
# Run Centrifugo v6 for `make up` from centrifugo/config.json. The file holds no secrets: this
# script maps the names of our .env to the ones Centrifugo reads, drops our other CENTRIFUGO_*
# names (Django's settings) so Centrifugo does not warn about unknown variables, and passes every
# other CENTRIFUGO_* (Centrifugo's own, `centrifugo defaultenv` lists them) through, from the
# environment or else from .env, except the four it maps ours to (it stops if one is set to
# something else). Browsers connect to CENTRIFUGO_PORT (WebSocket only); the server API, /metrics
# and /health answer on CENTRIFUGO_INTERNAL_PORT alone.
source "$(dirname "$0")/lib.sh"

# The project's own CENTRIFUGO_* names: read by chatplatform/settings/ or by the scripts, never
# by Centrifugo. The one list; tests/test_run_centrifugo.py checks that every CENTRIFUGO_* name
# of the settings and .env.example is here or one Centrifugo knows. (CENTRIFUGO_HTTP_API_KEY is
# both ours and Centrifugo's, same meaning: not here.)
PROJECT_NAMES=(
  CENTRIFUGO_API_URL CENTRIFUGO_WS_URL CENTRIFUGO_PORT CENTRIFUGO_INTERNAL_PORT
  CENTRIFUGO_TIMEOUT CENTRIFUGO_PUBLISH_AFTER_COMMIT CENTRIFUGO_REQUEST_TIMEOUT
  CENTRIFUGO_TOKEN_TTL_SECONDS CENTRIFUGO_SUBSCRIPTION_TOKEN_TTL_SECONDS
  CENTRIFUGO_ALLOWED_ORIGINS CENTRIFUGO_TOKEN_HMAC_SECRET_KEY CENTRIFUGO_VERSION
)
is_project_name() { [[ " ${PROJECT_NAMES[*]} " == *" $1 "* ]]; }

port="$(env_get CENTRIFUGO_PORT 8001)"
internal_port="$(env_get CENTRIFUGO_INTERNAL_PORT 8002)"
api_key="$(env_get CENTRIFUGO_HTTP_API_KEY)"
token_secret="$(env_get CENTRIFUGO_TOKEN_HMAC_SECRET_KEY)"
web_port="$(env_get WEB_PORT 8000)"
origins="$(env_get CENTRIFUGO_ALLOWED_ORIGINS)"
[ -n "$origins" ] || origins="http://localhost:$web_port http://127.0.0.1:$web_port"
if [ -z "$api_key" ] || [ -z "$token_secret" ]; then
  log "CENTRIFUGO_HTTP_API_KEY and CENTRIFUGO_TOKEN_HMAC_SECRET_KEY must be set (scripts/setup.sh writes them to .env)"
  exit 1
fi

# Centrifugo's own names from .env, unless the environment sets them (even empty: it wins), as
# make up exports .env already (up.sh). Centrifugo would not read .env itself: it runs in a folder
# of its own.
export_env_defaults
# Ours dropped; an empty one of Centrifugo's (.env.example's `CENTRIFUGO_ENGINE_TYPE=`) means
# Centrifugo's default, which it gets only when the variable is absent.
for name in $(compgen -e | grep '^CENTRIFUGO_' || true); do
  if is_project_name "$name" || [ -z "${!name}" ]; then unset "$name"; fi
done

# The Redis engine (broker, presence, history shared by several nodes) needs nothing else: with
# no address of its own it uses the project's Redis (REDIS_URL's scheme, server and credentials),
# in database 2. Its keys would not collide anywhere (all start with "centrifugo."), but a
# database of its own keeps them out of a FLUSHDB of the broker's (0) or the cache's (1), and out
# of what `redis-cli -n 0/1` shows. Pub/sub, how nodes reach each other, ignores databases.
# Derived only from a plain redis:// or rediss:// URL. Not from a query string: its options are
# redis-py's (ssl_cert_reqs, ssl_ca_certs...), and Centrifugo v6 silently ignores the options it
# does not know (it reads only its own: tls_enabled, connect_timeout...), so the engine would
# connect otherwise than the app, e.g. verify the certificate that ?ssl_cert_reqs=none skips.
# Not from unix:// either (its path is the socket's: no room for database 2). Messages never show the URL: it may
# hold a password.
if [ "${CENTRIFUGO_ENGINE_TYPE:-}" = redis ] && [ -z "${CENTRIFUGO_ENGINE_REDIS_ADDRESS:-}" ]; then
  redis_url="$(env_get REDIS_URL redis://127.0.0.1:6379/0)"
  scheme="${redis_url%%://*}"
  if [ "$scheme" != redis ] && [ "$scheme" != rediss ]; then
    log "REDIS_URL is not a redis:// or rediss:// URL: set CENTRIFUGO_ENGINE_REDIS_ADDRESS, the Redis engine's address (e.g. redis://host:6379/2)"
    exit 1
  fi
  if [[ "$redis_url" == *\?* ]]; then
    log "REDIS_URL has query options, which Centrifugo would ignore: set CENTRIFUGO_ENGINE_REDIS_ADDRESS, the Redis engine's address with Centrifugo's own options (e.g. rediss://host:6379/2?connect_timeout=2s)"
    exit 1
  fi
  server="${redis_url#*://}"; server="${server%%/*}"
  export CENTRIFUGO_ENGINE_REDIS_ADDRESS="$scheme://$server/2"
fi

# Ours mapped last: the rest of the platform derives its addresses from them. Centrifugo's own
# name for one of them, set (environment or .env) to something else, would be overwritten without
# a word: stop and name ours instead. (Values never shown: one is a secret.)
map_ours() {  # centrifugo_name value project_name
  if [ -n "${!1:-}" ] && [ "${!1}" != "$2" ]; then
    log "$1 is set to something other than $3 gives it: set $3 instead (and remove $1)"
    exit 1
  fi
  export "$1=$2"
}
map_ours CENTRIFUGO_HTTP_SERVER_PORT "$port" CENTRIFUGO_PORT
map_ours CENTRIFUGO_HTTP_SERVER_INTERNAL_PORT "$internal_port" CENTRIFUGO_INTERNAL_PORT
map_ours CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY "$token_secret" CENTRIFUGO_TOKEN_HMAC_SECRET_KEY
map_ours CENTRIFUGO_CLIENT_ALLOWED_ORIGINS "$origins" CENTRIFUGO_ALLOWED_ORIGINS
export CENTRIFUGO_HTTP_API_KEY="$api_key"
# Its own working directory: Centrifugo v6 would otherwise load the project's .env itself.
mkdir -p "$(var_dir)/centrifugo"
cd "$(var_dir)/centrifugo"
exec "$TOOLS/bin/centrifugo" --config "$ROOT/centrifugo/config.json"
