#!/usr/bin/env bash
# Stop the development Neo4j started by neo4j-start.sh for NEO4J_PORT (default 7687).
# SIGTERM (clean shutdown), then SIGKILL after NEO4J_STOP_TIMEOUT seconds (default 60).
# The store in <repo>/.neo4j/<port>/ is kept. Exits 0 when nothing runs.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
PORT=${NEO4J_PORT:-7687}
STOP_TIMEOUT=${NEO4J_STOP_TIMEOUT:-60}

if ! [[ $PORT =~ ^[0-9]+$ ]]; then
    echo "neo4j-stop: invalid NEO4J_PORT: $PORT" >&2
    exit 2
fi
if ! [[ $STOP_TIMEOUT =~ ^[0-9]+$ ]]; then
    echo "neo4j-stop: invalid NEO4J_STOP_TIMEOUT: $STOP_TIMEOUT" >&2
    exit 2
fi

STATE_DIR=$REPO_ROOT/.neo4j/$PORT
PID_FILE=$STATE_DIR/neo4j.pid
READY_FILE=$STATE_DIR/ready

is_launcher() {
    [[ $1 =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null &&
        ps -p "$1" -o args= 2>/dev/null | grep -q 'dev-neo4j\.jar'
}

pid=""
[[ -f $PID_FILE ]] && pid=$(<"$PID_FILE")
if [[ -z $pid ]] || ! is_launcher "$pid"; then
    rm -f "$PID_FILE" "$READY_FILE"
    echo "Neo4j not running"
    exit 0
fi

kill -TERM "$pid" 2>/dev/null || true
deadline=$((SECONDS + STOP_TIMEOUT))
while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
        echo "neo4j-stop: Neo4j (pid $pid) did not stop within ${STOP_TIMEOUT}s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        break
    fi
    sleep 0.5
done

rm -f "$PID_FILE" "$READY_FILE"
echo "Neo4j stopped (bolt://127.0.0.1:$PORT)"
