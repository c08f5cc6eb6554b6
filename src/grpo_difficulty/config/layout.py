"""Every output path: `Layout` (an experiment), `RunPaths` (one training run) and
`EvalPaths` (one evaluation). The rules spell their patterns with the same calls
(wildcards as `"{subset}"`), and the library writes to them."""

from __future__ import annotations

from dataclasses import dataclass

from ..files import model_key
from .keys import data_key, probe_key
from .sections import Config

# Version of the probe directory layout, in its name: directories of another layout (v1:
# seeds per shard and block, files per shard index, no version in the name) are never read.
PROBE_LAYOUT = 2


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
    pairwise_csv="pairwise_differences.csv",
)


@dataclass(frozen=True)
class Shown:
    """A report file that `snakemake --report` shows: its file, and the category that
    groups it there (its caption is report/<file name without suffix>.rst)."""

    file: str
    category: str


REPORT_PLOTS = dict(
    pass_rates=Shown("pass_rates.png", "Probe"),
    tiers=Shown("tier_accuracy.png", "Evaluation"),
    steps=Shown("accuracy_steps.png", "Evaluation"),
    learnable=Shown("learnable_vs_gain.png", "Evaluation"),
    predicted=Shown("predicted_learnable.png", "Training"),
    training=Shown("training_curves.png", "Training"),
)
# summary.md as a page of the HTML report: its summary and pairwise tables and sentences
REPORT_PAGES = dict(html=Shown("summary.html", "Summary"))


# The difficulty export (results/<name>/export/): parquet and card at the top, where the
# hub expects them (the card's data_files glob matches data/train.parquet and the shards
# push_to_hub writes); the save_to_disk folder; the record of a push.
EXPORT_FILES = dict(parquet="data/train.parquet", dataset="dataset", card="README.md", pushed="hub.json")


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
            model_key(cfg.model, cfg.model_revision),
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
        """The model's folder made by prepare_model: the embedded model converted, a hub
        model downloaded at its revision (named by id and revision: model_key)."""
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

    @property
    def disjoint_check(self) -> str:
        """The record that no eval set shares a question with the training set (rule
        check_disjoint): the experiment's own, whatever its data."""
        return f"{self.experiment}/checks/disjoint.json"

    def subset(self, name, suffix: str, seed=None) -> str:
        """A subset's selection: the one every training seed reads, or with
        subsets.<name>.per_seed training seed `seed`'s own."""
        if seed is None:
            return f"{self.experiment}/subsets/{name}.{suffix}"
        return f"{self.experiment}/subsets/{name}/seed{seed}.{suffix}"

    @property
    def selection_checks(self) -> str:
        """The selections' warnings (rule check_selections): outside subsets/, where a
        subset's name could take its path."""
        return f"{self.experiment}/checks/selections.json"

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

    @property
    def tracking(self) -> str:
        """The experiment trackers' local files (TensorBoard's runs: trainer/tracking.py)."""
        return f"{self.experiment}/tracking"

    def log(self, name: str) -> str:
        return f"{self.experiment}/logs/{name}.log"

    def report(self, file: str) -> str:
        return f"{self.experiment}/report/{file}"

    def export(self, part: str) -> str:
        """A file of the difficulty export: a key of EXPORT_FILES."""
        return f"{self.experiment}/export/{EXPORT_FILES[part]}"
