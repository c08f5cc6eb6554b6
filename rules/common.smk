# Config validation, path helpers and the experiment's target list.
import os
import re
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "src"))  # the library, also when not pip-installed
from grpo_difficulty.files import checkpoint_of_step, model_key, stable_hash  # torch-free: parsing stays fast
from grpo_difficulty import tasks  # torch-free too (math-verify is imported only to score)
from grpo_difficulty.probe import covering_ranges

validate(config, "../config/schema.yaml", set_default=True)


def config_error(key, message):
    raise ValueError(f"config error at {key}: {message}")


def eval_steps():
    """Intermediate checkpoints evaluated for accuracy-vs-steps curves (the final step is
    the run's own adapter): every `evaluate.every_steps` steps, none when unset."""
    every = config["evaluate"]["every_steps"]
    return list(range(every, sum(level_steps()), every)) if every else []


def level_steps():
    """Optimizer steps of each training level: the curriculum's, or [train.steps]."""
    train = config["train"]
    return [level["steps"] for level in train["curriculum"]] if train.get("curriculum") else [train["steps"]]


def check_config():
    """Checks a JSON schema cannot express: cross-references and file existence."""
    datasets = config["datasets"]
    for key in [config["train_set"], *config["eval_sets"]]:
        if key not in datasets:
            config_error("train_set/eval_sets", f"{key!r} is not a dataset; defined: {sorted(datasets)}")
    if config["train_set"] in config["eval_sets"]:
        config_error("eval_sets", f"{config['train_set']!r} is the training set; evaluate on held-out data")
    for key, spec in datasets.items():
        required, optional = tasks.LOADER_KEYS[spec["loader"]]
        for field in sorted(required - set(spec)):
            config_error(f"datasets.{key}.{field}", f"required by loader {spec['loader']!r}")
        for field in sorted(set(spec) - required - optional - tasks.COMMON_KEYS):
            config_error(f"datasets.{key}.{field}", f"not used by loader {spec['loader']!r}; its keys: "
                         f"{sorted(required | optional | tasks.COMMON_KEYS)}")
        if spec["loader"] in tasks.PROCEDURAL:
            if spec["split"] not in spec["per_level"]:
                config_error(f"datasets.{key}.split", f"{spec['split']!r} not in per_level {sorted(spec['per_level'])}")
            allowed = sorted(tasks.PROCEDURAL[spec["loader"]][0])
            for level in spec["levels"]:
                if level not in allowed:
                    config_error(f"datasets.{key}.levels", f"level {level} of loader {spec['loader']!r}; allowed {allowed}")
        for path in tasks.input_files(spec):
            if not Path(path).exists():
                config_error(f"datasets.{key}.path", f"file not found: {path}")
    probe = config["probe"]
    if probe["k"] % probe["block_size"]:
        config_error("probe.k", f"{probe['k']} is not a multiple of probe.block_size={probe['block_size']}")
    for name, spec in config["subsets"].items():
        if spec["strategy"] == "band":
            if "lo" not in spec or "hi" not in spec:
                config_error(f"subsets.{name}", "strategy band needs lo and hi")
            if spec["lo"] > spec["hi"]:
                config_error(f"subsets.{name}.lo", f"lo={spec['lo']} > hi={spec['hi']}")
        if spec["strategy"] == "tier" and not spec.get("tiers"):
            config_error(f"subsets.{name}.tiers", "strategy tier needs a list of tiers")
        if spec["strategy"] in ("easy", "medium", "hard", "random") and "budget" not in spec:
            config_error(f"subsets.{name}.budget", f"strategy {spec['strategy']} needs a budget")
    check_curriculum()
    for family, res in config["resources"].items():
        # the SLURM plugin turns gpu_model into --gpus=<model>:<gpu>, a request for 0 GPUs here
        if res["gpu_model"] and not res["gpu"]:
            config_error(f"resources.{family}.gpu_model", f"{res['gpu_model']!r} needs gpu >= 1")
    evaluation = config["evaluate"]
    for k in evaluation["pass_k"]:
        if k > evaluation["samples"]:
            config_error("evaluate.pass_k", f"pass@{k} needs evaluate.samples >= {k} (samples = {evaluation['samples']})")
    save = config["train"]["save_steps"]
    for step in eval_steps():  # step adapters are copied from the trainer's checkpoints
        level, local = checkpoint_of_step(step, level_steps())
        if local % save and local != level_steps()[level]:
            where = f" (step {local} of curriculum level {level})" if config["train"].get("curriculum") else ""
            config_error("evaluate.every_steps", f"{config['evaluate']['every_steps']}: step {step}{where} is not a "
                         f"multiple of train.save_steps={save}, so no checkpoint is saved there")
    if config["name"] in config["compare_with"]:
        config_error("compare_with", f"lists this experiment's own name {config['name']!r}")
    model = config["model"]
    if model.startswith("path:") and not Path(model[5:]).is_dir():
        config_error("model", f"model folder not found: {model[5:]}")


def check_curriculum():
    """train.steps vs the levels' steps, and each level's tiers against the training data's
    tiers where they are known before loading it (a procedural generator's levels) and
    against tier subsets; train.py names a level whose tiers a subset lacks at run time."""
    train = config["train"]
    curriculum = train.get("curriculum")
    if not curriculum:
        if "steps" not in train:
            config_error("train.steps", "required (the number of optimizer steps) unless train.curriculum is given")
        return
    total = sum(level["steps"] for level in curriculum)
    if "steps" in train and train["steps"] != total:
        config_error("train.steps", f"{train['steps']}, but the curriculum levels' steps add up to {total}; with "
                     "train.curriculum, train.steps is the total: set it to that or leave it out")
    spec = config["datasets"][config["train_set"]]
    known = spec["levels"] if spec["loader"] in tasks.PROCEDURAL else None
    for i, level in enumerate(curriculum):
        if known is not None and not set(level["tiers"]) <= set(known):
            config_error(f"train.curriculum[{i}].tiers", f"{sorted(set(level['tiers']) - set(known))} not among "
                         f"the tiers of training set {config['train_set']!r}: {sorted(known)}")
        for name, subset in config["subsets"].items():
            if subset["strategy"] == "tier" and not set(level["tiers"]) & set(subset["tiers"]):
                config_error(f"train.curriculum[{i}].tiers", f"{level['tiers']} share no tier with subset "
                             f"{name!r} (tiers {subset['tiers']}): that level would have no problem")


check_config()

RESULTS = config["results"]
NAME = config["name"]
EXP = f"{RESULTS}/{NAME}"
MODEL_KEY = model_key(config["model"])
# Conda env (`--sdm conda`) of the rules that generate (probe, evaluate): the vLLM
# backend's GPU build has its own (envs/vllm.yaml); relative to rules/.
GENERATION_ENV = "../envs/vllm.yaml" if config["backend"]["name"] == "vllm" else "../envs/workflow.yaml"


# ----------------------------------------------------------------------------- model
def model_ref():
    """What the scripts load: the prepared embedded folder, a local folder, or a hub id."""
    if config["model"] == "embedded":
        return f"{RESULTS}/models/{MODEL_KEY}"
    if config["model"].startswith("path:"):
        return config["model"][5:]
    return config["model"]


def model_input():
    """Snakemake input for the model: only the embedded one is built by a rule."""
    return [f"{RESULTS}/models/{MODEL_KEY}/config.json"] if config["model"] == "embedded" else []


# ----------------------------------------------------------------------------- data
def data_key(name):
    return stable_hash(config["datasets"][name])


def data_path(name):
    """A dataset's table; the path names its spec, so experiments share it safely."""
    return f"{RESULTS}/data/{name}/{data_key(name)}.parquet"


# ----------------------------------------------------------------------------- generation settings
# Backend settings that change how generation runs, not what it generates: they stay out of
# every rule's params (the scripts read them from the config), so editing them reruns nothing.
BACKEND_EXECUTION_KEYS = ["batch_size", "tensor_parallel_size", "gpu_memory_utilization", "max_model_len",
                          "cpu_kvcache_space_gb"]


def backend_settings():
    """The backend settings that decide the answers: its name and dtype."""
    return {k: v for k, v in config["backend"].items() if k not in BACKEND_EXECUTION_KEYS}


# ----------------------------------------------------------------------------- probe
# Version of the probe directory layout, in its name: directories of another layout
# (v1: seeds per shard and block, files per shard index) are never read.
PROBE_LAYOUT = 2


def probe_settings():
    """What decides the probe samples, except K (which only says how many): prompt,
    backend, sampling, seed, and block_size (the sample files' layout). Shard size,
    batch size and the other execution settings stay out: they decide how the jobs are
    cut, not what they generate."""
    probe = config["probe"]
    return dict(
        prompt=config["prompt"], backend=backend_settings(), block_size=probe["block_size"],
        temperature=probe["temperature"], top_p=probe["top_p"], max_new_tokens=probe["max_new_tokens"],
        seed=probe["seed"],
    )


PROBE_DIR = (f"{RESULTS}/probe/{MODEL_KEY}/{config['train_set']}-{data_key(config['train_set'])}/"
             f"v{PROBE_LAYOUT}-{stable_hash(probe_settings())}")


def n_train_rows():
    """Problem count of the training set; only known after loading it for hub/file data."""
    size = tasks.known_size(config["datasets"][config["train_set"]])
    if size is not None:
        return size
    import pandas as pd

    return len(pd.read_parquet(checkpoints.prepare_data.get(dataset=config["train_set"],
                                                            key=data_key(config["train_set"])).output[0]))


def probe_files(kind, n_rows):
    """The files of one kind (`b<block>` or `greedy`) that hold every training problem once:
    the files already there, whatever shard size wrote them, and new jobs of
    `probe.shard_size` rows for the problems none holds."""
    pattern = re.compile(rf"rows(\d+)-(\d+)_{kind}\.parquet")
    names = os.listdir(PROBE_DIR) if os.path.isdir(PROBE_DIR) else []
    existing = [(int(m[1]), int(m[2])) for m in map(pattern.fullmatch, names) if m]
    ranges = covering_ranges(existing, n_rows, config["probe"]["shard_size"])
    return [f"{PROBE_DIR}/rows{start}-{stop}_{kind}.parquet" for start, stop in ranges]


def probe_blocks(wildcards):
    n_rows = n_train_rows()
    blocks = config["probe"]["k"] // config["probe"]["block_size"]
    return dict(samples=[path for b in range(blocks) for path in probe_files(f"b{b}", n_rows)],
                greedy=probe_files("greedy", n_rows))


def pass_rates_path():
    return f"{PROBE_DIR}/pass_rates_k{config['probe']['k']}.parquet"


# ----------------------------------------------------------------------------- runs
def runs():
    """(subset, seed) pairs: one trained adapter each."""
    return [(subset, seed) for subset in config["subsets"] for seed in config["train"]["seeds"]]


def run_dir(subset, seed):
    return f"{EXP}/train/{subset}/seed{seed}"


def eval_path(eval_set, run):
    return f"{EXP}/eval/{eval_set}/{run}/predictions.parquet"


def eval_settings():
    """What an evaluation's answers depend on: sampling settings only when it samples, so
    that a temperature edit does not rerun greedy-only evaluations; pass_k and every_steps
    are the report's business (pass@k comes from the per-problem counts)."""
    evaluation = config["evaluate"]
    keys = ["max_new_tokens", "samples"]
    if evaluation["samples"]:
        keys += ["temperature", "top_p", "seed"]
    return {k: evaluation[k] for k in keys}


def step_adapter(run, step):
    return f"{run}/steps/{step}/adapter/adapter_config.json"


def report_points():
    """Every adapter evaluation the report reads: one dict per (eval set, run, step) with
    its predictions path; step None = the run's final adapter."""
    points = []
    for eval_set in config["eval_sets"]:
        for subset, seed in runs():
            run = f"{subset}/seed{seed}"
            for step in [*eval_steps(), None]:
                points.append(dict(eval_set=eval_set, subset=subset, seed=seed, step=step,
                                   strategy=config["subsets"][subset]["strategy"],
                                   path=eval_path(eval_set, run if step is None else f"{run}/step{step}")))
    return points


def full_data_subset():
    """The full-data reference of steps-to-match: the first subset with strategy `all`."""
    return next((name for name, spec in config["subsets"].items() if spec["strategy"] == "all"), None)


def all_targets():
    compare = [f"{EXP}/report/comparison.md"] if config["compare_with"] else []
    return [f"{EXP}/report/summary.md", *compare]
