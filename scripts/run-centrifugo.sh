#!/usr/bin/env bash
# Run Centrifugo v6 for `make up` from centrifugo/config.json. The file holds no secrets: this
# script maps the names of our .env to the ones Centrifugo reads, and drops our other CENTRIFUGO_*
# names (Django's settings) so Centrifugo does not warn about unknown variables. Browsers connect
# to CENTRIFUGO_PORT (WebSocket only); the server API, /metrics and /health answer on
# CENTRIFUGO_INTERNAL_PORT alone.
source "$(dirname "$0")/lib.sh"
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
for name in $(compgen -e | grep '^CENTRIFUGO_' || true); do unset "$name"; done
export CENTRIFUGO_HTTP_SERVER_PORT="$port"
export CENTRIFUGO_HTTP_SERVER_INTERNAL_PORT="$internal_port"
export CENTRIFUGO_HTTP_API_KEY="$api_key"
export CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY="$token_secret"
export CENTRIFUGO_CLIENT_ALLOWED_ORIGINS="$origins"
# Its own working directory: Centrifugo v6 would otherwise load the project's .env itself.
mkdir -p "$(var_dir)/centrifugo"
cd "$(var_dir)/centrifugo"
exec "$TOOLS/bin/centrifugo" --config "$ROOT/centrifugo/config.json"
