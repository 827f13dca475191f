#!/usr/bin/env bash
# Start a development Neo4j (embedded Neo4j Community 5.26, Bolt only, no auth)
# on bolt://127.0.0.1:$NEO4J_PORT, in the background. For tests and local work.
#
#   NEO4J_PORT           Bolt port (default 7687); each port has its own store
#                        in <repo>/.neo4j/<port>/ (data, logs, launcher.log).
#   NEO4J_START_TIMEOUT  seconds to wait for Bolt to answer (default 120).
#   NEO4J_HEAP           JVM max heap (default 1g).
#   NEO4J_JAVA_OPTS      extra JVM options (word-split).
#   JAVA_HOME            Java 17+ to use (default: java on PATH).
#
# Builds tools/neo4j/target/dev-neo4j.jar with Maven first when it is missing or
# older than its sources. Idempotent: when the Neo4j of this port already runs
# and answers Bolt, says so and exits 0. Stop with neo4j-stop.sh.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
PORT=${NEO4J_PORT:-7687}
START_TIMEOUT=${NEO4J_START_TIMEOUT:-120}
HEAP=${NEO4J_HEAP:-1g}

if ! [[ $PORT =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then
    echo "neo4j-start: invalid NEO4J_PORT: $PORT" >&2
    exit 2
fi
if ! [[ $START_TIMEOUT =~ ^[0-9]+$ ]]; then
    echo "neo4j-start: invalid NEO4J_START_TIMEOUT: $START_TIMEOUT" >&2
    exit 2
fi

BASE_DIR=$REPO_ROOT/.neo4j
STATE_DIR=$BASE_DIR/$PORT
PID_FILE=$STATE_DIR/neo4j.pid
READY_FILE=$STATE_DIR/ready
LOG_FILE=$STATE_DIR/launcher.log
JAR=$SCRIPT_DIR/target/dev-neo4j.jar
URL=bolt://127.0.0.1:$PORT

mkdir -p "$STATE_DIR"

# True when pid $1 is a live dev-neo4j launcher.
is_launcher() {
    [[ $1 =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null &&
        ps -p "$1" -o args= 2>/dev/null | grep -q 'dev-neo4j\.jar'
}

# bolt_answers and port_busy.
source "$SCRIPT_DIR/bolt.sh"

java_bin() {
    if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
        echo "$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then
        command -v java
    else
        echo "neo4j-start: no java found (need Java 17+; set JAVA_HOME)" >&2
        return 1
    fi
}

needs_build() {
    [[ -f $JAR ]] || return 0
    [[ $SCRIPT_DIR/pom.xml -nt $JAR ]] && return 0
    [[ -n $(find "$SCRIPT_DIR/src" -type f -newer "$JAR" -print -quit) ]] && return 0
    return 1
}

build_jar() {
    if ! command -v mvn >/dev/null 2>&1; then
        echo "neo4j-start: mvn not found (install Maven 3.6.3+, e.g. apt-get install maven)" >&2
        return 1
    fi
    # One build at a time, whatever the port.
    exec 8>"$BASE_DIR/build.lock"
    flock 8
    if needs_build; then
        echo "Building the dev Neo4j launcher (Maven; the first build downloads ~150 MB)..." >&2
        local build_log=$BASE_DIR/build.log
        if ! (cd "$SCRIPT_DIR" && mvn -q -B package) >"$build_log" 2>&1; then
            echo "neo4j-start: Maven build failed; output follows ($build_log):" >&2
            cat "$build_log" >&2
            exec 8>&-
            return 1
        fi
        touch "$JAR"
    fi
    exec 8>&-
}

# Starts of the same port are serialised, so concurrent callers see one server.
exec 9>"$STATE_DIR/start.lock"
flock 9

# Already started by this script?
pid=""
if [[ -f $PID_FILE ]]; then
    pid=$(<"$PID_FILE")
    if is_launcher "$pid"; then
        if bolt_answers "$PORT"; then
            echo "Neo4j already running on $URL"
            exit 0
        fi
        echo "Neo4j (pid $pid) is running but Bolt does not answer yet; waiting..." >&2
    else
        rm -f "$PID_FILE" "$READY_FILE"
        pid=""
    fi
fi

if [[ -z $pid ]]; then
    if port_busy "$PORT"; then
        echo "neo4j-start: 127.0.0.1:$PORT is already in use by a process not started by this script;" >&2
        echo "  stop it, or choose another port with NEO4J_PORT." >&2
        exit 1
    fi

    needs_build && build_jar

    JAVA=$(java_bin)
    java_major=$("$JAVA" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p')
    if [[ -z $java_major || $java_major -lt 17 ]]; then
        echo "neo4j-start: $JAVA is Java ${java_major:-?}; Neo4j 5 needs Java 17+ (set JAVA_HOME)" >&2
        exit 1
    fi

    JVM_OPTS=(
        "-Xmx$HEAP" -Xms256m
        -XX:+UseG1GC
        -XX:-OmitStackTraceInFastThrow
        -XX:+ExitOnOutOfMemoryError
        -Djdk.nio.maxCachedBufferSize=1024
        # Neo4j 5 reaches into the JDK (page cache: DirectByteBuffer; transaction
        # logs: FileDescriptor and FileChannelImpl). Without these it falls back
        # to slower paths and logs warnings. Same set as Neo4j's own neo4j.conf.
        --add-opens=java.base/java.nio=ALL-UNNAMED
        --add-opens=java.base/java.io=ALL-UNNAMED
        --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
        -Dio.netty.tryReflectionSetAccessible=true
    )
    if [[ -n ${NEO4J_JAVA_OPTS:-} ]]; then
        # shellcheck disable=SC2206
        JVM_OPTS+=($NEO4J_JAVA_OPTS)
    fi

    # Run a private copy of the jar: a rebuild rewrites target/dev-neo4j.jar in
    # place, which would break JVMs still loading classes from it.
    RUN_JAR=$STATE_DIR/dev-neo4j.jar
    if [[ ! -f $RUN_JAR || $JAR -nt $RUN_JAR ]]; then
        cp -f "$JAR" "$RUN_JAR.tmp"
        mv -f "$RUN_JAR.tmp" "$RUN_JAR"
    fi

    rm -f "$READY_FILE"
    if [[ -f $LOG_FILE ]]; then mv -f "$LOG_FILE" "$LOG_FILE.1"; fi
    # setsid: not killed with the caller's terminal or process group. Locks are not inherited.
    (cd "$STATE_DIR" && exec nohup setsid "$JAVA" "${JVM_OPTS[@]}" -jar "$RUN_JAR" "$PORT" "$STATE_DIR" \
        </dev/null >"$LOG_FILE" 2>&1 8>&- 9>&-) &
    pid=$!
    echo "$pid" >"$PID_FILE"
    echo "Starting Neo4j on $URL (pid $pid, log $LOG_FILE)..." >&2
fi

deadline=$((SECONDS + START_TIMEOUT))
while :; do
    if [[ -f $READY_FILE ]] && bolt_answers "$PORT"; then
        break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "neo4j-start: Neo4j exited during startup. Last lines of $LOG_FILE:" >&2
        tail -n 40 "$LOG_FILE" >&2 || true
        rm -f "$PID_FILE" "$READY_FILE"
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "neo4j-start: Neo4j did not answer on $URL within ${START_TIMEOUT}s; stopping it. See $LOG_FILE" >&2
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$PID_FILE" "$READY_FILE"
        exit 1
    fi
    sleep 0.5
done

echo "Neo4j ready on $URL"
