#!/usr/bin/env bash
# RTDS single-node Apache Kafka broker (KRaft, no Docker) for development and CI.
#
#   infra/kafka/kafka.sh start|stop|status|reset|logs|fetch|tool|topics|help
#
# Jars come from Maven Central via infra/kafka/pom.xml (pinned Kafka version) into
# infra/kafka/target/lib; data in target/data, logs in target/logs (all git-ignored).
# Environment:
#   RTDS_KAFKA_PORT             client listener port          (default 9092)
#   RTDS_KAFKA_CONTROLLER_PORT  KRaft controller port          (default 9093)
#   RTDS_KAFKA_HEAP_OPTS        broker heap                    (default "-Xms256m -Xmx1g")
#   RTDS_KAFKA_START_TIMEOUT    seconds to wait for readiness  (default 60)
#   RTDS_KAFKA_STOP_TIMEOUT     seconds before SIGKILL on stop (default 30)
#   JAVA_HOME                   Java 17+ (default: `java` on PATH)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
TARGET="$HERE/target"
LIB="$TARGET/lib"
STAMP="$LIB/.fetched"
DATA="$TARGET/data"
KAFKA_LOG_DIR="$DATA/kraft-logs"      # Kafka's log.dirs (topic data + cluster metadata)
FORMAT_INFO="$DATA/format.env"         # cluster id and ports used at format time (informational)
LOGS="$TARGET/logs"
PROPS="$TARGET/server.properties"      # generated from $HERE/server.properties
PIDFILE="$TARGET/kafka.pid"

PORT="${RTDS_KAFKA_PORT:-9092}"
CPORT="${RTDS_KAFKA_CONTROLLER_PORT:-9093}"
HEAP_OPTS="${RTDS_KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
START_TIMEOUT="${RTDS_KAFKA_START_TIMEOUT:-60}"
STOP_TIMEOUT="${RTDS_KAFKA_STOP_TIMEOUT:-30}"
if [[ -n "${JAVA_HOME:-}" ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA="java"; fi

say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: ERROR: %s\n' "$*" >&2; exit 1; }

for v in PORT CPORT START_TIMEOUT STOP_TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number (got '${!v}')"
done
[[ "$PORT" != "$CPORT" ]] || die "RTDS_KAFKA_PORT and RTDS_KAFKA_CONTROLLER_PORT must differ"

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml"; }

now() { if [[ -n "${EPOCHREALTIME:-}" ]]; then printf '%s' "${EPOCHREALTIME/,/.}"; else date +%s; fi; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True if $1 is a live (non-zombie) JVM running our broker.
is_broker_pid() {
  local args
  [[ "$1" =~ ^[0-9]+$ ]] || return 1
  args="$(ps -ww -o args= -p "$1" 2>/dev/null)" || return 1
  [[ "$args" == *"kafka.Kafka $PROPS"* && "$args" != *"<defunct>"* ]]
}

# Prints the pid of our running broker; fails if it is not running.
broker_pid() {
  local pid
  [[ -f "$PIDFILE" ]] || return 1
  pid="$(<"$PIDFILE")"
  is_broker_pid "$pid" || return 1
  printf '%s\n' "$pid"
}

# Client port of the broker as written in the generated properties (what is actually running).
running_port() {
  sed -n 's/^listeners=PLAINTEXT:\/\/[^:]*:\([0-9][0-9]*\).*/\1/p' "$PROPS" 2>/dev/null | head -n1
}

need_fetch() { [[ ! -f "$STAMP" || "$HERE/pom.xml" -nt "$STAMP" ]]; }

fetch() {
  local t0 tmp="$TARGET/lib.tmp"
  command -v mvn >/dev/null 2>&1 || die "mvn not found (Maven is needed to fetch the Kafka jars once)"
  if broker_pid >/dev/null; then die "broker is running; stop it before re-fetching jars"; fi
  t0="$(now)"
  say "fetching Kafka $(kafka_version) jars from Maven Central into target/lib ..."
  rm -rf "$tmp"
  mkdir -p "$TARGET"
  # Output goes to target/fetch.log (Debian's Maven 3.8 prints stray ANSI resets even with -q -B).
  if ! mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory="$tmp" \
       >"$TARGET/fetch.log" 2>&1 </dev/null; then
    rm -rf "$tmp"
    tail -n 40 "$TARGET/fetch.log" >&2
    die "maven could not fetch the jars (full output: $TARGET/fetch.log)"
  fi
  rm -rf "$LIB"
  mv "$tmp" "$LIB"
  touch "$STAMP"
  say "jars ready: $(find "$LIB" -name '*.jar' | wc -l | tr -d ' ') jars, $(du -sh "$LIB" | cut -f1) in $(elapsed "$t0")s"
}

sed_escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

render_props() {
  mkdir -p "$TARGET"
  sed -e "s|@KAFKA_PORT@|$PORT|g" \
      -e "s|@CONTROLLER_PORT@|$CPORT|g" \
      -e "s|@LOG_DIR@|$(sed_escape "$KAFKA_LOG_DIR")|g" \
      "$HERE/server.properties" > "$PROPS.tmp"
  mv "$PROPS.tmp" "$PROPS"
}

# A random Kafka Uuid in its base64url form (22 chars), never starting with '-'.
new_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* ]] && { printf '%s\n' "$id"; return; }
  done
}

format_if_needed() {
  local cid out
  # Already formatted: keep the data. (Changing the ports later is fine: the single
  # standalone voter re-registers its new controller endpoint on startup.)
  if [[ -f "$KAFKA_LOG_DIR/meta.properties" ]]; then return 0; fi
  mkdir -p "$DATA" "$LOGS"
  cid="$(new_cluster_id)"
  if ! out="$("$JAVA" -cp "$LIB/*" -Dlog4j2.configurationFile="$HERE/tools-log4j2.yaml" \
        kafka.tools.StorageTool format --standalone -t "$cid" -c "$PROPS" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "storage format failed"
  fi
  printf 'cluster_id=%s\nport=%s\ncontroller_port=%s\n' "$cid" "$PORT" "$CPORT" > "$FORMAT_INFO"
  say "formatted new storage in target/data (cluster id $cid)"
}

print_failure_logs() {
  local f shown=0
  for f in "$LOGS/server.log" "$LOGS/kafka.out"; do
    if [[ -s "$f" ]]; then
      printf -- '----- last 40 lines of %s -----\n' "$f" >&2
      tail -n 40 "$f" >&2
      shown=1
    fi
  done
  (( shown )) || say "(the broker wrote no log output yet)" >&2
}

cmd_start() {
  local pid t0 running
  if pid="$(broker_pid)"; then
    running="$(running_port)"
    say "already running (pid $pid) on 127.0.0.1:${running:-?}"
    [[ -z "$running" || "$running" == "$PORT" ]] || say "note: RTDS_KAFKA_PORT=$PORT differs from the running broker's port $running"
    return 0
  fi
  rm -f "$PIDFILE"
  port_open "$PORT"  && die "127.0.0.1:$PORT is already in use by another process"
  port_open "$CPORT" && die "127.0.0.1:$CPORT (controller) is already in use by another process"
  command -v "$JAVA" >/dev/null 2>&1 || die "java not found (Java 17+ required; set JAVA_HOME)"

  t0="$(now)"
  if need_fetch; then fetch; fi
  render_props
  mkdir -p "$LOGS" "$DATA"
  format_if_needed

  # One run per server.log: keep the previous run's log next to it.
  if [[ -f "$LOGS/server.log" ]]; then mv -f "$LOGS/server.log" "$LOGS/server.prev.log"; fi
  : > "$LOGS/kafka.out"

  say "starting Kafka $(kafka_version) on 127.0.0.1:$PORT (controller 127.0.0.1:$CPORT) ..."
  local -a launcher=()
  if command -v setsid >/dev/null 2>&1; then launcher+=(setsid); fi
  launcher+=(nohup)
  # SC2016: $$ must expand in the inner bash. SC2086: HEAP_OPTS is a list of JVM flags.
  # shellcheck disable=SC2016,SC2086
  "${launcher[@]}" bash -c 'echo $$ > "$0"; exec "$@"' "$PIDFILE" \
    "$JAVA" $HEAP_OPTS \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOGS" -Dlog4j2.configurationFile="$HERE/log4j2.yaml" \
    -cp "$LIB/*" kafka.Kafka "$PROPS" \
    </dev/null >>"$LOGS/kafka.out" 2>&1 &
  local launched=$!

  # Ready = the broker logged "Kafka Server started" (controller + broker up, broker unfenced)
  # and the client port accepts connections.
  local deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if [[ -f "$PIDFILE" ]]; then
      if ! pid="$(broker_pid)"; then
        print_failure_logs
        rm -f "$PIDFILE"
        die "broker exited during startup"
      fi
      if grep -q 'Kafka Server started' "$LOGS/server.log" 2>/dev/null && port_open "$PORT"; then
        break
      fi
    elif ! kill -0 "$launched" 2>/dev/null; then
      print_failure_logs
      die "broker launcher exited during startup"
    fi
    if (( SECONDS >= deadline )); then
      print_failure_logs
      kill -KILL "${pid:-$launched}" 2>/dev/null || true
      rm -f "$PIDFILE"
      die "broker not ready after ${START_TIMEOUT}s (killed it)"
    fi
    sleep 0.2
  done
  say "started (pid $pid) on 127.0.0.1:$PORT in $(elapsed "$t0")s; logs: $LOGS/server.log"
}

cmd_stop() {
  local pid i
  if ! pid="$(broker_pid)"; then
    rm -f "$PIDFILE"
    say "not running"
    return 0
  fi
  say "stopping (pid $pid) ..."
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
    is_broker_pid "$pid" || break
    sleep 0.2
  done
  if is_broker_pid "$pid"; then
    say "did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do is_broker_pid "$pid" || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE"
  say "stopped"
}

cmd_status() {
  local pid port
  if pid="$(broker_pid)"; then
    port="$(running_port)"
    if port_open "${port:-$PORT}"; then
      say "running (pid $pid) on 127.0.0.1:${port:-$PORT}"
      return 0
    fi
    say "process $pid is up but 127.0.0.1:${port:-$PORT} is not accepting connections"
    return 1
  fi
  say "not running"
  return 1
}

cmd_reset() {
  cmd_stop
  rm -rf "$DATA"
  say "data deleted (target/data); the next start formats a clean broker"
}

cmd_logs() {
  local follow=0 lines=100 a
  for a in "$@"; do
    case "$a" in
      -f|--follow) follow=1 ;;
      ''|*[!0-9]*) die "usage: $0 logs [-f] [LINES]" ;;
      *) lines="$a" ;;
    esac
  done
  [[ -f "$LOGS/server.log" ]] || die "no broker log yet ($LOGS/server.log)"
  if (( follow )); then exec tail -n "$lines" -F "$LOGS/server.log"; fi
  tail -n "$lines" "$LOGS/server.log"
}

# Run any Kafka CLI class from the same jars, e.g.
#   kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:9092 --list
cmd_tool() {
  [[ $# -ge 1 ]] || die "usage: $0 tool <main-class> [args...]"
  if need_fetch; then fetch >&2; fi
  exec "$JAVA" -Dlog4j2.configurationFile="$HERE/tools-log4j2.yaml" -cp "$LIB/*" "$@"
}

# kafka.sh topics --list | --describe --topic x | --create --topic x --partitions 3 ...
cmd_topics() {
  local port
  port="$(running_port)"
  cmd_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:${port:-$PORT}" "$@"
}

usage() {
  cat <<EOF
usage: $0 <command>
  start    fetch jars if needed, format storage on first run, start the broker, wait until ready
  stop     stop the broker (SIGTERM, SIGKILL after ${STOP_TIMEOUT}s)
  status   exit 0 if the broker is running and accepting connections, 1 otherwise
  reset    stop and delete all data (next start is a clean broker)
  logs     print the broker log tail: logs [-f] [LINES]
  fetch    (re)fetch the jars with Maven into target/lib
  tool     run a Kafka CLI class from the jars: tool <main-class> [args...]
  topics   shortcut for TopicCommand against the local broker: topics --list
Kafka $(kafka_version); client 127.0.0.1:\$RTDS_KAFKA_PORT (${PORT}), controller 127.0.0.1:\$RTDS_KAFKA_CONTROLLER_PORT (${CPORT})
EOF
}

cmd="${1:-help}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
  start)  cmd_start ;;
  stop)   cmd_stop ;;
  status) cmd_status ;;
  reset)  cmd_reset ;;
  logs)   cmd_logs "$@" ;;
  fetch)  fetch ;;
  tool)   cmd_tool "$@" ;;
  topics) cmd_topics "$@" ;;
  help|-h|--help) usage ;;
  *) usage >&2; exit 2 ;;
esac
