"""What one weight sync of the rollout engine costs, adapter vs merged, as a table.

    python benchmarks/sync_cost.py [--model results/models/SmolLM2-135M-Instruct]
        [--threads 1] [--repeats 5] [--dtypes float32 bfloat16] [--lora-from config/experiments/hard-examples.yaml]

After each optimizer step the rollout engine must see the new policy
(train.generation.sync). Measured on the embedded model (or --model) with a fresh PEFT
LoRA adapter made as TRL makes it (`get_peft_model`, adapter weights in float32), the
LoRA of --lora-from's train.lora (default: hard-examples.yaml's r=32 on the 7 linear
projections), each sync --repeats times (median, min-max):
- adapter (sync: adapter, trainer/vllm_rollouts.py): `save_pretrained` of the adapter
  alone into a new folder, read back with safetensors as vLLM's LoRA loader reads it;
  bytes = adapter_model.safetensors;
- merged, TRL colocate (sync: merged): TRL's own `VLLMGeneration._iter_named_params`
  (merge_adapter, every base weight under vLLM's name, unmerge_adapter), each tensor
  copied into a buffer of its shape as the engine's `load_weights` copies it into its
  weights; bytes = the tensors handed over;
- merged, as a file: `merge_and_unload` on a copy of the model and a safetensors file of
  the merged weights (what a merged checkpoint or a file-based sync writes); bytes = file.
Without vLLM installed nothing reaches an engine: this is what each sync has to produce
and move. The byte counts of the hard-examples model (and of the 4B model its memory
comments size) come from their config.json numbers, by the same formula that reproduces
the embedded model's measured counts. Record results in docs/performance.md.
"""

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml

from grpo_difficulty.config.sections import TrainConfig, build

ROOT = Path(__file__).resolve().parents[1]
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# config.json of the hub models (huggingface.co/<id>/blob/main/config.json), the fields the count needs
HUB_MODELS = {
    "Qwen/Qwen2.5-1.5B-Instruct": dict(  # config/experiments/hard-examples.yaml's model
        model_type="qwen2",
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        vocab_size=151936,
        tie_word_embeddings=True,
    ),
    "Qwen/Qwen3-4B": dict(  # the 4B model of hard-examples.yaml's memory comments
        model_type="qwen3",
        hidden_size=2560,
        intermediate_size=9728,
        num_hidden_layers=36,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        vocab_size=151936,
        tie_word_embeddings=True,
    ),
}


def projection_shapes(arch: dict) -> dict[str, tuple[int, int]]:
    """(in, out) features of each linear projection of a decoder layer (Llama/Qwen layout)."""
    hidden, inter = arch["hidden_size"], arch["intermediate_size"]
    head_dim = arch.get("head_dim") or hidden // arch["num_attention_heads"]
    q, kv = arch["num_attention_heads"] * head_dim, arch["num_key_value_heads"] * head_dim
    return dict(
        q_proj=(hidden, q),
        k_proj=(hidden, kv),
        v_proj=(hidden, kv),
        o_proj=(q, hidden),
        gate_proj=(hidden, inter),
        up_proj=(hidden, inter),
        down_proj=(inter, hidden),
    )


def parameter_counts(arch: dict, r: int, targets) -> tuple[int, int]:
    """(base model parameters, LoRA parameters at rank r on `targets`) from config.json's
    numbers: embeddings (and an untied LM head), per layer the projections, Qwen2's q/k/v
    biases, Qwen3's q/k norms and the two RMSNorms, and the final norm."""
    shapes = projection_shapes(arch)
    head_dim = arch.get("head_dim") or arch["hidden_size"] // arch["num_attention_heads"]
    layer = sum(i * o for i, o in shapes.values()) + 2 * arch["hidden_size"]
    if arch["model_type"] == "qwen2" or arch.get("attention_bias"):
        layer += sum(shapes[p][1] for p in ("q_proj", "k_proj", "v_proj"))
    if arch["model_type"] == "qwen3":
        layer += 2 * head_dim
    embeddings = arch["vocab_size"] * arch["hidden_size"] * (1 if arch["tie_word_embeddings"] else 2)
    base = embeddings + arch["num_hidden_layers"] * layer + arch["hidden_size"]
    chosen = PROJECTIONS if targets == "all-linear" else targets
    lora = arch["num_hidden_layers"] * r * sum(sum(shapes[p]) for p in chosen)
    return base, lora


def timed(fn, repeats: int) -> tuple[int, list[float], list[float]]:
    """(fn's byte count, wall seconds and this process's CPU seconds of each of `repeats` calls)."""
    wall, cpu = [], []
    for _ in range(repeats):
        start = time.perf_counter(), time.process_time()
        size = fn()
        wall.append(time.perf_counter() - start[0])
        cpu.append(time.process_time() - start[1])
    return size, wall, cpu


def adapter_sync(model, folder: Path) -> int:
    """Our sync: the adapter alone, saved and read back; its file's bytes."""
    from safetensors.torch import load_file

    model.save_pretrained(folder)
    load_file(folder / "adapter_model.safetensors")
    return (folder / "adapter_model.safetensors").stat().st_size


def trl_merged_sync(model):
    """TRL's colocate sync on `model` without an engine: a function that walks TRL's own
    parameter iterator and copies each tensor into a buffer of its shape; the bytes moved."""
    from accelerate import Accelerator
    from trl.distributed import DistributedBackend
    from trl.generation.vllm_generation import VLLMGeneration

    walker = object.__new__(VLLMGeneration)  # no engine: only what _iter_named_params reads
    walker.model, walker._dist = model, DistributedBackend(Accelerator(cpu=True))
    engine = {name: torch.empty_like(param) for name, param in walker._iter_named_params()}

    def sync() -> int:
        moved = 0
        for name, param in walker._iter_named_params():
            engine[name].copy_(param)
            moved += param.numel() * param.element_size()
        return moved

    return sync


def merged_file(model, folder: Path) -> int:
    """The merged weights as one safetensors file (merge_and_unload on a copy); its bytes."""
    from safetensors.torch import save_model

    merged = copy.deepcopy(model).merge_and_unload()
    save_model(merged, str(folder / "model.safetensors"))
    return (folder / "model.safetensors").stat().st_size


def measure(model_dir: str, dtype: str, lora, repeats: int) -> tuple[list, tuple[int, int]]:
    """(sync, bytes, wall and CPU seconds per sync) of each sync on the model in `dtype`,
    and the model's (base, LoRA) parameter counts."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype))
    config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, target_modules=lora.target_modules, task_type="CAUSAL_LM")
    model = get_peft_model(base, config)  # as TRL's GRPOTrainer wraps the model
    counts = model.get_nb_trainable_parameters()  # (LoRA, all)
    with tempfile.TemporaryDirectory(prefix="sync_cost_") as tmp:
        rows = [
            ("adapter", *timed(lambda: adapter_sync(model, Path(tmp) / "adapter"), repeats)),
            ("merged, TRL colocate", *timed(trl_merged_sync(model), repeats)),
            ("merged, safetensors file", *timed(lambda: merged_file(model, Path(tmp)), repeats)),
        ]
    return rows, (counts[1] - counts[0], counts[0])


def mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "results/models/SmolLM2-135M-Instruct"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    parser.add_argument("--lora-from", default=str(ROOT / "config/experiments/hard-examples.yaml"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lora = build(TrainConfig, yaml.safe_load(Path(args.lora_from).read_text())["train"]).lora
    print(f"{args.threads} thread(s), {args.repeats} syncs each; LoRA r={lora.r} on {lora.target_modules}")
    print(
        "| model | weights | sync | bytes per sync | s / sync (median, min-max) | CPU s / sync (median) |\n"
        "|---|---|---|---|---|---|"
    )
    for dtype in args.dtypes:
        rows, measured = measure(args.model, dtype, lora, args.repeats)
        for sync, size, wall, cpu in rows:
            spread = f"{statistics.median(wall):.3f} ({min(wall):.3f}-{max(wall):.3f})"
            cpu_median = f"{statistics.median(cpu):.3f}"
            print(f"| {Path(args.model).name} | {dtype} | {sync} | {mb(size)} | {spread} | {cpu_median} |", flush=True)
    arch = yaml.safe_load((Path(args.model) / "config.json").read_text())
    models = {Path(args.model).name: arch, **HUB_MODELS}
    print("\nfrom config.json (adapter in float32 as PEFT keeps it, merged weights in bfloat16):")
    print("| model | base parameters | LoRA parameters | adapter bytes | merged bytes | merged / adapter |")
    print("|---|---|---|---|---|---|")
    for name, numbers in models.items():
        base, adapter = parameter_counts(numbers, lora.r, lora.target_modules)
        ratio = 2 * base / (4 * adapter)
        print(f"| {name} | {base:,} | {adapter:,} | {mb(4 * adapter)} | {mb(2 * base)} | {ratio:.0f} |")
    print(f"measured on {Path(args.model).name}: {measured[0]:,} base and {measured[1]:,} LoRA parameters")


if __name__ == "__main__":
    main()
