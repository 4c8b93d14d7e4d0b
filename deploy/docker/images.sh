#!/usr/bin/env bash
# Every image the compose platform (docker-compose.yml) and deploy/k8s/ need, built from Debian's
# packages and PyPI / Maven Central only: no Docker Hub.
#
#   deploy/docker/images.sh            the base, then every image (a step whose inputs did not change is cached)
#   deploy/docker/images.sh base       only the base: Debian bookworm (debootstrap --variant=minbase), docker import
#   deploy/docker/images.sh infra      the base, PostgreSQL and Kafka only (the test suite's containers:
#                                      CUEPOINT_TESTS_INFRA=containers, tests/support/platform.py)
#   deploy/docker/images.sh list       the images with their sizes
#
# BASE_IMAGE=debian:bookworm-slim builds every Dockerfile from the official image instead of the
# debootstrap one (for a machine that reaches Docker Hub). CUEPOINT_IMAGE_TAG (default "local") tags them.
# Builds run with --network host (the engine runs without iptables: a build container has no route out)
# and, when PIP_CERT / SSL_CERT_FILE / REQUESTS_CA_BUNDLE names a CA bundle, hand it to the build as a
# secret (the registries must be trusted as on the host); it is never written into an image.
# Times and sizes are printed, and written to .local/docker/images.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL="${CUEPOINT_LOCAL_DIR:-$ROOT/.local}"
DIR="$LOCAL/docker"
LOGS="$DIR/logs"
TAG="${CUEPOINT_IMAGE_TAG:-local}"
OWN_BASE="cuepoint/base:bookworm"
BASE_IMAGE="${BASE_IMAGE:-$OWN_BASE}"
SERVICES=(identity content assessment progress analytics)
JMX_EXPORTER="io.prometheus.jmx:jmx_prometheus_javaagent:1.0.1"  # as deploy/local/infra.sh
REPORT="$DIR/images.txt"
mkdir -p "$LOGS"
export DOCKER_HOST="${DOCKER_HOST:-unix://$DIR/docker.sock}"

# shellcheck source=../lib.sh
source "$ROOT/deploy/lib.sh"

# BuildKit (build secrets) through the classic `docker build`: Debian's docker.io client (20.10) has it
# built in; a newer client needs its buildx plugin, which Debian does not ship.
docker_build_cli() {
  if docker buildx version >/dev/null 2>&1; then echo docker
  elif [ -x /usr/bin/docker ]; then echo /usr/bin/docker
  else echo docker; fi
}
DOCKER_BUILD="$(docker_build_cli)"
export DOCKER_BUILDKIT=1

ca_bundle() { # the CA bundle the host's registries are reached with, if one is set
  local f
  for f in "${PIP_CERT:-}" "${SSL_CERT_FILE:-}" "${REQUESTS_CA_BUNDLE:-}"; do
    [ -n "$f" ] && [ -f "$f" ] && { echo "$f"; return; }
  done
  return 0
}

apt_mirror() { # the Debian mirror this machine's apt uses
  local uri
  uri="$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -v security | head -n 1 | awk '{print ($1 == "deb") ? $2 : $2}')"
  echo "${uri:-http://deb.debian.org/debian}"
}

report() { # report IMAGE SECONDS
  local size; size="$(docker image inspect --format '{{.Size}}' "$1")"
  printf '%-34s %6d MB  built in %4d s\n' "$1" "$((size / 1000000))" "$2" | tee -a "$REPORT"
}

base() {
  if docker image inspect "$OWN_BASE" >/dev/null 2>&1; then ok "$OWN_BASE already built"; return; fi
  command -v debootstrap >/dev/null || fail "debootstrap is missing: run deploy/docker/engine.sh up (it installs it)" ""
  local started=$SECONDS log="$LOGS/debootstrap.log" root="$DIR/rootfs" mirror
  mirror="$(apt_mirror)"
  say "debootstrap Debian bookworm (minbase) from $mirror"
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$log" 2>&1 || fail "debootstrap" "$log"
  # Security updates reach every image built on it: the same suites as an official Debian image.
  cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF
  chroot "$root" /bin/sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -y upgrade' >>"$log" 2>&1 \
    || fail "upgrading the base" "$log"
  # What an image never needs: package lists (each build fetches them anew), caches, docs, man pages.
  # And apt leaves them out of later installs too, as the official slim images do.
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  echo 'APT::Install-Recommends "false"; APT::Install-Suggests "false";' >"$root/etc/apt/apt.conf.d/docker-no-recommends"
  # Downloaded packages are deleted once installed (as the official images' docker-clean does).
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
APT::Keep-Downloaded-Packages "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' - "$OWN_BASE" >>"$log" 2>&1 || fail "docker import" "$log"
  rm -rf "$root"
  report "$OWN_BASE" $((SECONDS - started))
}

build() { # build IMAGE DOCKERFILE CONTEXT [docker build args...]
  local image="$1" file="$2" context="$3"; shift 3
  local started=$SECONDS log="$LOGS/build-${image//[\/:]/-}.log" secret=() ca
  ca="$(ca_bundle)"
  [ -n "$ca" ] && secret=(--secret "id=ca,src=$ca")
  local previous; previous="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
  say "building $image"
  "$DOCKER_BUILD" build --network host --progress plain "${secret[@]}" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    -f "$file" -t "$image" "$@" "$context" >"$log" 2>&1 || fail "building $image" "$log"
  # The image this tag named before, now untagged: removed (unless a container still uses it), or every
  # rebuild would leave a few hundred MB behind.
  if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$image")" ]; then
    docker rmi "$previous" >/dev/null 2>&1 || true
  fi
  report "$image" $((SECONDS - started))
}

kafka_context() { # the jars make infra resolves (deploy/local/kafka/pom.xml), beside the broker's configuration
  local ctx="$DIR/context/kafka" pom="$ROOT/deploy/local/kafka/pom.xml" log="$LOGS/maven.log" want
  want="$(sha256sum "$pom" | cut -d' ' -f1)"
  if [ ! -f "$ctx/libs/.pom.sha256" ] || [ "$(cat "$ctx/libs/.pom.sha256")" != "$want" ]; then
    command -v mvn >/dev/null || fail "maven is missing: run make infra (it installs Debian's maven)" ""
    say "resolving Kafka jars from Maven Central (deploy/local/kafka/pom.xml)" >&2
    rm -rf "$ctx/libs"; mkdir -p "$ctx/libs"
    mvn -B -q -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$ctx/libs" >"$log" 2>&1 \
      || fail "resolving Kafka jars with Maven" "$log"
    echo "$want" >"$ctx/libs/.pom.sha256"
  fi
  if [ ! -f "$ctx/agent/jmx_prometheus_javaagent.jar" ]; then  # the broker's metrics, as make infra runs it
    mkdir -p "$ctx/agent"
    mvn -B -q dependency:copy -Dartifact="$JMX_EXPORTER" -DoutputDirectory="$ctx/agent" >>"$log" 2>&1 \
      || fail "resolving the JMX exporter agent with Maven" "$log"
    mv "$ctx"/agent/jmx_prometheus_javaagent-*.jar "$ctx/agent/jmx_prometheus_javaagent.jar"
  fi
  cp "$ROOT/deploy/local/kafka/log4j2.yaml" "$ROOT/deploy/local/kafka/server.properties" "$ROOT/deploy/docker/kafka-entrypoint.sh" \
    "$ROOT/deploy/local/kafka/jmx-exporter.yaml" "$ctx/"
  echo "$ctx"
}

locked_version() { # locked_version PACKAGE: its version in uv.lock
  awk -v name="$1" '$0 == "name = \"" name "\"" {getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/uv.lock"
}

all() {
  : >"$REPORT"
  [ -f "$ROOT/web/dist/index.html" ] || fail "the web client is not built: run make web first" ""
  base
  local d="$ROOT/deploy/docker" kafka_ctx
  kafka_ctx="$(kafka_context)"
  build "cuepoint/python:$TAG" "$d/python.Dockerfile" "$d" --target runtime
  build "cuepoint/python-build:$TAG" "$d/python.Dockerfile" "$d" --target build
  # The rest depend on nothing but those: built side by side (mostly downloads; a build log each).
  local pids=() python=(--build-arg "PYTHON_IMAGE=cuepoint/python:$TAG" --build-arg "BUILD_IMAGE=cuepoint/python-build:$TAG")
  local service
  for service in "${SERVICES[@]}"; do
    build "cuepoint/$service:$TAG" "$d/service.Dockerfile" "$ROOT" --build-arg "SERVICE=$service" "${python[@]}" & pids+=($!)
  done
  build "cuepoint/kafka:$TAG" "$d/kafka.Dockerfile" "$kafka_ctx" & pids+=($!)
  build "cuepoint/postgres:$TAG" "$d/postgres.Dockerfile" "$d" & pids+=($!)
  build "cuepoint/storage:$TAG" "$d/storage.Dockerfile" "$d" "${python[@]}" \
    --build-arg "EMULATOR_VERSION=$(locked_version gcp-storage-emulator)" & pids+=($!)
  build "cuepoint/gateway:$TAG" "$d/gateway.Dockerfile" "$ROOT" & pids+=($!)
  build "cuepoint/prometheus:$TAG" "$d/prometheus.Dockerfile" "$ROOT" & pids+=($!)
  local pid failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ "$failed" = 0 ] || fail "building the images (the failed build's log is named above)" ""
  ok "sizes and times: $REPORT"
}

infra() {
  REPORT="$DIR/images-infra.txt"  # images.txt stays the whole build's
  : >"$REPORT"
  base
  local d="$ROOT/deploy/docker" kafka_ctx
  kafka_ctx="$(kafka_context)"
  build "cuepoint/kafka:$TAG" "$d/kafka.Dockerfile" "$kafka_ctx"
  build "cuepoint/postgres:$TAG" "$d/postgres.Dockerfile" "$d"
  ok "sizes and times: $REPORT"
}

case "${1:-all}" in
  all) all ;;
  base) base ;;
  infra) infra ;;
  list) docker images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep '^cuepoint/' ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
