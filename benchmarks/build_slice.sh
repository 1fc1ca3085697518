#!/usr/bin/env bash
# Builds a profile's slice into one index, niced, resumable: `factory run` skips what is published, then
# `factory learn` records each outcome in factory/data/compat.toml and the plan is made again, so a release
# shown not to build against a torch gives way to the next older one. Stops when a run has no failure or
# learned nothing new. Run from a checkout that is not being edited (the run reads its code and data).
#     DATA=~/factory-data/pypi-here benchmarks/build_slice.sh PROFILE [ONLY_GLOB] [ROUNDS]
# e.g. benchmarks/build_slice.sh pypi-here '*torch2.8-*'; a second machine state without system CUDA:
#     benchmarks/without_system_cuda.sh benchmarks/build_slice.sh pypi-here
set -u
cd "$(dirname "$0")/.."
profile=${1:?usage: build_slice.sh PROFILE [ONLY_GLOB] [ROUNDS]}
only=${2:-*}
rounds=${3:-4}
data=${DATA:-$HOME/factory-data/$profile}
factory=.venv/bin/factory
for round in $(seq 1 "$rounds"); do
  echo "=== round $round $(date -u +%FT%TZ): $profile $only -> $data"
  nice -n 15 "$factory" run --profile "$profile" --only "$only" --data "$data" --work "$data-work" --jobs 1
  rc=$?
  report=$(ls -t "$data-work"/reports/*.json 2>/dev/null | head -1)
  [ -n "$report" ] || exit "$rc"
  before=$(md5sum < factory/data/compat.toml)
  "$factory" learn --report "$report"
  echo "=== round $round done: exit $rc $(date -u +%FT%TZ)"
  [ "$rc" = 0 ] && exit 0
  [ "$before" = "$(md5sum < factory/data/compat.toml)" ] && exit "$rc"
done
exit "$rc"
