#!/usr/bin/env bash
# Runs every go test -fuzz target of syncml-imap, one after the other,
# each for the given time, and prints one table: target, executions
# reached, seconds fuzzed, result. Exits non-zero when any target failed
# (a failing input is written by go under the package's testdata/fuzz/).
# Not part of test.sh: fuzzing takes as long as you give it.
#
#   ./fuzz.sh [TIME] [PATTERN]
#
# TIME is a go duration per target (default 20s). PATTERN (an extended
# regular expression) keeps only the targets whose "package.FuzzName"
# matches, e.g. ./fuzz.sh 1m vformat.
#
# FUZZ_MINIMIZE (default 5s) caps the time go spends minimizing each new
# interesting input (go's default is 60s): its minimizer tries every
# sub-range of the input, quadratic in its length, so a kilobyte-sized
# input would keep a worker from fuzzing for the whole of a short run.
set -uo pipefail
cd "$(dirname "$0")"

fuzztime=${1:-20s}
pattern=${2:-}
minimize=${FUZZ_MINIMIZE:-5s}
logs=$(mktemp -d "${TMPDIR:-/tmp}/syncml-imap-fuzz.XXXXXX")

# package directory and target name, one pair a line.
targets=$(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . |
  grep -v '/testdata/' |
  sed -E 's|^\./(.*)/[^/]*_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]*)\(.*|\1 \2|' |
  sort -u)
[ -n "$targets" ] || { echo "fuzz.sh: no fuzz targets found" >&2; exit 1; }

rows=()
failed=0
while read -r dir name; do
  target="${dir##*/}.$name"
  [ -z "$pattern" ] || [[ "$dir/$name $target" =~ $pattern ]] || continue
  log="$logs/${dir//\//_}.$name.log"
  echo "fuzz.sh: $dir $name for $fuzztime" >&2
  go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "./$dir" >"$log" 2>&1
  rc=$?
  # The last status line of go's fuzzer:
  # "fuzz: elapsed: 21s, execs: 123456 (5878/sec), new interesting: ..."
  stats=$(grep -E '^fuzz: elapsed: .*execs: [0-9]+' "$log" | tail -n 1)
  execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$stats")
  elapsed=$(sed -nE 's/^fuzz: elapsed: ([0-9hms.]+),.*/\1/p' <<<"$stats")
  secs=$(awk -v d="$elapsed" 'BEGIN {
      s = 0
      while (match(d, /^[0-9.]+[hms]/)) {
        n = substr(d, 1, RLENGTH - 1); u = substr(d, RLENGTH, 1)
        s += n * (u == "h" ? 3600 : u == "m" ? 60 : 1)
        d = substr(d, RLENGTH + 1)
      }
      print s }')
  if [ $rc -eq 0 ]; then
    result=ok
  else
    failed=1
    result="FAIL (see $log)"
    if grep -q '\[build failed\]' "$log"; then
      result="build failed (see $log)"
    elif input=$(grep -oE 'testdata/fuzz/[^ ]+' "$log" | head -n 1); [ -n "$input" ]; then
      result="FAIL: $dir/$input"
    fi
  fi
  rows+=("$(printf '%-42s %12s %8s  %s' "$dir.$name" "${execs:--}" "${secs:--}" "$result")")
done <<<"$targets"

[ ${#rows[@]} -gt 0 ] || { echo "fuzz.sh: no target matches $pattern" >&2; exit 1; }
echo
printf '%-42s %12s %8s  %s\n' target execs seconds result
printf '%s\n' "${rows[@]}"
echo "(go's output of each target: $logs)"
exit $failed
