"""The whole DAG on a tiny model built by the test, and Snakemake's rerun semantics."""

import base64
import copy
import json
import re

import pandas as pd
import pytest
from workflow_helpers import planned_jobs, planned_outputs, snakemake, test_config, write_config

from grpo_difficulty import prediction
from grpo_difficulty.config.layout import REPORT_PLOTS

# Every plot the report writes: checked as files after a run and as figures of the HTML report.
REPORT_PNGS = [plot.file for plot in REPORT_PLOTS.values()]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model):
    workdir = tmp_path_factory.mktemp("workflow")
    config = test_config(tiny_model)
    write_config(workdir, config)
    snakemake(workdir)
    return workdir, config


def test_whole_dag_produces_every_artifact(finished_run):
    workdir, config = finished_run
    exp = workdir / "results" / "test"
    summary = pd.read_csv(exp / "report" / "summary.csv")
    assert set(summary["subset"]) == {"easy", "hard"}
    assert {
        "accuracy",
        "accuracy_lo",
        "accuracy_hi",
        "base_accuracy",
        "delta",
        "delta_lo",
        "delta_hi",
        "no_answer",
        "sampled_accuracy",
        "pass@1",
        "pass@2",
        "base_pass@2",
        "predicted_learnable_pct",
        "predicted_learnable_lo",
        "predicted_learnable_hi",
        "learnable_pct",
        "learnable_total_pct",
        "steps",
        "wall_seconds",
    } <= set(summary.columns)
    assert (summary["steps"] == 2).all() and summary["pass@2"].between(0, 1).all()
    assert (summary["pass@2"] >= summary["pass@1"]).all()  # pass@k cannot fall as k grows
    for png in REPORT_PNGS:
        assert (exp / "report" / png).stat().st_size > 1000
    assert "| test | easy |" in (exp / "report" / "summary.md").read_text()
    rates = pd.read_parquet(next((workdir / "results" / "probe").rglob("pass_rates_k4.parquet")))
    assert len(rates) == 12 and (rates["k"] == 4).all()
    easy = pd.read_parquet(exp / "subsets" / "easy.parquet")
    assert len(easy) == 4 and easy["pass_rate"].min() >= rates["pass_rate"].median()
    assert ((rates["pass_rate_lo"] <= rates["pass_rate"]) & (rates["pass_rate"] <= rates["pass_rate_hi"])).all()
    stats = json.loads((exp / "subsets" / "easy.json").read_text())
    prior = prediction.prior_of(rates)  # fitted to every probed problem's counts
    assert stats["pass_rate_prior"]["a"] == pytest.approx(prior.a) and stats["run_groups"] == 2
    expected = 100 * prediction.PassRates.of(easy, prior).expected_learnable(4).mean()
    assert stats["predicted_learnable_pct"] == pytest.approx(expected)
    assert 0 <= stats["predicted_learnable_lo"] <= stats["predicted_learnable_hi"] <= 100
    assert "chosen problems have a 95% pass-rate interval" in (exp / "logs" / "select" / "easy.log").read_text()
    base = json.loads((exp / "eval" / "test" / "base" / "summary.json").read_text())
    assert base["n"] == 8 and set(base["per_tier"]) == {"1", "4"} and set(base["per_subject"]) == {"arithmetic"}
    samples = pd.read_parquet(exp / "eval" / "test" / "base" / "samples.parquet")
    assert len(samples) == 8 * 2 and base["sampled_accuracy"] == pytest.approx(samples["correct"].mean())
    assert (exp / "train" / "hard" / "seed0" / "adapter" / "adapter_model.safetensors").exists()
    assert (exp / "logs" / "train" / "hard-seed0.log").read_text().strip()


def test_second_run_does_nothing(finished_run):
    assert planned_jobs(finished_run[0]) == {}


def plan_with(finished_run, change) -> dict:
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    change(changed)
    write_config(workdir, changed)
    try:
        return planned_jobs(workdir)
    finally:
        write_config(workdir, config)


def test_training_hyperparameter_reruns_train_evaluate_report_only(finished_run):
    plan = plan_with(finished_run, lambda c: c["train"].update(learning_rate=5e-4))
    assert plan == {"train_adapter": 2, "evaluate_adapter": 2, "report": 1}


@pytest.mark.parametrize("change", [{"num_generations": 2}, {"steps": 3, "save_steps": 3}])
def test_group_size_and_count_also_reselect(finished_run, change):
    """train.num_generations (G) is also the G of each subset's predicted learnable %, and
    the run's number of groups that of its interval."""
    plan = plan_with(finished_run, lambda c: c["train"].update(change))
    assert plan == {"select_subset": 2, "check_selections": 1, "train_adapter": 2, "evaluate_adapter": 2, "report": 1}


@pytest.mark.parametrize(
    "option",
    [
        {"dynamic_sampling": {"enabled": True, "max_extra_rounds": 2}},
        {"curriculum": [{"tiers": [1], "steps": 1}, {"tiers": [4], "steps": 1, "max_completion_length": 4}]},
        {"processes": 2},  # the batch is split and seeded per process: another adapter
        {"optim": "adamw_torch"},
    ],
)
def test_training_options_rerun_train_evaluate_report_only(finished_run, option):
    def change(config):
        config["train"].update(option)
        # a curriculum level's own token limit differs from the probe's: wanted here (the
        # flag decides no output, so it reruns nothing itself)
        config["probe"]["allow_sampling_mismatch"] = "curriculum" in option

    plan = plan_with(finished_run, change)
    assert plan == {"train_adapter": 2, "evaluate_adapter": 2, "report": 1}


def test_new_eval_set_runs_evaluation_and_report_only(finished_run):
    def add_eval_set(c):
        c["datasets"]["other"] = dict(loader="arithmetic", levels=[2], per_level={"test": 3}, split="test", seed=0)
        c["eval_sets"].append("other")

    plan = plan_with(finished_run, add_eval_set)
    assert plan == {"prepare_data": 1, "check_disjoint": 1, "evaluate_base": 1, "evaluate_adapter": 2, "report": 1}


def test_disjointness_is_checked_before_any_probe_training_or_evaluation(finished_run):
    """The first run's log: the check job finished before any probe, training or evaluation
    job started."""
    first = sorted((finished_run[0] / ".snakemake" / "log").glob("*.snakemake.log"))[0].read_text()
    checked = re.search(r"^Finished jobid: \d+ \(Rule: check_disjoint\)", first, re.M)
    generating = re.search(r"^local(?:rule|checkpoint) (?:probe_|train_|evaluate_)\w+:", first, re.M)
    assert checked and generating and checked.start() < generating.start()


def test_a_training_set_edit_reruns_the_check_not_the_base_evaluation(finished_run):
    """The training data is no input of an evaluation: a disjoint new training set reruns
    the check (its record is the evaluations' ancient input), the probe and the runs."""
    plan = plan_with(finished_run, lambda c: c["datasets"]["train"]["per_level"].update(train=5))
    probe = {"prepare_data": 1, "check_disjoint": 1, "probe_block": 2, "probe_greedy": 1, "probe_merge": 1}
    runs = {"select_subset": 2, "check_selections": 1, "train_adapter": 2, "evaluate_adapter": 2, "report": 1}
    assert plan == {**probe, "export_difficulty": 1, **runs}


def test_eval_length_change_reruns_evaluation_only(finished_run):
    plan = plan_with(finished_run, lambda c: c["evaluate"].update(max_new_tokens=4))
    assert plan == {"evaluate_base": 1, "evaluate_adapter": 2, "report": 1}


def test_new_strategy_trains_only_that_strategy(finished_run):
    plan = plan_with(finished_run, lambda c: c["subsets"].update(random={"strategy": "random", "budget": 3}))
    assert plan == {"select_subset": 1, "check_selections": 1, "train_adapter": 1, "evaluate_adapter": 1, "report": 1}


def test_per_seed_subset_draws_a_selection_for_each_training_seed(finished_run):
    workdir, config = finished_run
    exp = workdir / "results" / "test"
    changed = copy.deepcopy(config)
    changed["subsets"]["random"] = {"strategy": "random", "budget": 3, "per_seed": True}
    changed["train"]["seeds"] = [0, 1]
    write_config(workdir, changed)
    try:
        for seed in (0, 1):  # the training job of seed s reads seed s's own selection
            plan = snakemake(workdir, "-n", f"results/test/train/random/seed{seed}/train_info.json").stdout
            train = plan[plan.index("rule train_adapter:") :]
            inputs = re.search(r"^\s+input: (.+)$", train, re.M).group(1).split(", ")
            assert f"results/test/subsets/random/seed{seed}.parquet" in inputs
        snakemake(workdir, *[f"results/test/subsets/random/seed{seed}.parquet" for seed in (0, 1)])
    finally:
        write_config(workdir, config)
    draws = [pd.read_parquet(exp / "subsets" / "random" / f"seed{seed}.parquet") for seed in (0, 1)]
    assert [len(d) for d in draws] == [3, 3] and set(draws[0]["id"]) != set(draws[1]["id"])
    for seed in (0, 1):
        assert json.loads((exp / "subsets" / "random" / f"seed{seed}.json").read_text())["train_seed"] == seed
    assert not (exp / "subsets" / "random.parquet").exists()  # no selection shared by the seeds


def test_raising_k_probes_only_new_blocks(finished_run):
    plan = plan_with(finished_run, lambda c: c["probe"].update(k=6))
    # one new block of 2 samples in the one shard; everything downstream follows
    assert plan == {
        "probe_block": 1,
        "probe_merge": 1,
        "export_difficulty": 1,
        "select_subset": 2,
        "check_selections": 1,
        "train_adapter": 2,
        "evaluate_adapter": 2,
        "report": 1,
    }


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["backend"].update(batch_size=5),
        lambda c: c["probe"].update(shard_size=4),
        lambda c: c["probe"].update(shard_size=24),
        # the vLLM engine's settings (with the hf backend they are unused, but they would
        # still reach every probe key and evaluation params if they were in them)
        lambda c: c["backend"].update(
            tensor_parallel_size=2, gpu_memory_utilization=0.5, max_model_len=256, cpu_kvcache_space_gb=1
        ),
        lambda c: c["resources"]["probe"].update(cpus_per_task=2),
    ],
    ids=["batch_size", "shard_size_smaller", "shard_size_larger", "vllm_engine", "threads"],
)
def test_execution_settings_rerun_nothing(finished_run, change):
    """How jobs run is not what they compute: a new batch size, shard size, vLLM engine
    size or thread count reruns no probe, evaluation or anything else."""
    assert plan_with(finished_run, change) == {}


def test_vllm_execution_settings_keep_the_probe_key(tmp_path, tiny_model):
    """Dry runs of the vLLM backend (not installed here): other engine settings plan the
    same probe files and evaluations; another dtype plans other probe files."""

    def outputs(**backend):
        config = test_config(tiny_model)
        config["backend"] = {"name": "vllm", **backend}
        write_config(tmp_path, config)
        return {p for p in planned_outputs(tmp_path) if "/probe/" in p or "/eval/" in p}

    small = outputs(tensor_parallel_size=1, gpu_memory_utilization=0.85, max_model_len=None)
    assert small == outputs(
        tensor_parallel_size=4, gpu_memory_utilization=0.5, max_model_len=2048, cpu_kvcache_space_gb=8
    )
    assert {p for p in small if "/probe/" in p} != {p for p in outputs(dtype="float16") if "/probe/" in p}


def test_other_batch_and_shard_sizes_give_a_byte_identical_probe(finished_run, tmp_path):
    """The same probe run from scratch in two shards of 6 problems at batch size 3 (the
    finished run: one shard of 12 at batch size 16) writes the same samples and a
    byte-identical pass-rate table."""
    workdir, config = finished_run
    other = copy.deepcopy(config)
    other["backend"]["batch_size"] = 3
    other["probe"]["shard_size"] = 6
    write_config(tmp_path, other)
    table = next((workdir / "results" / "probe").rglob("pass_rates_k4.parquet")).relative_to(workdir)
    snakemake(tmp_path, str(table))
    assert sorted(p.name for p in (tmp_path / table).parent.glob("rows*.parquet")) == [
        "rows0-6_b0.parquet",
        "rows0-6_b1.parquet",
        "rows0-6_greedy.parquet",
        "rows6-12_b0.parquet",
        "rows6-12_b1.parquet",
        "rows6-12_greedy.parquet",
    ]
    assert (tmp_path / table).read_bytes() == (workdir / table).read_bytes()

    def samples(root):
        files = sorted((root / table).parent.glob("rows*_b*.parquet"))
        return (
            pd.concat(map(pd.read_parquet, files)).query("sample < 4").sort_values(["id", "sample"], ignore_index=True)
        )

    pd.testing.assert_frame_equal(samples(tmp_path), samples(workdir))


def test_another_experiment_shares_the_probe_cache(finished_run):
    """A second experiment (other name, other subsets and training) with the same model,
    data, prompt and sampling reuses the probe files: it runs no probe job."""

    def other_experiment(c):
        c["name"] = "other"
        c["subsets"] = {"random": {"strategy": "random", "budget": 3}}
        c["train"]["learning_rate"] = 2e-3

    plan = plan_with(finished_run, other_experiment)
    # the probe's export is each experiment's own (results/<name>/export/: its card names the
    # experiment), and so is the disjointness check, which the probe jobs wait for only
    # when they have to run (a checkpoint, no input of theirs)
    assert plan == {
        "check_disjoint": 1,
        "export_difficulty": 1,
        "select_subset": 1,
        "check_selections": 1,
        "train_adapter": 1,
        "evaluate_base": 1,
        "evaluate_adapter": 1,
        "report": 1,
    }


def test_train_job_with_two_cpu_processes(finished_run):
    """train.processes: 2 on CPU: the train job launches two gloo processes (one Snakemake
    job, its log holding both) and leaves the outputs the report reads."""
    workdir, config = finished_run
    two = copy.deepcopy(config)
    two["name"] = "two_processes"
    two["train"]["processes"] = 2
    run = workdir / "results" / "two_processes" / "train" / "hard" / "seed0"
    try:
        write_config(workdir, two)
        snakemake(workdir, str((run / "train_info.json").relative_to(workdir)))
    finally:
        write_config(workdir, config)
    log = (workdir / "results" / "two_processes" / "logs" / "train" / "hard-seed0.log").read_text()
    assert "accelerate.commands.launch --multi_gpu --num_processes 2" in log
    assert log.count("no checkpoint of these settings: training from step 0") == 2  # both processes trained
    assert json.loads((run / "train_info.json").read_text())["steps"] == 2
    assert pd.read_csv(run / "metrics.csv")["step"].tolist() == [1, 2]
    assert (run / "adapter" / "adapter_model.safetensors").exists()


def test_compare_with_another_experiment(finished_run):
    """`compare_with` puts another experiment's pooled rows beside this one's on the eval
    sets both have; it adds one job and reruns nothing else."""
    workdir, config = finished_run
    other = copy.deepcopy(config)
    other.update(name="other", subsets={"random": {"strategy": "random", "budget": 3}})
    comparing = dict(copy.deepcopy(config), compare_with=["other"])
    try:
        write_config(workdir, other)
        snakemake(workdir)
        write_config(workdir, comparing)
        assert planned_jobs(workdir) == {"compare": 1}
        snakemake(workdir)
    finally:
        write_config(workdir, config)
    table = pd.read_csv(workdir / "results" / "test" / "report" / "comparison.csv")
    assert sorted(zip(table["experiment"], table["subset"], strict=True)) == [
        ("other", "random"),
        ("test", "easy"),
        ("test", "hard"),
    ]
    assert set(table["eval_set"]) == {"test"} and table["seed"].str.startswith("all").all()
    assert set(table["train_set"]) == {"train"}
    assert "| test | other |" in (workdir / "results" / "test" / "report" / "comparison.md").read_text()


def test_changing_k_generates_only_the_new_samples(finished_run):
    """K 4 → 6 under a new shard size generates 2 new samples per problem, in jobs of the
    new size, and rewrites no finished block; K 4 → 2 generates nothing and merges the
    first 2 samples of the cached blocks."""
    workdir, config = finished_run
    k4 = next((workdir / "results" / "probe").rglob("pass_rates_k4.parquet"))
    blocks_before = {p: p.stat().st_mtime_ns for p in k4.parent.glob("rows*_b*.parquet")}
    n_problems = len(pd.read_parquet(k4))
    try:
        for k in (6, 2):
            changed = copy.deepcopy(config)
            changed["probe"].update(k=k, shard_size=5)
            write_config(workdir, changed)
            snakemake(workdir, str(k4.relative_to(workdir).with_name(f"pass_rates_k{k}.parquet")))
    finally:
        write_config(workdir, config)
    new_blocks = [p for p in k4.parent.glob("rows*_b*.parquet") if p not in blocks_before]
    assert sorted(p.name for p in new_blocks) == ["rows0-5_b2.parquet", "rows10-12_b2.parquet", "rows5-10_b2.parquet"]
    generated = sum(len(pd.read_parquet(p)) for p in new_blocks)
    assert generated == n_problems * (6 - 4)
    assert all(p.stat().st_mtime_ns == t for p, t in blocks_before.items())
    samples = pd.concat(pd.read_parquet(p) for p in k4.parent.glob("rows*_b*.parquet"))
    assert all(sorted(ids) == list(range(6)) for _, ids in samples.groupby("id")["sample"])
    k2 = pd.read_parquet(k4.with_name("pass_rates_k2.parquet")).set_index("id")
    first_two = samples[samples["sample"] < 2].groupby("id")["correct"].sum()
    assert (k2["k"] == 2).all() and k2["n_correct"].equals(first_two.reindex(k2.index).astype(k2["n_correct"].dtype))
    assert planned_jobs(workdir) == {}  # the K=4 results are untouched


def test_each_stage_is_a_target(tmp_path, tiny_model):
    """`snakemake <stage>` plans that stage's jobs and the earlier ones they need, nothing later."""
    write_config(tmp_path, test_config(tiny_model))
    # the probe jobs wait for the disjointness check, which reads the eval set too
    probed = {"prepare_data": 2, "check_disjoint": 1, "probe_block": 2, "probe_greedy": 1, "probe_merge": 1}
    probe = {**probed, "export_difficulty": 1}  # the export is the probe's product too
    selected = {**probed, "select_subset": 2}
    select = {**selected, "check_selections": 1}  # the selections' warnings, read by the report
    train = {**selected, "train_adapter": 2}
    evaluate = {**train, "evaluate_base": 1, "evaluate_adapter": 2}
    report = {**evaluate, "check_selections": 1, "report": 1}
    for stage, plan in [("probe", probe), ("select", select), ("train", train), ("evaluate", evaluate)]:
        assert planned_jobs(tmp_path, stage) == {**plan, stage: 1}, stage
    assert planned_jobs(tmp_path, "report") == report


def test_a_stage_target_runs_what_an_edit_adds_to_it(finished_run):
    """Once everything exists, `select` makes a new subset's selection and nothing else."""
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed["subsets"]["random"] = {"strategy": "random", "budget": 3}
    write_config(workdir, changed)
    try:
        assert planned_jobs(workdir, "select") == {"select_subset": 1, "check_selections": 1, "select": 1}
        assert planned_jobs(workdir, "train") == {"select_subset": 1, "train_adapter": 1, "train": 1}
    finally:
        write_config(workdir, config)


def test_html_report(finished_run):
    workdir, _ = finished_run
    snakemake(workdir, "--report", "report.html")
    html = (workdir / "report.html").read_text()
    for png in REPORT_PNGS:
        assert png in html
    # the summary page, embedded as a data URI: the summary and pairwise tables
    uri = re.search(r"data:text/html;charset=[\w-]+;filename=summary\.html;base64,([A-Za-z0-9+/=]+)", html)
    page = base64.b64decode(uri[1]).decode()
    assert "<th>accuracy % (95% CI)</th>" in page and "<td>easy</td>" in page
    assert "<th>a − b (95% CI)</th>" in page and page.count("<table>") == 2
