"""The difficulty export through the real Snakefile: the probe's pass rates leave
results/<name>/export/ as a `datasets` folder, a parquet and a card, and read back with
`loader: file` and `fields.pass_rate` (the entry the card prints) they select the same
subsets without probing. The push runs the datasets library's own push_to_hub up to the
network, which the tests never reach (offline mode)."""

import json
import re

import datasets
import pandas as pd
import pytest
import yaml
from conftest import FEWSHOT
from workflow_helpers import planned_jobs, snakemake, test_config, write_config

from grpo_difficulty.config.checks import load_config
from grpo_difficulty.config.sections import ConfigError

# every strategy that needs only pass rates and tiers (base_wrong / base_right need the
# probe's greedy answers, which a shipped pass rate does not carry)
SUBSETS = {
    "easy": {"strategy": "easy", "budget": 4},
    "hard": {"strategy": "hard", "budget": 0.25},
    "medium": {"strategy": "medium", "budget": 5},
    "random": {"strategy": "random", "budget": 3},
    "band": {"strategy": "band", "lo": 0.1, "hi": 0.6},
    "tier": {"strategy": "tier", "tiers": [2], "budget": 3},
    "all": {"strategy": "all"},
}
EXPORT = "results/test/export"


def spread_config(tiny_model) -> dict:
    """The test config on the problems the tiny model half-learnt, behind its own prompt:
    pass rates spread (0 to 0.5 at K = 8), so the subsets differ by difficulty."""
    config = dict(test_config(tiny_model), subsets=SUBSETS, prompt=dict(FEWSHOT))
    for dataset in config["datasets"].values():
        dataset.update(levels=[1, 2, 4], per_level={"train": 10, "test": 3})
    # one probe job and one greedy job for the 30 rows (block and shard sizes change no sample)
    config["probe"].update(k=8, temperature=0.7, block_size=8, shard_size=30)
    config["train"]["temperature"] = 0.7  # probe and training sample alike (a config check)
    return config


def subset_targets(name):
    return [f"results/{name}/subsets/{subset}.parquet" for subset in SUBSETS]


def reuse_entry(card: str) -> dict:
    """The `datasets` entry the card's Reuse section prints."""
    block = re.search(r"## Reuse\n.*?```yaml\n(.*?)```", card, re.S)[1]
    return yaml.safe_load(block)["datasets"]


def test_export_reads_back_and_selects_the_same_subsets_without_probing(tmp_path, tiny_model):
    config = spread_config(tiny_model)
    write_config(tmp_path, config)
    assert "export_difficulty" in planned_jobs(tmp_path)  # part of the default run
    snakemake(tmp_path, f"{EXPORT}/README.md", *subset_targets("test"))
    [rates_file] = (tmp_path / "results" / "probe").rglob("pass_rates_k8.parquet")
    rates = pd.read_parquet(rates_file)
    [data_file] = (tmp_path / "results" / "data" / "train").glob("*.parquet")

    table = pd.read_parquet(tmp_path / EXPORT / "data" / "train.parquet")
    assert table["id"].tolist() == pd.read_parquet(data_file)["id"].tolist()  # the training table's order
    probe_columns = [
        "k",
        "n_correct",
        "pass_rate",
        "pass_rate_lo",
        "pass_rate_hi",
        "greedy_correct",
        "mean_tokens",
        "truncated",
    ]
    assert table[["id", *probe_columns]].equals(
        rates.set_index("id").loc[table["id"]].reset_index()[["id", *probe_columns]]
    )
    assert table["pass_rate"].nunique() > 2
    assert (table["pass_rate_lo"] <= table["pass_rate"]).all() and (table["pass_rate"] <= table["pass_rate_hi"]).all()
    on_disk = datasets.load_from_disk(str(tmp_path / EXPORT / "dataset"))
    assert on_disk.to_pandas().equals(table) and on_disk.features["question"] == datasets.Value("string")
    # the card's data_files make the folder a dataset of its own (as on the hub)
    assert (
        datasets.load_dataset(str(tmp_path / EXPORT), split="train").to_pandas()["id"].tolist() == table["id"].tolist()
    )

    card = (tmp_path / EXPORT / "README.md").read_text()
    assert card.startswith("---\npretty_name: ")
    assert f"| model | `path:{tiny_model}` |" in card and f"local folder {tiny_model}" in card
    assert "| k | `8` |" in card and "| temperature | `0.7` |" in card and "95% Wilson score interval" in card
    data_key = data_file.stem
    assert f"| dataset key | `{data_key}` |" in card and "| probe key | `" in card
    assert on_disk.info.description == card

    reuse = reuse_entry(card)
    assert reuse == {
        "train_difficulty": {
            "loader": "file",
            "path": f"{EXPORT}/data/train.parquet",
            "fields": {
                "answer": "gold",
                "question": "question",
                "id": "id",
                "tier": "tier",
                "subject": "subject",
                "solution": "solution",
                "pass_rate": "pass_rate",
            },
            "answer_format": "plain",
        }
    }
    again = dict(config, name="again", train_set="train_difficulty")
    again["datasets"] = dict(config["datasets"], **reuse)
    write_config(tmp_path, again)
    plan = planned_jobs(tmp_path)
    assert not {"probe_block", "probe_greedy", "probe_merge", "export_difficulty"} & set(plan)
    snakemake(tmp_path, *subset_targets("again"))
    for subset in SUBSETS:
        probed = pd.read_parquet(tmp_path / "results" / "test" / "subsets" / f"{subset}.parquet")
        shipped = pd.read_parquet(tmp_path / "results" / "again" / "subsets" / f"{subset}.parquet")
        assert len(probed) > 0 and shipped["id"].tolist() == probed["id"].tolist(), subset
        assert shipped["pass_rate"].tolist() == probed["pass_rate"].tolist()
        stats = json.loads((tmp_path / "results" / "again" / "subsets" / f"{subset}.json").read_text())
        assert stats["difficulty"] == "shipped"
    assert not list((tmp_path / "results" / "probe").glob("*/train_difficulty-*"))


def test_push_runs_the_datasets_push_up_to_the_network(tmp_path, tiny_model, monkeypatch):
    config = test_config(tiny_model)
    config["export"] = {"push_to_hub": "someone/difficulty"}
    write_config(tmp_path, config)
    assert "push_export" in planned_jobs(tmp_path)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))  # no stored token
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pushed = f"{EXPORT}/hub.json"
    assert snakemake(tmp_path, pushed, check=False).returncode != 0
    log = (tmp_path / "results" / "test" / "logs" / "push_export.log").read_text()
    assert "export.push_to_hub='someone/difficulty': no Hugging Face token; set HF_TOKEN" in log
    # with a token, the datasets library's push_to_hub runs until its first request to the hub
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    assert snakemake(tmp_path, pushed, check=False).returncode != 0
    log = (tmp_path / "results" / "test" / "logs" / "push_export.log").read_text()
    assert "export.push_to_hub='someone/difficulty': the push failed: OfflineModeIsEnabled" in log
    assert "datasets/arrow_dataset.py" in log and "in push_to_hub" in log
    assert not (tmp_path / pushed).exists() and (tmp_path / EXPORT / "dataset").is_dir()


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda c, d: c["export"].update(push_to_hub="someone/my--set"),
            "config error at export.push_to_hub: 'someone/my--set' is not a hub repository id",
        ),
        (
            lambda c, d: (
                c["export"].update(push_to_hub="someone/set"),
                (d / "rates.jsonl").write_text('{"question": "What is 1 + 1?", "answer": 2, "p": 0.5}\n'),
                c["datasets"].update(
                    train={"loader": "file", "path": str(d / "rates.jsonl"), "fields": {"pass_rate": "p"}}
                ),
            ),
            "config error at export.push_to_hub: nothing to export: training set 'train' ships its pass rates",
        ),
    ],
)
def test_bad_push_settings_are_config_errors(tmp_path, tiny_model, change, message):
    config = test_config(tiny_model)
    config["export"] = {}
    change(config, tmp_path)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(config)
