# Config validation, the typed config, the output layout and the experiment's target list.
# Every path comes from grpo_difficulty.config.layout.Layout (the library uses the same
# object), every cache key from config.keys, every cross-field check from check_config.
import os
import re
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "src"))  # the library, also when not pip-installed
# torch-free: parsing stays fast (math-verify is imported only to score)
from grpo_difficulty import tasks
from grpo_difficulty.files import model_folder
from grpo_difficulty.hub_models import is_hub_model, model_status
from grpo_difficulty.prediction import run_groups
from grpo_difficulty.probe import covering_ranges
from grpo_difficulty.config.checks import check_config
from grpo_difficulty.config.keys import (
    data_key,
    difficulty_source,
    eval_fields,
    execution,
    generation_fields,
    probe_fields,
    quantization_fields,
    sampling_statement,
    scorer_fields,
    shipped_difficulty,
    train_fields,
)
from grpo_difficulty.config.layout import REPORT_PAGES, REPORT_PLOTS, REPORT_TABLES, Layout
from grpo_difficulty.config.sections import Config, as_dict, build
from grpo_difficulty.config.topology import needs_bitsandbytes, training_processes
from grpo_difficulty.trainer.tracking import Tracking

validate(config, "../config/schema.yaml", set_default=True)
check_config(config)
CFG = build(Config, config)
PATHS = Layout.of(CFG)
EXP = PATHS.experiment
# Conda env (`--sdm conda`) of the rules that generate (probe, evaluate): the vLLM
# backend's GPU build has its own (envs/vllm.yaml); relative to rules/.
GENERATION_ENV = "../envs/vllm.yaml" if CFG.backend.name == "vllm" else "../envs/workflow.yaml"
# the train rule's: vLLM rollouts (train.generation) and 8-bit optimizers need the GPU env
TRAIN_ENV = (
    "../envs/vllm.yaml"
    if CFG.train.generation.backend == "vllm" or needs_bitsandbytes(CFG.train.optim)
    else "../envs/workflow.yaml"
)
RUN = PATHS.run("{subset}", "{seed}")  # one training run's files, as wildcard patterns
# each scored dataset's plugin scorer (its source hashed once): {} or {"scorer": reference}
SCORERS = {name: scorer_fields(CFG, name) for name in [CFG.train_set, *CFG.eval_sets]}


# A hub model is resolved once, before any job runs, in one request: a misspelled or
# unreachable id stops the run in seconds naming `model` (dry runs, and the jobs' own
# Snakemake processes on a cluster, run no hooks). Once prepare_model has downloaded it,
# its folder's commit is the study's and nothing asks the hub.
onstart:
    if is_hub_model(CFG.model):
        print(model_status(CFG.model, CFG.model_revision, PATHS.model_dir))


def resources(family):
    return as_dict(getattr(CFG.resources, family))


def execution_params():
    """The one channel of execution settings to the generating and training jobs' scripts
    (batch size, vLLM engine sizes, adapter slots, checkpoint interval): a param Snakemake
    does not compare, so that editing them reruns nothing; every other param decides
    outputs (config.keys.Execution)."""
    return execution(CFG)


def tracking(wildcards):
    """The experiment trackers of training run (subset, seed) (train.report_to), an
    execution setting like execution_params: a param of a type Snakemake does not
    compare, so choosing other trackers reruns nothing (trainer/tracking.py)."""
    return Tracking.of(CFG.train.report_to, CFG.name, PATHS.tracking, wildcards.subset, wildcards.seed)


# ----------------------------------------------------------------------------- model
def model_input():
    """Snakemake input for the model: the folder prepare_model makes (the embedded model
    converted, a hub model downloaded at its revision); none for a local folder."""
    return [] if model_folder(CFG.model) else [f"{PATHS.model_dir}/config.json"]


def model_param(wildcards, input):
    """What the scripts load, always a local folder: the prepared one (derived from the
    input, so it follows the job's files on a cluster; its path names the model and its
    revision) or the `path:` folder."""
    return str(Path(input.model[0]).parent) if input.get("model") else model_folder(CFG.model)


def model_params(in_paths=False):
    """The params naming the model and its quantization only when set (unset, the params
    of earlier versions stay as they were and nothing reruns); the probe, training and
    evaluation jobs load the model by them alone, with the hub off. The model param is
    derived from the input (model_param, a param Snakemake does not compare) where an edit
    of `model` reruns the job anyway: a prepared model (its folder is an input) or a job
    whose paths name the model (`in_paths`: the probe's); for a `path:` folder elsewhere it
    is the folder itself, so that another model reruns the training and evaluation jobs."""
    derived = model_input() or in_paths
    return dict(model=model_param if derived else model_folder(CFG.model), **quantization_fields(CFG))


# ----------------------------------------------------------------------------- data
def data_path(name):
    return PATHS.data(name, data_key(CFG.datasets[name]))


# ----------------------------------------------------------------------------- checks
def after_disjoint_check(output):
    """An input function for a job writing `output` (a pattern of its wildcards) that runs
    only after the check_disjoint job; while `output` is missing, it asks the checkpoint for
    its file (Snakemake then runs the check first) and takes none as input. The job's
    inputs are the same in every experiment and before or after any check, so that an
    experiment sharing the probe cache reruns no probe job; an output already made does
    not wait (it reruns only when its own inputs or params change)."""

    def wait_for_check(wildcards):
        if not os.path.exists(output.format(**dict(wildcards.items()))):
            checkpoints.check_disjoint.get()
        return []

    return wait_for_check


def eval_inputs():
    """The inputs of every evaluation job (its eval set, the model) and the record of
    the disjointness check, ancient: its rewrite after an edit of the training set reruns
    no evaluation (the training data itself is no input of an evaluation)."""
    return dict(data=lambda wc: data_path(wc.eval_set), model=model_input(), checked=ancient(PATHS.disjoint_check))


# ----------------------------------------------------------------------------- probe
def n_train_rows():
    """Problem count of the training set; only known after loading it for hub/file data."""
    size = tasks.known_size(CFG.datasets[CFG.train_set])
    if size is not None:
        return size
    import pandas as pd

    prepared = checkpoints.prepare_data.get(dataset=CFG.train_set, key=PATHS.train_set_key)
    return len(pd.read_parquet(prepared.output[0]))


def probe_inputs(kind):
    """The inputs of the probe jobs writing files of `kind` (`b{block}` or `greedy`): the
    training set and the model, and a new job waits for the disjointness check."""
    return dict(
        data=data_path(CFG.train_set),
        model=model_input(),
        checked=after_disjoint_check(PATHS.probe_file("{start}", "{stop}", kind)),
    )


def probe_files(kind, n_rows):
    """The files of one kind (`b<block>` or `greedy`) that hold every training problem once:
    the files already there, whatever shard size wrote them, and new jobs of
    `probe.shard_size` rows for the problems none holds."""
    pattern = re.compile(rf"rows(\d+)-(\d+)_{kind}\.parquet")
    names = os.listdir(PATHS.probe_dir) if os.path.isdir(PATHS.probe_dir) else []
    existing = [(int(m[1]), int(m[2])) for m in map(pattern.fullmatch, names) if m]
    ranges = covering_ranges(existing, n_rows, CFG.probe.shard_size)
    return [PATHS.probe_file(start, stop, kind) for start, stop in ranges]


def probe_blocks(wildcards):
    n_rows = n_train_rows()
    blocks = CFG.probe.k // CFG.probe.block_size
    return dict(
        samples=[path for b in range(blocks) for path in probe_files(f"b{b}", n_rows)],
        greedy=probe_files("greedy", n_rows),
    )


def probe_pass_rates():
    """Input of selection: the probe's pass-rate table, none when the training set ships
    its difficulty (then nothing is probed; the data table holds pass_rate)."""
    return [] if shipped_difficulty(CFG) else [PATHS.pass_rates(CFG.probe.k)]


def difficulty_path():
    """The table holding the training problems' pass rates: the probe's, or the prepared
    data when they ship with it."""
    return data_path(CFG.train_set) if shipped_difficulty(CFG) else PATHS.pass_rates(CFG.probe.k)


# ----------------------------------------------------------------------------- runs
def report_points():
    """Every adapter evaluation the report reads: one dict per (eval set, run, step) with
    its predictions path; step None = the run's final adapter."""
    return [
        dict(
            eval_set=eval_set,
            subset=subset,
            seed=seed,
            step=step,
            strategy=CFG.subsets[subset].strategy,
            path=PATHS.evaluation(eval_set, PATHS.run_name(subset, seed, step)).predictions,
        )
        for eval_set in CFG.eval_sets
        for subset, seed in CFG.runs()
        for step in [*CFG.eval_steps(), None]
    ]


def selection(subset, seed, suffix):
    """The selection training seed `seed` of `subset` reads: its own (subsets.<name>.per_seed)
    or the one every seed reads."""
    return PATHS.subset(subset, suffix, seed if CFG.subsets[subset].per_seed else None)


def export_targets():
    """The difficulty export when the pass rates come from the probe (a shipped pass rate
    is the dataset's own already), and its push when export.push_to_hub names a repository."""
    if shipped_difficulty(CFG):
        return []
    return [PATHS.export("card"), *([PATHS.export("pushed")] if CFG.export.push_to_hub else [])]


def all_targets():
    compare = [PATHS.report("comparison.md")] if CFG.compare_with else []
    return [PATHS.report("summary.md"), *compare, *export_targets()]


def stage_targets(stage):
    """What `snakemake <stage>` makes (the target rules in the Snakefile): each stage's
    outputs for the whole experiment, with whatever earlier stages they need."""
    runs = CFG.runs()
    if stage == "probe":  # nothing to probe when the pass rates ship with the data
        return [data_path(CFG.train_set)] if shipped_difficulty(CFG) else [*probe_pass_rates(), PATHS.export("card")]
    if stage == "select":
        selections = {selection(s, seed, suffix) for s, seed in runs for suffix in ("parquet", "json")}
        return [*sorted(selections), PATHS.selection_checks]
    if stage == "train":
        return [PATHS.run(s, seed).adapter for s, seed in runs]
    base = [PATHS.evaluation(e, "base").predictions for e in CFG.eval_sets]
    return base + [p["path"] for p in report_points()]
