# shellcheck shell=bash
# What every deploy script (deploy/local/*.sh, deploy/docker/*.sh) reports and waits with. Sourced:
#   source "$ROOT/deploy/lib.sh"
# A script may define on_failure (say, to stop what it started), which fail runs before it exits,
# and set FAIL_LOG to the log a fail without one names.

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
ok() { printf '    \033[32mok\033[0m %s\n' "$*"; }

fail() { # fail STEP [LOGFILE]: what failed and the log's last lines, then on_failure; exit 1
  local log="${2:-${FAIL_LOG:-}}"
  printf '\033[31mFAILED:\033[0m %s\n' "$1" >&2
  if [ -n "$log" ] && [ -f "$log" ]; then
    printf '    log: %s (last lines below)\n' "$log" >&2
    tail -n 25 "$log" | sed 's/^/    | /' >&2
  fi
  if declare -F on_failure >/dev/null; then on_failure; fi
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # wait_port PORT SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do port_open "$1" && return 0; sleep 0.1; done
  return 1
}

# Read once, quietly: nginx deletes its pid file as it exits, so it may vanish between two reads.
pid_alive() { local pid; pid="$(cat "$1" 2>/dev/null)" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

stop_process() { # stop_process PIDFILE SIGNAL TENTHS: signal, wait up to TENTHS/10 s, then SIGKILL
  local pidfile="$1" i
  if pid_alive "$pidfile"; then
    kill "-$2" "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || true
    for ((i = 0; i < $3; i++)); do pid_alive "$pidfile" || break; sleep 0.1; done
    if pid_alive "$pidfile"; then kill -KILL "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || true; sleep 0.5; fi
  fi
  rm -f "$pidfile"
}

stop_processes() { # stop_processes SIGNAL TENTHS PIDFILE…: stop_process for many at once (signal all, then wait)
  local signal="$1" tenths="$2" pidfile i alive
  shift 2
  for pidfile in "$@"; do pid_alive "$pidfile" && kill "-$signal" "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; done
  for ((i = 0; i < tenths; i++)); do
    alive=0
    for pidfile in "$@"; do pid_alive "$pidfile" && alive=1 && break; done
    [ "$alive" = 1 ] || break
    sleep 0.1
  done
  for pidfile in "$@"; do stop_process "$pidfile" KILL 5; done
}
