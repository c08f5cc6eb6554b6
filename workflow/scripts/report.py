"""Summary tables and plots across strategies, seeds and checkpoints (rule report)."""

import json

import pandas as pd

from grpo_difficulty.files import log_to, read_table
from grpo_difficulty.report.make import make_report
from grpo_difficulty.report.settings import ReportSettings

with log_to(snakemake.log[0]):
    params = snakemake.params
    base = {e: read_table(p) for e, p in zip(params.eval_sets, snakemake.input.base, strict=True)}
    points = [dict(p, predictions=read_table(p["path"])) for p in params.points]
    keys = [(r["subset"], r["seed"]) for r in params.runs]
    train_info = {
        key: json.loads(open(path).read()) for key, path in zip(keys, snakemake.input.train_info, strict=True)
    }
    metrics = {key: pd.read_csv(path) for key, path in zip(keys, snakemake.input.metrics, strict=True)}
    subset_stats = {key: json.loads(open(path).read()) for key, path in zip(keys, snakemake.input.stats, strict=True)}
    text = make_report(
        base,
        points,
        train_info,
        metrics,
        read_table(snakemake.input.difficulty),
        subset_stats,
        ReportSettings(**params.settings),
        dict(snakemake.output.items()),
        json.loads(open(snakemake.input.checks).read())["warnings"],
    )
    print(text)
