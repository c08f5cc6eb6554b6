"""What decides each cached output: the fields hashed into its folder's name and passed
as its rule's params; and, apart from them, how a job runs (`Execution`)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import tasks
from ..files import stable_hash
from .sections import BackendConfig, Config, as_dict, build

# Each cached artifact's folder is named by a hash of the fields listed here, and nothing
# else: a new config key with a default moves no cache folder unless it is added to a key
# (which is the moment to bump that key's version).


def data_key(spec: dict) -> str:
    """A prepared dataset: its spec as the loader reads it (schema defaults filled; a hub
    `revision` only when set), its loader's parser version, and for a file or hub dataset
    with a plugin scorer that its records are kept (which scorer is in no data key)."""
    loader = tasks.LOADERS[spec["loader"]]
    fields = {k: v for k, v in tasks.table_spec(spec).items() if k in loader.keys or k == "records"}
    if loader.parser_version > 1:  # version 1 is not hashed: tables written before versions keep their keys
        fields["parser_version"] = loader.parser_version
    return stable_hash(fields)


def probe_fields(cfg: Config) -> dict:
    """What decides the probe's samples, except the model and data (in the path) and K
    (samples are stored in blocks, so K can grow): prompt, backend name and dtype,
    sampling, seed, block_size (the sample files' layout), a plugin scorer and the base
    model's quantization (these two only when set). Shard size, batch size and the other
    execution settings stay out: they decide how the jobs are cut, not what they generate."""
    probe = cfg.probe
    return dict(
        prompt=as_dict(cfg.prompt),
        backend=generation_fields(cfg),
        block_size=probe.block_size,
        temperature=probe.temperature,
        top_p=probe.top_p,
        max_new_tokens=probe.max_new_tokens,
        seed=probe.seed,
        **scorer_fields(cfg, cfg.train_set),
        **quantization_fields(cfg),
    )


def scorer_fields(cfg: Config, dataset: str) -> dict:
    """A dataset's plugin scorer as it decides scores (tasks.scorer_reference: name, the
    reference, its source file's hash, the timeout) under key `scorer`; nothing for the
    built-in scorers, so that the keys and params of datasets without one stay as they were.
    Part of the probe key, the training params and the evaluation params of its dataset."""
    reference = tasks.scorer_reference(cfg.datasets[dataset], dataset)
    return dict(scorer=reference) if reference else {}


def quantization_fields(cfg: Config) -> dict:
    """The base model's quantization, as the probe key and the generating and training
    rules' params hold it: only when set, so that the keys and params of full-precision
    runs stay those of the versions before the setting (nothing reruns)."""
    return dict(quantization=as_dict(cfg.quantization)) if cfg.quantization.enabled else {}


# Backend settings that change how generation runs, not what it generates (sampling is
# batch-invariant: generation.request_seed): out of every key, passed as `Execution`.
BACKEND_EXECUTION_KEYS = (
    "batch_size",
    "tensor_parallel_size",
    "gpu_memory_utilization",
    "max_model_len",
    "cpu_kvcache_space_gb",
)


def generation_fields(cfg: Config) -> dict:
    """The backend settings that decide generated answers (part of the probe key and of
    the evaluation rules' params): its name and dtype."""
    return {k: v for k, v in as_dict(cfg.backend).items() if k not in BACKEND_EXECUTION_KEYS}


# Training settings that change how a run goes, not the adapter it makes: the checkpoint
# interval, the shared-prompt pass (the same numbers, faster: train.py resumes across it)
# and, of train.generation, the vLLM engine's sizes and timeouts (as the backend's
# execution settings); with the hf backend the vLLM mode and sync are unused too.
TRAIN_EXECUTION_KEYS = ("save_steps", "shared_prompt")
ROLLOUT_DECIDING_KEYS = ("backend", "mode", "sync")


@dataclass(frozen=True)
class Execution:
    """How a job runs, not what it makes: the backend's execution settings, the largest
    adapter rank a vLLM engine must serve (train.lora.r) and the training's execution
    settings (TRAIN_EXECUTION_KEYS, train.generation). Rules pass it as one param of this
    type, which Snakemake leaves out of its rerun check (it compares only params of plain
    types: persistence._serialize_param), so editing these reruns nothing. Threads and
    GPUs come from the rule's `threads` and `resources`."""

    backend: dict
    lora_rank: int
    train: dict

    def backend_config(self, generation: dict) -> BackendConfig:
        """The whole backend section: `generation` (generation_fields) decides the answers."""
        return build(BackendConfig, {**generation, **self.backend}, "backend.")

    def train_section(self, train: dict) -> dict:
        """The whole train section: `train` (train_fields) decides the adapter."""
        return {**self.train, **train, "generation": {**self.train["generation"], **train["generation"]}}


def execution(cfg: Config) -> Execution:
    train = as_dict(cfg.train)
    return Execution(
        {k: getattr(cfg.backend, k) for k in BACKEND_EXECUTION_KEYS},
        cfg.train.lora.r,
        {k: train[k] for k in (*TRAIN_EXECUTION_KEYS, "generation")},
    )


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


# Training settings that decide no adapter: the seed list (each seed is a run of its own)
# and the experiment trackers (an execution setting: rules/common.smk `tracking`).
NOT_TRAIN_FIELDS = ("seeds", "report_to")


def train_fields(cfg: Config) -> dict:
    """What a trained adapter depends on besides model, subset, prompt and seed: every
    training setting except the seed list, the trackers and the execution settings
    (Execution.train); of train.generation the backend, and with vLLM rollouts their mode
    and sync."""
    train = {k: v for k, v in as_dict(cfg.train).items() if k not in (*NOT_TRAIN_FIELDS, *TRAIN_EXECUTION_KEYS)}
    deciding = ROLLOUT_DECIDING_KEYS if cfg.train.generation.backend == "vllm" else ("backend",)
    train["generation"] = {k: train["generation"][k] for k in deciding}
    return train


def shipped_difficulty(cfg: Config) -> str | None:
    """The training set's field of pass rates measured by the dataset's authors, or
    None: subsets are then selected from it instead of from a probe of the base model."""
    return tasks.shipped_pass_rate(cfg.datasets[cfg.train_set])


def sampling_statement(cfg: Config) -> str:
    """The probe's and training's sampling settings, as the report's first line states them."""
    train = cfg.train
    lengths = sorted({level["max_completion_length"] for level in train.levels()})
    tokens = "/".join(map(str, lengths))
    trained = f"training temperature {train.temperature}, top_p {train.top_p}, {tokens} completion tokens"
    if shipped_difficulty(cfg):
        return f"{trained}; no probe (difficulty shipped with the data)"
    probe = cfg.probe
    probed = f"probe temperature {probe.temperature}, top_p {probe.top_p}, {probe.max_new_tokens} new tokens"
    same = (probe.temperature, probe.top_p, [probe.max_new_tokens]) == (train.temperature, train.top_p, lengths)
    verdict = "the same" if same else "they differ (probe.allow_sampling_mismatch: true)"
    return f"{probed}; {trained}: {verdict}"


def difficulty_source(cfg: Config) -> str:
    """Where the difficulty that subsets are selected by comes from, as the report says it."""
    shipped = shipped_difficulty(cfg)
    if shipped:
        return f"shipped with the data: field {shipped!r} of training set {cfg.train_set!r}, no probe"
    probe, quantization = cfg.probe, cfg.quantization
    weights = f"{quantization.mode} weights, " if quantization.enabled else ""
    return (
        f"probe: {probe.k} samples per problem from model {cfg.model!r} ({weights}temperature "
        f"{probe.temperature}, top_p {probe.top_p}, prompt format {cfg.prompt.format})"
    )
