#!/usr/bin/env bash
# The web client (web/): its npm packages, its build, and the browser its tests drive.
#
#   deploy/local/web.sh build     npm ci when package-lock.json changed, then type-check, build to web/dist
#                                 and check the JavaScript budget (the gateway serves web/dist at /)
#   deploy/local/web.sh browser   install Debian's Chromium for the browser tests if it is missing
#
# Node.js and npm come with the machine; packages from the npm registry, exact versions from
# web/package-lock.json. Playwright never downloads a browser: the tests use /usr/bin/chromium.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WEB="$ROOT/web"
LOGS="${CUEPOINT_LOCAL_DIR:-$ROOT/.local}/logs"
mkdir -p "$LOGS"
LOG="$LOGS/web-build.log"

# shellcheck source=../lib.sh
source "$ROOT/deploy/lib.sh"
FAIL_LOG="$LOG"  # a failed step names the build's log

apt_install() {
  [ "$(id -u)" = 0 ] || fail "installing $* needs root (apt-get); install it and run again"
  say "installing $* (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$LOG" 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update >>"$LOG" 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$LOG" 2>&1; } \
    || fail "apt-get install $*"
}

build() {
  command -v npm >/dev/null || apt_install nodejs npm
  : >"$LOG"
  cd "$WEB"
  # npm ci again only when the lock changed since the last install.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "npm ci (web/package-lock.json)"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >>"$LOG" 2>&1 || fail "npm ci"
  fi
  say "building the web client"
  npm run --silent build >>"$LOG" 2>&1 || fail "the web client's build (type-check, vite build or the JavaScript budget)"
  ok "web/dist: $(grep -h 'first visit' "$LOG" | tail -n 1)"
}

browser() {
  if [ -x /usr/bin/chromium ]; then return; fi
  apt_install chromium
  ok "Chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}') for the browser tests"
}

case "${1:-}" in
  build) build ;;
  browser) browser ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
