#!/usr/bin/env bash
# GPU proof of the factory's wheels on a machine with an NVIDIA GPU whose python3 holds torch (issue 11).
#     bash benchmarks/gpu_proof_device.sh OUT_DIR SET_DIR...
# Each SET_DIR holds the wheels of one set (e.g. newest releases, older releases; extra pure-Python
# wheels a release needs, such as transformers<5 for mamba-ssm 2.2.x, may sit beside them) and, under
# tests/<package>/, the test files that ship in that release's sdist (only tests/, never the sdist's
# package folder, so the installed wheel is what gets imported). Per set it installs the wheels with no
# dependencies into a private folder (the machine's own torch, triton, einops are used), runs each
# package's sdist tests with pytest (JUnit XML into OUT_DIR) and the numerics check against the reference
# implementations (factory/data/gpu_numerics.py, JSON lines into OUT_DIR), and prints the counts.
# A suite past SUITE_TIMEOUT seconds (default 240) is interrupted and reports what ran. pytest-benchmark, where
# installed, is off: beside xdist it stops the session with an INTERNALERROR (seen on the device).
set -uo pipefail
out=${1:?usage: gpu_proof_device.sh OUT_DIR SET_DIR...}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
status=0
for set in "$@"; do
  name=$(basename "$set")
  site=$(mktemp -d)
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" "$set"/*.whl || { status=1; continue; }
  echo "== set $name: $(cd "$set" && ls -1 *.whl | tr '\n' ' ')"
  for tests in "$set"/tests/*/; do
    [ -d "$tests" ] || continue
    package=$(basename "$tests")
    (cd "$tests" && PYTHONPATH=$site timeout -s INT ${SUITE_TIMEOUT:-240} python3 -m pytest -q -p no:cacheprovider -p no:benchmark -n ${PYTEST_WORKERS:-12} --maxfail=50 \
        --junitxml "$out/$name-$package-tests.xml" . > "$out/$name-$package-tests.txt" 2>&1)
    echo "   $package sdist tests: rc=$? $(tail -1 "$out/$name-$package-tests.txt")"
  done
  for package in causal-conv1d mamba-ssm; do
    PYTHONPATH=$site python3 "$here/factory/data/gpu_numerics.py" "$package" > "$out/$name-$package-numerics.jsonl" 2>&1 || status=1
    echo "   $package numerics: $(grep -c '"ok": true' "$out/$name-$package-numerics.jsonl") ok of $(grep -c '"package"' "$out/$name-$package-numerics.jsonl") cases"
  done
done
exit $status
