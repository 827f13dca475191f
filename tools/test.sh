#!/usr/bin/env bash
# Runs go test with a Neo4j to test against: NEO4J_URI when it is set,
# else the development Neo4j, started here and stopped again afterwards
# (even when tests fail) unless it was already running.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [[ -z "${NEO4J_URI:-}" ]]; then
  port=${NEO4J_PORT:-7687}
  pidfile=.neo4j/$port/neo4j.pid
  if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "using the development Neo4j already running on port $port"
  else
    tools/neo4j/neo4j-start.sh
    trap 'tools/neo4j/neo4j-stop.sh' EXIT
  fi
  export NEO4J_URI=bolt://127.0.0.1:$port
fi

echo "go test $* (NEO4J_URI=$NEO4J_URI)"
go test "$@"
