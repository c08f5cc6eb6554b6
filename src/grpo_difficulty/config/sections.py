"""The typed config: a frozen dataclass per config section and `build`, which makes them
from the schema-validated dict.

config/schema.yaml is the user-facing validation (types, ranges, defaults) that Snakemake
runs. Each dataclass field carries its default and a one-line help, as TRL's `GRPOConfig`
does; tests/test_config.py checks that the schema's defaults and these agree, and
docs/config.md is generated from both (config/docs.py). Dataset specs stay dicts: their
keys depend on the loader and are checked by the tasks package.

A leaf: it imports no other module of the project, so every module (tasks included) can
import it without a cycle. Torch-free: the Snakefile imports it at parse time.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = Path(__file__).resolve().parents[3] / "config" / "schema.yaml"


def setting(default=dataclasses.MISSING, help: str = ""):
    """A dataclass field with its default (lists and dicts copied per instance) and help."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


class ConfigError(ValueError):
    """A config value no run can use; the message starts with the key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"config error at {key}: {message}")


@dataclass(frozen=True)
class PromptConfig:
    format: str = setting(help="fewshot, boxed or xml: where the answer goes")
    chat_template: bool = setting(False, "render through the tokenizer's chat template")
    system: str | None = setting(None, "system prompt (a system turn, or the first paragraph)")
    examples: list = setting([], "worked examples {question, answer} for the fewshot format")


@dataclass(frozen=True)
class BackendConfig:
    name: str = setting("hf", "generation backend of probing and evaluation: hf or vllm")
    batch_size: int = setting(64, "hf: sequences per generate call")
    dtype: str = setting("auto", "auto = float32 on CPU; on GPU bfloat16 (hf, where native) or vLLM's choice")
    tensor_parallel_size: int = setting(1, "vllm: GPUs per engine")
    gpu_memory_utilization: float = setting(0.85, "vllm: share of GPU memory the engine may take")
    max_model_len: int | None = setting(None, "vllm: context length (None = the model's)")
    cpu_kvcache_space_gb: float = setting(2.0, "vllm on CPU: GB of RAM for the KV cache")


@dataclass(frozen=True)
class QuantizationConfig:
    mode: str = setting("none", "bitsandbytes weights of the base model: none, 4bit (NF4) or 8bit (LLM.int8)")
    double_quant: bool = setting(False, "4bit: quantize the quantization constants too")

    @property
    def enabled(self) -> bool:
        return self.mode != "none"


@dataclass(frozen=True)
class ProbeConfig:
    k: int = setting(help="sampled answers per problem (a multiple of block_size)")
    block_size: int = setting(4, "samples per stored block; K grows by whole blocks")
    shard_size: int = setting(100, "problems per probe job")
    temperature: float = setting(0.7, "sampling temperature")
    top_p: float = setting(1.0, "nucleus sampling")
    max_new_tokens: int = setting(8, "answer length cap")
    seed: int = setting(0, "probe seed")
    allow_sampling_mismatch: bool = setting(False, "probe sampling may differ from training's (else a config error)")


@dataclass(frozen=True)
class SubsetConfig:
    strategy: str = setting(help="easy, medium, hard, random, band, base_wrong, base_right, tier or all")
    budget: float | None = setting(None, "a count, or a fraction (<= 1.0) of the probed problems")
    lo: float | None = setting(None, "band: lowest pass rate")
    hi: float | None = setting(None, "band: highest pass rate")
    tiers: list | None = setting(None, "tier: tiers to keep")
    per_seed: bool = setting(False, "draw the selection anew for every training seed (random draws only)")


@dataclass(frozen=True)
class AdapterConfig:
    r: int = setting(16, "LoRA rank")
    alpha: float = setting(32, "LoRA alpha")
    dropout: float = setting(0.0, "LoRA dropout")
    target_modules: str | list = setting("all-linear", "modules that get an adapter")


@dataclass(frozen=True)
class RewardWeights:
    correctness: float = setting(1.0, "1 for a correct final answer")
    format: float = setting(0.0, "1 when the answer sits where the prompt format asks")
    length: float = setting(0.0, "-(completion tokens / max_completion_length)")


@dataclass(frozen=True)
class DynamicSamplingConfig:
    enabled: bool = setting(False, "drop zero-variance groups and refill the batch")
    max_extra_rounds: int = setting(4, "cap of extra generation rounds per optimizer step")


@dataclass(frozen=True)
class CurriculumLevel:
    tiers: list = setting(help="tiers of the subset's problems this level trains on")
    steps: int = setting(help="optimizer steps of this level")
    max_completion_length: int | None = setting(None, "default: train.max_completion_length")
    epsilon: float | None = setting(None, "lower clip range; default: train.epsilon")
    epsilon_high: float | None = setting(None, "upper clip range; default: train.epsilon_high")


@dataclass(frozen=True)
class RolloutConfig:
    backend: str = setting("hf", "rollouts by transformers generate (hf) or by vLLM (vllm)")
    mode: str = setting(
        "colocate",
        "vllm: colocate (an engine inside each training process, on its GPU) or server "
        "(a vllm serve process on GPUs of its own in the same job)",
    )
    gpu_memory_utilization: float = setting(
        0.3, "vllm: share of a GPU's memory the engine takes (colocate: the rest is training's)"
    )
    tensor_parallel_size: int = setting(1, "vllm: GPUs per engine (server: the server's GPUs)")
    max_model_len: int | None = setting(None, "vllm: context length (None = the model's)")
    enable_sleep_mode: bool = setting(False, "vllm colocate: free the engine's memory during the optimizer step")
    server_timeout: float = setting(900.0, "vllm server: seconds to wait for it to answer")
    sync: str = setting(
        "adapter",
        "vllm: what the engine receives after each optimizer step: the LoRA adapter alone "
        "(adapter; colocate, one process) or the merged full weights (merged; TRL's sync)",
    )


# Settings a curriculum level may give itself; unset ones come from train.
LEVEL_SETTINGS = ("max_completion_length", "epsilon", "epsilon_high")


@dataclass(frozen=True)
class TrainConfig:
    learning_rate: float = setting(help="optimizer learning rate")
    seeds: list = setting([0], "one adapter per seed per subset")
    steps: int | None = setting(None, "optimizer steps (with a curriculum: the levels' total)")
    lr_scheduler: str = setting("constant", "transformers lr_scheduler_type")
    warmup_steps: int = setting(0, "learning-rate warmup steps")
    weight_decay: float = setting(0.0, "AdamW weight decay")
    max_grad_norm: float = setting(1.0, "gradient clipping")
    prompts_per_step: int = setting(1, "distinct prompts per optimizer step")
    gradient_accumulation_steps: int = setting(1, "micro-batches per optimizer step")
    num_generations: int = setting(8, "GRPO group size G")
    max_completion_length: int = setting(8, "completion length cap")
    temperature: float = setting(0.7, "rollout temperature")
    top_p: float = setting(1.0, "rollout nucleus sampling")
    beta: float = setting(0.0, "KL coefficient (0 = no reference model)")
    loss_type: str = setting("dapo", "TRL loss_type")
    scale_rewards: str = setting("group", "TRL scale_rewards")
    epsilon: float = setting(0.2, "lower clip range")
    epsilon_high: float | None = setting(None, "upper clip range (None = epsilon)")
    mask_truncated_completions: bool = setting(False, "no loss on truncated completions")
    rewards: RewardWeights = setting(RewardWeights(), "reward weights (0 = off)")
    dynamic_sampling: DynamicSamplingConfig = setting(DynamicSamplingConfig(), "DAPO-style dynamic sampling")
    curriculum: list[CurriculumLevel] | None = setting(None, "tier levels trained in order on one adapter")
    save_steps: int = setting(20, "checkpoint interval (resume point)")
    dtype: str = setting("auto", "auto = bfloat16 on a GPU with native bf16, else float32")
    gradient_checkpointing: bool = setting(False, "recompute activations in the backward pass")
    optim: str = setting("adamw_torch_fused", "transformers optimizer name (e.g. adamw_8bit: needs bitsandbytes)")
    generation: RolloutConfig = setting(RolloutConfig(), "how rollouts are generated")
    processes: int | None = setting(None, "data-parallel processes (None = one per training GPU)")
    lora: AdapterConfig = setting(AdapterConfig(), "the LoRA adapter")
    shared_prompt: bool = setting(True, "prefill each group's prompt once for its G completions and loss rows")
    base_check: bool = setting(True, "per step, also sample the base model on the step's prompts (learnable/base)")
    report_to: str | list = setting("none", "experiment trackers: none, trackio, tensorboard, wandb, mlflow or a list")

    def level_steps(self) -> list[int]:
        """Optimizer steps of each training level: the curriculum's, or [steps]."""
        return [level.steps for level in self.curriculum] if self.curriculum else [self.steps]

    def levels(self) -> list[dict]:
        """The levels training runs through, in order: {tiers (None = all), steps, and the
        LEVEL_SETTINGS, a level's own or else train's}."""
        if not self.curriculum:
            return [dict(tiers=None, steps=self.steps, **{k: getattr(self, k) for k in LEVEL_SETTINGS})]
        return [
            dict(
                tiers=list(level.tiers),
                steps=level.steps,
                **{k: getattr(self, k) if getattr(level, k) is None else getattr(level, k) for k in LEVEL_SETTINGS},
            )
            for level in self.curriculum
        ]


@dataclass(frozen=True)
class EvaluateConfig:
    max_new_tokens: int = setting(8, "answer length cap")
    samples: int = setting(0, "sampled answers per problem (0 = greedy only)")
    temperature: float = setting(1.0, "temperature of the evaluation samples")
    top_p: float = setting(1.0, "nucleus sampling of the evaluation samples")
    seed: int = setting(0, "seed of the evaluation samples")
    pass_k: list = setting([], "k values of the unbiased pass@k in the report")
    every_steps: int | None = setting(None, "also evaluate checkpoints every this many steps")
    bootstrap: int = setting(2000, "bootstrap resamples behind the 95% intervals")


@dataclass(frozen=True)
class ExportConfig:
    push_to_hub: str | None = setting(None, "hub dataset repository the export is pushed to (None = no push)")
    private: bool = setting(False, "the pushed repository is created private")


@dataclass(frozen=True)
class ReportConfig:
    min_predicted_learnable: float = setting(5.0, "a subset predicted below this learnable % is flagged")


@dataclass(frozen=True)
class ResourceConfig:
    mem_mb: int = setting(4000, "memory per job (MB)")
    runtime: int = setting(60, "wall-time limit (minutes)")
    cpus_per_task: int = setting(2, "CPU cores per job (also torch threads)")
    gpu: int = setting(0, "GPUs per job (0 = CPU)")
    gpu_model: str | None = setting(None, "GPU type for the SLURM plugin")


@dataclass(frozen=True)
class ResourcesConfig:
    prepare: ResourceConfig = setting(ResourceConfig(), "data and model preparation")
    probe: ResourceConfig = setting(ResourceConfig(), "probe jobs")
    train: ResourceConfig = setting(ResourceConfig(), "training jobs")
    evaluate: ResourceConfig = setting(ResourceConfig(), "evaluation jobs")
    report: ResourceConfig = setting(ResourceConfig(), "merge, select, report")


@dataclass(frozen=True)
class Config:
    name: str = setting(help="experiment name: outputs under <results>/<name>/")
    model: str = setting(help='"embedded", a hub id, or "path:/dir"')
    datasets: dict = setting(help="named dataset specs (loader-specific keys)")
    train_set: str = setting(help="key of datasets to probe, select from and train on")
    eval_sets: list = setting(help="keys of datasets to evaluate on")
    prompt: PromptConfig = setting(help="prompt format")
    probe: ProbeConfig = setting(help="difficulty probe")
    subsets: dict[str, SubsetConfig] = setting(help="named training subsets")
    train: TrainConfig = setting(help="GRPO training")
    evaluate: EvaluateConfig = setting(EvaluateConfig(), "held-out evaluation")
    report: ReportConfig = setting(ReportConfig(), "what the selection checks and the report flag")
    compare_with: list = setting([], "other experiments put beside this one in the report")
    results: str = setting("results", "output folder")
    model_revision: str | None = setting(None, "hub revision (branch, tag, commit) of a hub model, None = main")
    quantization: QuantizationConfig = setting(QuantizationConfig(), "bitsandbytes quantization of the base model")
    backend: BackendConfig = setting(BackendConfig(), "generation backend")
    select_seed: int = setting(0, "seed of tie-breaking and random sampling in selection")
    export: ExportConfig = setting(ExportConfig(), "the difficulty export (results/<name>/export/)")
    resources: ResourcesConfig = setting(ResourcesConfig(), "per-rule-family resources")

    def eval_steps(self) -> list[int]:
        return eval_steps(self.train, self.evaluate)

    def runs(self) -> list[tuple[str, int]]:
        """(subset, seed) pairs: one trained adapter each."""
        return [(subset, seed) for subset in self.subsets for seed in self.train.seeds]

    def full_data_subset(self) -> str | None:
        """The full-data reference of steps-to-match: the first subset with strategy `all`."""
        return next((name for name, spec in self.subsets.items() if spec.strategy == "all"), None)


def eval_steps(train: TrainConfig, evaluation: EvaluateConfig) -> list[int]:
    """Intermediate checkpoints evaluated for accuracy-vs-steps curves (the final step is
    the run's own adapter): every evaluate.every_steps steps, none when unset."""
    every = evaluation.every_steps
    return list(range(every, sum(train.level_steps()), every)) if every else []


def build(cls, data: dict, where: str = ""):
    """A dataclass from a (validated) dict: nested sections become their dataclasses;
    a key the dataclass lacks is an error naming it."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}{unknown[0]}", f"unknown key; known: {sorted(names)}")
    return cls(**{key: _convert(hints[key], value, f"{where}{key}") for key, value in data.items()})


def nested_section(hint) -> tuple[type, str] | None:
    """(dataclass, how it nests: "object", "array" or "map") of a field whose type is a
    section (X, X | None, list[X], dict[str, X]), or None."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    for option in typing.get_args(hint) if union else (hint,):
        args = typing.get_args(option)
        if dataclasses.is_dataclass(option):
            return option, "object"
        if typing.get_origin(option) is list and args and dataclasses.is_dataclass(args[0]):
            return args[0], "array"
        if typing.get_origin(option) is dict and args and dataclasses.is_dataclass(args[1]):
            return args[1], "map"
    return None


def _convert(hint, value, where: str):
    nested = nested_section(hint)
    if value is None or nested is None:
        return value
    cls, kind = nested
    if kind == "object":
        return build(cls, value, f"{where}.")
    if kind == "array":
        return [build(cls, v, f"{where}[{i}].") for i, v in enumerate(value)]
    return {k: build(cls, v, f"{where}.{k}.") for k, v in value.items()}


def as_dict(obj) -> dict:
    """The plain dict of a config object (for rule params and hashing)."""
    return dataclasses.asdict(obj)
