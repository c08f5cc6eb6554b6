"""Export the difficulty: the training set with the probe's columns as a `datasets` folder
(save_to_disk) and a parquet file, with a dataset card, in results/<name>/export/, and
optionally pushed to a hub dataset repository (config `export.push_to_hub`).

The export reads back as a dataset of its own: `loader: file` on the parquet with
`fields.pass_rate` (the card's "Reuse" section spells the config) gives the same table
order, ids and pass rates, so the same subsets are selected without probing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import yaml

from . import probe, select
from .config.layout import EXPORT_FILES
from .files import atomic_dir, write_table, write_text
from .tasks.rows import COLUMNS

# The probe's columns, after the training set's own (tasks.rows.COLUMNS)
PROBE_COLUMNS = [c for c in probe.PASS_RATE_COLUMNS if c not in ("id", "tier")]
# answer_type of a row → the answer_format that reads its gold back (plain: scored by math-verify)
ANSWER_FORMAT = {"integer": "plain", "math": "plain", "choice": "choice", "text": "text"}
OWN_FIELD = "the row's own field, as its plugin scorer reads it (datasets.<name>.scorer)"
COLUMN_HELP = {
    "id": "problem id (the dataset's own, or a hash of the question)",
    "question": "the problem as prompted (multiple-choice options appended)",
    "gold": "normalized final answer",
    "answer_type": "how the gold is scored: integer, math (math-verify), choice or text",
    "solution": "worked solution, where the dataset has one",
    "tier": "the dataset's own difficulty tier (1 = easiest)",
    "subject": "subject or sub-task",
    "source": "where the row was read from",
    "k": "sampled answers per problem",
    "n_correct": "correct ones among them",
    "pass_rate": "n_correct / k",
    "pass_rate_lo": f"lower end of the pass rate's {probe.INTERVAL}",
    "pass_rate_hi": f"upper end of the pass rate's {probe.INTERVAL}",
    "greedy_correct": "the greedy (temperature 0) answer is correct",
    "mean_tokens": "mean length of the sampled answers in tokens",
    "truncated": "share of the sampled answers cut at the probe's token limit (max_new_tokens) before an end token",
}


@dataclass(frozen=True)
class ExportInfo:
    """What the card says about where the difficulty comes from (plain values: the rule's params)."""

    experiment: str
    train_set: str
    data_key: str  # the prepared training set's cache key (results/data/<train_set>/<key>.parquet)
    data_spec: dict  # the training set's config entry
    model: str
    revision: str
    probe: dict  # k, key (the probe key) and the settings that decide the samples (config.keys.probe_fields)
    push_to_hub: str | None = None  # the hub repository the export goes to, if any


def difficulty_export(rows: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """The training table in its own row order with the probe's columns joined on id; the
    rows' own fields (kept for a plugin scorer, column record) as columns of their own, so
    that the export read back with the same scorer gives it those fields again."""
    table = select.difficulty_table(rows, rates).reset_index(drop=True)
    parts = [table[[c for c in COLUMNS if c in table]]]
    if "record" in table:
        own = pd.DataFrame([json.loads(record) for record in table["record"]])
        parts.append(own[[c for c in own.columns if c not in COLUMNS and c not in PROBE_COLUMNS]])
    return pd.concat([*parts, table[PROBE_COLUMNS]], axis=1)


def reuse_spec(table: pd.DataFrame, path: str, scorer: str | None = None) -> dict:
    """The `datasets` entry that reads the exported parquet back, pass rates included, with
    the training set's plugin `scorer` if it has one (else without answer_format when the
    rows mix answer types: one format reads them all)."""
    roles = ["question", "id", "tier", "subject", "solution", "pass_rate"]
    spec = dict(loader="file", path=path, fields=dict(answer="gold", **{role: role for role in roles}))
    if scorer:
        spec["scorer"] = scorer
        return spec
    formats = {ANSWER_FORMAT[kind] for kind in table["answer_type"].unique()}
    if len(formats) == 1:
        spec["answer_format"] = formats.pop()
    return spec


def _section(title: str, rows: list[tuple[str, object]]) -> str:
    lines = [f"## {title}", "", "| key | value |", "|---|---|"]
    lines += [f"| {key} | `{value if isinstance(value, str) else json.dumps(value)}` |" for key, value in rows]
    return "\n".join(lines)


def _reuse(table: pd.DataFrame, info: ExportInfo, parquet: str) -> str:
    name = f"{info.train_set}_difficulty"
    spec = reuse_spec(table, parquet, info.data_spec.get("scorer"))
    text = (
        "## Reuse\n\nSelect training subsets from these pass rates without probing (a grpo-difficulty "
        f"config with `train_set: {name}`; nothing is probed when the training set maps "
        f"`fields.pass_rate`):\n\n```yaml\n{yaml.safe_dump({'datasets': {name: spec}}, sort_keys=False)}```\n"
    )
    if "answer_format" not in spec and "scorer" not in spec:
        text += "\nThe rows mix answer types: give each type's rows a file and `answer_format` of its own.\n"
    repo = f"`{info.push_to_hub}`" if info.push_to_hub else "the repository id"
    return text + (
        f"\nFrom the hub: the same entry with `loader: hub`, `path:` {repo} and `split: train`. "
        f"The `{EXPORT_FILES['dataset']}/` folder holds the same table for `datasets.load_from_disk`."
    )


def dataset_card(table: pd.DataFrame, info: ExportInfo, parquet: str) -> str:
    """README.md of the export: YAML metadata the hub reads (data files, tags), then where
    the pass rates come from (model and revision, probe settings, dataset key), the
    columns, and the config entry that selects from them again (`parquet`: its path)."""
    title = f"{info.train_set}: pass rates of {info.model}"
    metadata = dict(
        pretty_name=title,
        tags=["difficulty", "pass-rate", "grpo"],
        configs=[dict(config_name="default", data_files=[dict(split="train", path="data/train*.parquet")])],
    )
    settings = [(key, value) for key, value in info.probe.items() if key not in ("k", "key")]
    parts = [
        f"---\n{yaml.safe_dump(metadata, sort_keys=False)}---",
        f"# {title}",
        f"{len(table)} problems of training set `{info.train_set}`, each with the pass rate of "
        f"{info.probe['k']} sampled answers of model `{info.model}` and its {probe.INTERVAL} "
        f"(experiment `{info.experiment}` of grpo-difficulty).",
        _section("Model", [("model", info.model), ("revision", info.revision)]),
        _section(
            "Probe", [("k", info.probe["k"]), ("interval", probe.INTERVAL), ("probe key", info.probe["key"])] + settings
        ),
        _section("Dataset", [("train_set", info.train_set), ("dataset key", info.data_key)])
        + f"\n\n```yaml\n{yaml.safe_dump(info.data_spec, sort_keys=False)}```",
        "## Columns\n\n" + "\n".join(f"- `{c}`: {COLUMN_HELP.get(c, OWN_FIELD)}" for c in table.columns),
        _reuse(table, info, parquet),
    ]
    return "\n\n".join(parts) + "\n"


def write_export(table: pd.DataFrame, info: ExportInfo, parquet: str, dataset_dir: str, card: str) -> None:
    """The parquet, the save_to_disk folder and the card, each written atomically."""
    import datasets

    text = dataset_card(table, info, parquet)
    dataset = datasets.Dataset.from_pandas(table, preserve_index=False, info=datasets.DatasetInfo(description=text))
    # pandas' string columns arrive as large_string; the hub's viewer and most readers expect string
    features = {
        name: datasets.Value("string") if feature == datasets.Value("large_string") else feature
        for name, feature in dataset.features.items()
    }
    dataset = dataset.cast(datasets.Features(features))
    with atomic_dir(dataset_dir) as tmp:
        dataset.save_to_disk(str(tmp))
    write_table(table, parquet)
    write_text(text, card)


def push_export(dataset_dir: str, card: str, repo_id: str, private: bool) -> str:
    """Push the export to hub dataset repository `repo_id` with the datasets library's own
    `push_to_hub` (parquet shards under data/, which the card's data_files match), then
    the card. Returns the card commit's URL; any failure names the config key."""
    import datasets
    from huggingface_hub import HfApi, get_token

    where = f"export.push_to_hub={repo_id!r}"
    if get_token() is None:
        raise RuntimeError(f"{where}: no Hugging Face token; set HF_TOKEN or run `hf auth login` (docs/cluster.md)")
    dataset = datasets.load_from_disk(dataset_dir)
    try:
        dataset.push_to_hub(repo_id, private=private, commit_message="grpo-difficulty: pass rates")
        commit = HfApi().upload_file(
            path_or_fileobj=card,
            path_in_repo=EXPORT_FILES["card"],
            repo_id=repo_id,
            repo_type="dataset",
            commit_message="grpo-difficulty: dataset card",
        )
    except Exception as err:  # huggingface_hub's HTTP and offline-mode errors, httpx's connection errors
        raise RuntimeError(f"{where}: the push failed: {type(err).__name__}: {err}") from err
    return commit.commit_url
