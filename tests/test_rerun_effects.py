"""Every config key's rerun effect, declared in config/rerun_effects.yaml: each row's edit
is made in turn on a completed tiny run and Snakemake's dry-run plan (the rules whose jobs
it would run) must be the row's; a schema key without a row fails."""

import copy

import pytest
import rerun_setup
from workflow_helpers import ForkedDryRuns, snakemake

from grpo_difficulty import tasks
from grpo_difficulty.config import reruns

TABLE = reruns.load_table()


def test_every_schema_key_has_a_row():
    keys = set(reruns.leaf_keys())
    rows = {reruns.schema_key(name) for name in TABLE}
    assert not keys - rows, f"keys whose rerun effect config/rerun_effects.yaml does not declare: {sorted(keys - rows)}"
    assert not rows - keys, f"rows of config/rerun_effects.yaml that name no schema key: {sorted(rows - keys)}"
    roles = reruns.instances()
    named = {".".join(name.split(".")[:2]) for name in TABLE if name.split(".")[0] in reruns.NAMED}
    assert named - {name for name in named if "<name>" in name} <= set(roles), "an instance without its role"


def test_dataset_keys_of_loaders_without_an_instance_are_data_key_fields():
    """A key of loaders the run has no instance of (hub loaders) is declared as part of
    their data key: it is, for every loader that takes it, so it reruns what `seed` does."""
    for name, row in TABLE.items():
        if "data_key" in row:
            key = name.rsplit(".", 1)[1]
            taking = sorted(loader for loader, spec in tasks.LOADERS.items() if key in spec.allowed)
            assert taking == sorted(row["data_key"]), name
            assert all(key in tasks.LOADERS[loader].keys for loader in taking), name


def edited(config: dict, row: dict, key: str) -> dict:
    """The config with the row's edit of `key` (and the edits it needs, `also`)."""
    changed = copy.deepcopy(config)
    for path, value in {key: row["edit"], **row.get("also", {})}.items():
        *parents, leaf = path.split(".")
        section = changed
        for part in parents:
            section = section.setdefault(part, {})
        section[leaf] = value
    return changed


@pytest.fixture(scope="module")
def completed_run(tmp_path_factory, tiny_model):
    workdir = tmp_path_factory.mktemp("reruns")
    config = rerun_setup.prepare(workdir, tiny_model)
    snakemake(workdir)
    rerun_setup.another_experiment(workdir, config)
    return workdir, config


def test_each_edit_reruns_what_the_table_declares(completed_run):
    workdir, config = completed_run
    dry_runs = ForkedDryRuns(workdir)
    tested = {name: row for name, row in TABLE.items() if "reruns" in row and "untested" not in row}
    configs = {"(no edit)": config, **{name: edited(config, row, name) for name, row in tested.items()}}
    plans = dry_runs.plans(configs)
    assert plans.pop("(no edit)") == {}
    wrong = {}
    for name, row in tested.items():
        expected = set(row["reruns"]) - set(row.get("after_checkpoint", []))
        plan = plans[name]
        if not isinstance(plan, dict) or set(plan) != expected:  # a dry run that failed gives its output
            wrong[name] = f"declared {sorted(expected)}, planned {sorted(plan) if isinstance(plan, dict) else plan}"
    assert not wrong, "\n".join(f"{name}: {result}" for name, result in wrong.items())
