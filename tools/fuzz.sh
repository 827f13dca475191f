#!/usr/bin/env bash
# Runs every Go native fuzz target (func FuzzXxx in a _test.go file) for
# FUZZTIME each, one target at a time with FUZZPARALLEL workers (minimising a
# new input for at most 200 runs, which keeps the time for fuzzing), then prints
# each target's executions and verdict. A failing input is written under
# the package's testdata/fuzz/FuzzXxx/, where `go test` replays it from
# then on; commit it with its fix. Exits 1 when any target failed.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-60s}
# go test's own deadline for each target, compile and minimising included:
# a hanging input fails the run rather than stalling it.
timeout=${FUZZTIMEOUT:-20m}
parallel=${FUZZPARALLEL:-1}

# inputs counts the inputs in a fuzz corpus directory.
inputs() {
  if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi
}

# end_of_fuzztime_race reports whether the log of target $1 failed only
# because Go 1.26's fuzzing coordinator reported its own end of -fuzztime
# as a failure, with no input at fault (go.dev/issue/75804, fixed in Go
# 1.27): the bare "context deadline exceeded" line, no failing input and
# no test timeout. The caller also checks that no input was written.
end_of_fuzztime_race() {
  grep -qx -- "--- FAIL: $1 ([0-9.]*s)" "$2" &&
    grep -qx '    context deadline exceeded' "$2" &&
    ! grep -q 'Failing input written\|panic: test timed out' "$2"
}

summary=()
failed=0
while IFS=: read -r file name; do
  pkg=./$(dirname "$file")
  echo "== $name ($pkg) for $fuzztime"
  log=$(mktemp)
  corpus="$(dirname "$file")/testdata/fuzz/$name"
  before=$(inputs "$corpus")
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 200x -parallel "$parallel" -timeout "$timeout" "$pkg" 2>&1 | tee "$log"; then
    verdict=ok
  elif [ "$(inputs "$corpus")" -eq "$before" ] && end_of_fuzztime_race "$name" "$log"; then
    verdict="ok (Go's end-of-fuzztime race, go.dev/issue/75804)"
  else
    verdict=FAILED
    failed=1
  fi
  execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  rm -f "$log"
  summary+=("$(printf '%-26s %-14s %12s execs  %s' "$name" "$pkg" "${execs:-0}" "$verdict")")
done < <(grep -rHoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' . | sed 's|^\./||; s|:func |:|' | sort)

echo
printf '%s\n' "${summary[@]}"
exit "$failed"
