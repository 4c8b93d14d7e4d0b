#!/usr/bin/env bash
# The compose platform (docker-compose.yml) on the images `make images` built, on the project's engine
# (deploy/docker/engine.sh) or the user's DOCKER_HOST.
#
#   deploy/docker/compose.sh up       start it, wait until the gateway answers, create the demo data
#   deploy/docker/compose.sh down     stop and remove its containers and network (data volumes kept)
#   deploy/docker/compose.sh purge    … and its volumes
#   deploy/docker/compose.sh ps | logs [service] | seed
#
# COMPOSE_PROJECT_NAME (cuepoint-compose) names it; CUEPOINT_COMPOSE_GATEWAY_PORT (18080),
# CUEPOINT_COMPOSE_KAFKA_PORT (29092) and CUEPOINT_COMPOSE_PG_PORT (15432) are its host ports.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
eval "$("$ROOT/deploy/docker/engine.sh" env)"
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-cuepoint-compose}"
export COMPOSE_FILE="$ROOT/docker-compose.yml"
GATEWAY="http://127.0.0.1:${CUEPOINT_COMPOSE_GATEWAY_PORT:-18080}"
TAG="${CUEPOINT_IMAGE_TAG:-local}"

# shellcheck source=../lib.sh
source "$ROOT/deploy/lib.sh"
compose() { docker-compose "$@"; }

up() {
  "$ROOT/deploy/docker/engine.sh" up >/dev/null
  local image
  for image in identity content assessment progress analytics kafka postgres storage gateway; do
    docker image inspect "cuepoint/$image:$TAG" >/dev/null 2>&1 || fail "image cuepoint/$image:$TAG is missing: run make images"
  done
  say "starting the compose platform ($COMPOSE_PROJECT_NAME)"
  # up -d returns once each container is started after its dependencies are healthy / completed.
  compose up -d --no-build --remove-orphans 2>&1 | sed 's/^/    /'
  local i
  for ((i = 0; i < 120; i++)); do
    curl -fsS "$GATEWAY/api/content/readyz" >/dev/null 2>&1 && break
    sleep 1
  done
  curl -fsS "$GATEWAY/api/content/readyz" >/dev/null 2>&1 || { compose ps; fail "the gateway $GATEWAY does not reach content (compose.sh logs)"; }
  ok "gateway $GATEWAY (the web client, /api/<service>/, /storage/); Kafka for the data team: 127.0.0.1:${CUEPOINT_COMPOSE_KAFKA_PORT:-29092}"
  [ "${CUEPOINT_COMPOSE_SEED:-1}" = 1 ] && seed
  return 0
}

seed() { # identity's demo users (in the identity image), then the demo lesson through the gateway (from the host)
  say "demo data"
  compose run --rm --no-deps -T identity-api seed-demo | sed 's/^/    /'
  if [ -x "$ROOT/.venv/bin/python" ] && command -v ffmpeg >/dev/null; then
    "$ROOT/.venv/bin/python" "$ROOT/deploy/local/demo.py" --gateway "$GATEWAY" --video-dir "$ROOT/.local/demo" | sed 's/^/    /'
  else
    printf '    \033[33mnote\033[0m the demo lesson needs the Python workspace and ffmpeg (make infra); users only\n'
  fi
}

down() { # down [--volumes]
  local i
  for ((i = 1; i <= 3; i++)); do
    compose down --remove-orphans "$@" && return 0
    # Under load dockerd 20.10 may keep a removed container's endpoint a moment ("network … has active
    # endpoints"): try again.
    sleep 3
  done
  # Still there: a stale endpoint only a restart of dockerd forgets. Done only on the project's own
  # engine, and only when it runs nothing else.
  if [ "$DOCKER_HOST" = "unix://$ROOT/.local/docker/docker.sock" ] && [ -z "$(docker ps -q)" ]; then
    say "restarting the project's engine to drop a stale network endpoint"
    "$ROOT/deploy/docker/engine.sh" down >/dev/null && "$ROOT/deploy/docker/engine.sh" up >/dev/null
    compose down --remove-orphans "$@" && return 0
  fi
  fail "docker-compose down did not finish (see above)"
}

case "${1:-}" in
  up) up ;;
  down) say "stopping the compose platform ($COMPOSE_PROJECT_NAME)"; down ;;
  purge) say "removing the compose platform and its data ($COMPOSE_PROJECT_NAME)"; down --volumes ;;
  seed) seed ;;
  ps) compose ps ;;
  logs) shift; compose logs --tail=200 "$@" ;;
  *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
