"""How far training moves the learnable % from the base model's, which the probe predicts.

    python benchmarks/learnable_drift.py results/default/subsets/easy.parquet [--seed 0]
        [--config config/config.yaml] [--steps N] [--out /tmp/learnable_drift]

Trains the subset twice with the config's train section: at its learning rate and at
learning rate 0. Both runs see the same problems in the same order and draw their samples
from the same random stream (same seed); at learning rate 0 every rollout comes from the
base model, the distribution the probe sampled, so its learnable % is what the
prediction (the subset's .json, predicted_learnable_pct and its interval) is about. Prints
per step the learnable share and the policy's mean token entropy of both runs, then
both runs' learnable % beside the prediction. Record results in docs/performance.md.
"""

import argparse
import dataclasses
import json
from pathlib import Path

import pandas as pd
import torch
import yaml

from grpo_difficulty import train
from grpo_difficulty.config.checks import load_config
from grpo_difficulty.config.layout import Layout
from grpo_difficulty.files import model_folder
from grpo_difficulty.trainer.learnable import LEARNABLE_METRIC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("subset", type=Path, help="a subset table, results/<name>/subsets/<subset>.parquet")
    parser.add_argument("--seed", type=int, default=0, help="the training seed")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--steps", type=int, default=None, help="default: train.steps")
    parser.add_argument("--out", type=Path, default=Path("/tmp/learnable_drift"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(yaml.safe_load(open(args.config)))
    model = Layout.of(cfg).model_dir if cfg.model == "embedded" else model_folder(cfg.model) or cfg.model
    subset = pd.read_parquet(args.subset)
    stats = json.loads(args.subset.with_suffix(".json").read_text())
    steps = args.steps or cfg.train.steps
    runs = {}
    for name, lr in (("trained", cfg.train.learning_rate), ("lr 0", 0.0)):
        run_cfg = dataclasses.replace(cfg.train, learning_rate=lr, steps=steps, save_steps=steps + 1)
        out = args.out / f"{args.subset.stem}-seed{args.seed}-lr{lr:g}"
        train.train_adapter(model, subset, cfg.prompt, run_cfg, args.seed, out)
        runs[name] = pd.read_csv(out / "metrics.csv").set_index("step")
    table = pd.concat(
        {
            f"{name} {column}": run[source]
            for name, run in runs.items()
            for column, source in (("learnable", LEARNABLE_METRIC), ("entropy", "entropy"))
        },
        axis=1,
    )
    print(table.round(3).to_string())
    pct = {name: 100 * run[LEARNABLE_METRIC].mean() for name, run in runs.items()}
    print(
        f"{args.subset} seed {args.seed}, {steps} steps: learnable % trained {pct['trained']:.1f}, "
        f"at lr 0 {pct['lr 0']:.1f}; "
        f"predicted {stats['predicted_learnable_pct']:.1f} "
        f"[{stats['predicted_learnable_lo']:.1f}, {stats['predicted_learnable_hi']:.1f}]"
    )


if __name__ == "__main__":
    main()
