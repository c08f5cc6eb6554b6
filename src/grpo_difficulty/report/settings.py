"""The report's settings, one typed object (rule report builds it from the config)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportSettings:
    """What the report needs from the config besides its input files. The rule passes it
    as a dict of plain values (so that Snakemake reruns the report when one changes) and
    the script rebuilds it: ReportSettings(**params.settings)."""

    k: int  # probe samples per problem (the pass-rate histogram's bins)
    pass_k: list[int]  # pass@k columns of the summary
    bootstrap: int  # bootstrap resamples per interval
    full_subset: str | None  # the full-data reference of steps-to-match (strategy `all`)
    every_steps: int | None  # evaluate.every_steps: intermediate checkpoints, or None
    train_set: str
    experiment: str
    model: str
    difficulty: str  # where the pass rates that subsets were selected by came from
    per_seed: list[str]  # subsets whose selection was drawn anew for every training seed
    sampling: str  # the probe's and training's sampling settings (config.keys.sampling_statement)
