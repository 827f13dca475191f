#!/usr/bin/env bash
# Runs go test with a Neo4j to test against: NEO4J_URI when it is set, else
# a Neo4j already answering on 127.0.0.1:$NEO4J_PORT, else the development
# Neo4j, started here and stopped afterwards (even when tests fail) unless
# another test run still uses it. With a Neo4j ensured, CI=true makes the
# Neo4j tests fail rather than skip should it become unreachable.
#
# NEO4J_ROUTING_TEST, when set, holds the arguments of a second go test run
# over neo4j:// (the driver's routing, as against a cluster) when the first
# ran over bolt://.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/neo4j/bolt.sh

if [[ -z ${NEO4J_URI:-} ]]; then
  port=${NEO4J_PORT:-7687}
  mkdir -p ".neo4j/$port"
  # Every run holds a shared lock; only the last one out may stop Neo4j.
  exec 7>".neo4j/$port/users.lock"
  flock -s 7
  if bolt_answers "$port"; then
    echo "using the Neo4j already answering on bolt://127.0.0.1:$port"
  else
    tools/neo4j/neo4j-start.sh
    trap 'flock -n -x 7 && tools/neo4j/neo4j-stop.sh || echo "leaving Neo4j running for another test run"' EXIT
  fi
  export NEO4J_URI=bolt://127.0.0.1:$port
fi
export CI=true

echo "go test $* (NEO4J_URI=$NEO4J_URI)"
go test "$@"
if [[ -n ${NEO4J_ROUTING_TEST:-} && $NEO4J_URI == bolt://* ]]; then
  export NEO4J_URI=neo4j://${NEO4J_URI#bolt://}
  echo "go test $NEO4J_ROUTING_TEST (NEO4J_URI=$NEO4J_URI)"
  # shellcheck disable=SC2086 # the arguments are words
  go test $NEO4J_ROUTING_TEST
fi
