#!/usr/bin/env bash
# A Docker engine for Cuepoint's images and compose platform, without Docker Hub and without
# touching a system-wide engine: Debian's docker.io and docker-compose, and a dockerd of the
# project's own with its socket, data and logs under .local/docker/.
#
#   deploy/docker/engine.sh up        install what is missing, start the daemon (or check $DOCKER_HOST)
#   deploy/docker/engine.sh down      stop the project's daemon (its images and volumes stay in .local/docker/data)
#   deploy/docker/engine.sh status    say what runs
#   deploy/docker/engine.sh env       print `export DOCKER_HOST=…` for a shell: eval "$(deploy/docker/engine.sh env)"
#
# A DOCKER_HOST already set is used as it is (nothing is installed or started). The daemon runs
# with --iptables=false --ip6tables=false (the machines it was written for have no netfilter to spare):
# containers reach each other on user-defined bridges but nothing outside the machine, so image builds
# use --network host (see deploy/docker/images.sh). Storage driver: overlay2 where the kernel mounts an
# overlay on the data directory's file system, vfs otherwise (CUEPOINT_DOCKER_STORAGE_DRIVER to choose).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL="${CUEPOINT_LOCAL_DIR:-$ROOT/.local}"
DIR="$LOCAL/docker"
SOCK="$DIR/docker.sock"
LOG="$DIR/logs/dockerd.log"
PIDFILE="$DIR/dockerd.pid"

# shellcheck source=../lib.sh
source "$ROOT/deploy/lib.sh"
engine_alive() { pid_alive "$PIDFILE"; }
own_host() { echo "unix://$SOCK"; }
# The user's engine if they have one, else ours.
docker_host() { echo "${DOCKER_HOST:-$(own_host)}"; }
engine_answers() { DOCKER_HOST="$(docker_host)" docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

ensure_installed() {
  local missing=()
  command -v docker >/dev/null || missing+=(docker.io)
  command -v dockerd >/dev/null || missing+=(docker.io)
  # Debian bookworm's compose is 1.29 (Python); it is the newest Debian has (no docker-compose-plugin).
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return
  local log="$LOCAL/logs/install.log"
  mkdir -p "$LOCAL/logs"
  [ "$(id -u)" = 0 ] || fail "installing ${missing[*]} needs root (apt-get); install them and run again" ""
  say "installing ${missing[*]} (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get update >>"$log" 2>&1 || fail "apt-get update" "$log"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1 \
    || fail "apt-get install ${missing[*]}" "$log"
  # The package may start a system engine (with systemd); Cuepoint uses its own and leaves that one alone.
}

storage_driver() {
  if [ -n "${CUEPOINT_DOCKER_STORAGE_DRIVER:-}" ]; then echo "$CUEPOINT_DOCKER_STORAGE_DRIVER"; return; fi
  # Try the mount overlay2 would make, on the file system the data lives on.
  local probe="$DIR/data/overlay-probe"
  rm -rf "$probe"; mkdir -p "$probe"/{lower,upper,work,merged}
  if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
    umount "$probe/merged"; rm -rf "$probe"; echo overlay2
  else
    rm -rf "$probe"; echo vfs
  fi
}

up() {
  if [ -n "${DOCKER_HOST:-}" ]; then
    engine_answers || fail "DOCKER_HOST=$DOCKER_HOST does not answer (unset it to let Cuepoint start its own engine)" ""
    ok "using the engine at DOCKER_HOST=$DOCKER_HOST"
    return
  fi
  ensure_installed
  if engine_alive && engine_answers; then ok "engine already running ($(own_host))"; return; fi
  [ "$(id -u)" = 0 ] || fail "starting a Docker daemon needs root (or set DOCKER_HOST to an engine you have)" ""
  mkdir -p "$DIR/data" "$DIR/logs" "$DIR/run"
  if ! engine_alive; then
    local driver; driver="$(storage_driver)"
    say "starting dockerd (storage $driver, socket $SOCK)"
    rm -f "$SOCK"
    # exec-root holds containerd's and the containers' sockets; a short path keeps them under the
    # 108-byte limit of a socket path whatever the checkout's path.
    local exec_root; exec_root="/run/cuepoint-docker-$(printf '%s' "$ROOT" | md5sum | cut -c1-8)"
    nohup dockerd --host "$(own_host)" --data-root "$DIR/data" --exec-root "$exec_root" --pidfile "$PIDFILE" \
      --iptables=false --ip6tables=false --storage-driver "$driver" \
      >>"$LOG" 2>&1 </dev/null &
    disown || true
  fi
  local i
  for ((i = 0; i < 600; i++)); do
    engine_answers && break
    if ((i > 20)) && ! engine_alive; then fail "dockerd exited" "$LOG"; fi
    sleep 0.1
  done
  engine_answers || fail "dockerd did not answer on $SOCK within 60 s" "$LOG"
  ok "engine $(DOCKER_HOST="$(own_host)" docker info --format '{{.ServerVersion}}, storage {{.Driver}}') at $(own_host) (log: $LOG)"
  ok "for your shell: eval \"\$(deploy/docker/engine.sh env)\""
}

down() {
  if [ -n "${DOCKER_HOST:-}" ] && [ "$DOCKER_HOST" != "$(own_host)" ]; then ok "DOCKER_HOST is the user's engine: left running"; return; fi
  engine_alive || { rm -f "$PIDFILE"; return; }
  say "stopping dockerd"
  local pid i; pid="$(cat "$PIDFILE")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
  ok "engine stopped"
}

status() {
  if engine_answers; then
    echo "docker    running  $(docker_host)  $(DOCKER_HOST="$(docker_host)" docker info --format '{{.ServerVersion}} {{.Driver}}')"
  else
    echo "docker    stopped"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) echo "export DOCKER_HOST=$(docker_host)" ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
