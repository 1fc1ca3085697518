#!/usr/bin/env bash
# The per-arch cost factor of a CUDA extension build (issue 8: runner-hours from a measured factor, not
# from sm_90-only times). On a machine with nvcc and torch (no network needed):
#     bash benchmarks/arch_factor_device.sh TREES_TAR OUT_DIR
# TREES_TAR holds two copies of one sdist's source tree: full/ (upstream's setup.py, every arch it lists
# for this nvcc) and sm90/ (the same with only the sm_90 -gencode kept). Each is built once, cold, with
# pip's --no-build-isolation against the machine's torch; the CPU seconds (user + sys of the whole build,
# children included) and the wall time are printed, with the factor full / sm90.
set -euo pipefail
trees=${1:?usage: arch_factor_device.sh TREES_TAR OUT_DIR}
out=${2:?usage: arch_factor_device.sh TREES_TAR OUT_DIR}
mkdir -p "$out"
work=$(mktemp -d)
tar xzf "$trees" -C "$work"
nvcc --version | tail -2
echo "cores: $(nproc)"
for tree in sm90 full; do
  archs=$(grep -c 'arch=compute_' "$work/$tree/setup.py")
  TIMEFORMAT='%R %U %S'
  { time (cd "$work/$tree" && CAUSAL_CONV1D_FORCE_BUILD=TRUE MAX_JOBS=$(nproc) \
      python3 -m pip wheel -q --no-build-isolation --no-deps -w dist . > "$out/build-$tree.log" 2>&1); } 2> "$out/time-$tree.txt"
  read -r wall user sys < "$out/time-$tree.txt"
  size=$(python3 -c "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(sum(i.file_size for i in z.infolist() if i.filename.endswith('.so')))" "$work/$tree"/dist/*.whl)
  cpu=$(python3 -c "print(round($user + $sys, 1))")
  echo "$tree: $archs archs, wall ${wall}s, cpu ${cpu}s, extension $size bytes" | tee -a "$out/summary.txt"
done
python3 - "$out/summary.txt" <<'PY'
import re, sys
rows = {m[0]: (int(m[1]), float(m[2]), float(m[3])) for m in re.findall(r"^(\w+): (\d+) archs, wall ([\d.]+)s, cpu ([\d.]+)s", open(sys.argv[1]).read(), re.M)}
(a1, w1, c1), (an, wn, cn) = rows["sm90"], rows["full"]
print(f"factor full/sm90: cpu {cn / c1:.2f}x, wall {wn / w1:.2f}x for {an} archs vs {a1}; per extra arch {(cn / c1 - 1) / (an - a1):.2f}x of the sm_90-only cpu")
PY
