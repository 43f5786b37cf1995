# shellcheck shell=bash
# Shared helpers for the scripts in scripts/services/ (sourced, not run).
#
# Everything these scripts install or write lives in a cache outside the
# clone: ${TICKCAST_CACHE:-$HOME/.cache/tickcast}/services
#   <name>-<version>/       one installed server, reused by every run
#   runs/<run id>/          config, data and state of one run (deleted at the end)
#   logs/<run id>/          the servers' logs of one run (the last 20 runs are kept)

# shellcheck disable=SC2034 # used by the scripts that source this file
SERVICES_DIR="${TICKCAST_CACHE:-$HOME/.cache/tickcast}/services"

# The Java 17 JDK: JAVA_HOME if it is 17, else the machine's default java.
java17_home() {
  local home
  for home in "${JAVA_HOME:-}" "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" \
    /usr/lib/jvm/java-17-openjdk-amd64; do
    if [[ -n "$home" && -x "$home/bin/java" ]] &&
      "$home/bin/java" -version 2>&1 | head -1 | grep -q '"17\.'; then
      echo "$home"
      return 0
    fi
  done
  echo "no Java 17 JDK found (apt-get install openjdk-17-jdk-headless)" >&2
  return 1
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Seconds since the epoch with a fraction, and "N.N" seconds since a start.
now_s() { date +%s.%N; }
elapsed_s() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

# Runs one Maven goal on a generated pom, quietly; on failure shows Maven's output.
mvn_quiet() {
  local out
  if ! out="$(mvn -q -B "$@" 2>&1)"; then
    echo "$out" | tail -40 >&2
    echo "Maven failed: mvn $* (Maven Central must be reachable for the first install)" >&2
    return 1
  fi
}

# Stops the process group led by the pid in a pid file: TERM, then KILL after
# a grace period; returns once no process of the group is left.
stop_group() {
  local pid_file="$1" grace_s="${2:-20}" pid i
  [[ -f "$pid_file" ]] || return 0
  pid="$(cat "$pid_file")"
  rm -f "$pid_file"
  [[ -n "$pid" ]] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace_s * 10; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    sleep 0.1
  done
}

# Prints the end of a log and, above it, its first error lines (the cause is
# often far above the shutdown messages at the end).
show_log_tail() {
  local log="$1" lines="${2:-50}" errors
  errors="$(grep -m 8 -E 'ERROR|FATAL|Exception|error:' "$log" 2>/dev/null || true)"
  if [[ -n "$errors" ]]; then
    echo "----- first error lines of $log -----" >&2
    echo "$errors" | cut -c1-400 >&2
  fi
  echo "----- last $lines lines of $log -----" >&2
  tail -n "$lines" "$log" >&2 2>/dev/null || echo "(no log)" >&2
  echo "-----" >&2
}
