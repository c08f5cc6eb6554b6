"""GRPO optimizer-step time and peak memory: ours vs a bare TRL GRPOTrainer, as a table.

    python benchmarks/train_step.py [--model results/models/SmolLM2-135M-Instruct]
        [--threads 2] [--steps 6] [--settings default long] [--repeats 1] [--config config/config.yaml]

Settings (both: SmolLM2-135M or --model, LoRA r=16 alpha=32 on all linear layers, dapo
loss, beta 0, T=0.7, 64 arithmetic problems of levels 1-8, correctness reward):
- default: config/config.yaml's (or --config's) train section and prompt (G=8, 1 prompt
  per step, completions of <= 8 tokens ending at a newline, the 5-shot prompt of ~100
  tokens); its dtype, gradient checkpointing and optimizer serve both trainers, on the
  GPU where CUDA is present (benchmarks/gpu_check.sh: config/experiments/gpu-smoke.yaml);
- long: a ~400-token prompt (worked examples, boxed answers), completions of 32 tokens.
Variants, each in a subprocess of its own (peak memory = that process's max RSS, model
loading included; on a GPU also torch's peak allocated GPU memory):
- bare TRL: `trl.GRPOTrainer` as a user would set it up, same model, data, G, lengths,
  LoRA, rewards and end-of-sequence ids;
- ours, shared_prompt off: `train.build_trainer` with TRL's own passes and the CPU
  LM-head fix (`trainer.grpo.score_completion_tokens_only`);
- ours: `train.build_trainer` as the workflow trains (shared prompt + the LM-head fix).
Seconds per optimizer step: the time between consecutive Trainer `on_step_end`
callbacks (generation, scoring, loss, backward, optimizer), median over the steps after
the first; "x bare" divides by bare TRL's median. CPU seconds per step (this process's
user + system time over the same steps) say the same where other jobs share the cores:
they count what the step computed, not the time it waited (with more threads than
free cores, OpenMP's spinning inflates them too). Goal: ours <= 0.35 x bare TRL at the
default settings on 2 cores. Record results in docs/performance.md.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from grpo_difficulty.config.sections import PromptConfig, TrainConfig, build

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {"bare": "bare TRL GRPOTrainer", "ours_no_share": "ours, shared_prompt: false", "ours": "ours"}


def setting(name: str, config_file: str) -> tuple[dict, PromptConfig]:
    """(train config, prompt) of a benchmark setting."""
    from grpo_difficulty import tasks

    config = yaml.safe_load(Path(config_file).read_text())
    cfg = dict(config["train"], rewards={"correctness": 1.0}, save_steps=10**6)
    if name == "default":
        return cfg, build(PromptConfig, config["prompt"])
    shots = tasks.arithmetic_rows(list(range(1, 9)), {"shots": 2}, "shots", 1)[:10]
    system = "\n\n".join(
        f"Problem: {q}\nSolution: {q[8:-1]} = {g}. The answer is \\boxed{{{g}}}."
        for q, g in shots[["question", "gold"]].values
    )
    return dict(cfg, max_completion_length=32), PromptConfig(format="boxed", system=system)


def bare_trl_trainer(model_dir: str, rows, prompt: PromptConfig, cfg: dict, out_dir: str):
    """GRPOTrainer straight from TRL: no override of ours is imported or applied."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from grpo_difficulty import tasks
    from grpo_difficulty.generation.models import device_and_dtype, newline_token_ids
    from grpo_difficulty.trainer.rewards import reward_functions

    device, dtype = device_and_dtype(cfg.get("dtype", "auto"))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    if "\n" in tasks.stop_strings(prompt):  # the same stopping tokens as ours
        model.generation_config.eos_token_id = [tokenizer.eos_token_id, *newline_token_ids(tokenizer)]
    data = Dataset.from_dict(
        dict(
            prompt=[tasks.render_prompt(q, prompt) for q in rows["question"]],
            gold=rows["gold"].astype(str).tolist(),
            answer_type=rows["answer_type"].tolist(),
        )
    )
    rewards, weights = reward_functions(build(TrainConfig, cfg), prompt.format)
    args = GRPOConfig(
        output_dir=out_dir,
        seed=0,
        max_steps=cfg["steps"],
        learning_rate=cfg["learning_rate"],
        per_device_train_batch_size=cfg.get("prompts_per_step", 1) * cfg["num_generations"],
        num_generations=cfg["num_generations"],
        max_completion_length=cfg["max_completion_length"],
        temperature=cfg["temperature"],
        beta=0.0,
        loss_type="dapo",
        reward_weights=weights,
        use_cpu=device == "cpu",
        bf16=dtype == torch.bfloat16,
        gradient_checkpointing=cfg.get("gradient_checkpointing", False),
        optim=cfg.get("optim", "adamw_torch_fused"),
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    return GRPOTrainer(
        model=model, reward_funcs=rewards, train_dataset=data, args=args, processing_class=tokenizer, peft_config=lora
    )


def run_variant(variant: str, setting_name: str, model_dir: str, steps: int, threads: int, config_file: str) -> dict:
    """One training run (in this process); its step times, completion lengths and peak
    RSS (and GPU memory)."""
    import torch
    from transformers import TrainerCallback

    from grpo_difficulty import tasks, train
    from grpo_difficulty.generation.models import load_tokenizer
    from grpo_difficulty.trainer.grpo import score_completion_tokens_only

    torch.set_num_threads(threads)
    cfg, prompt = setting(setting_name, config_file)
    cfg = dict(cfg, steps=steps, shared_prompt=variant == "ours")
    rows = tasks.arithmetic_rows(list(range(1, 9)), {"bench": 8}, "bench", 0)
    out_dir = tempfile.mkdtemp(prefix="train_step_")
    if variant == "bare":
        trainer = bare_trl_trainer(model_dir, rows, prompt, cfg, out_dir)
    else:
        score_completion_tokens_only()
        trainer = train.build_trainer(
            model_dir, load_tokenizer(model_dir), rows, prompt, build(TrainConfig, cfg), 0, Path(out_dir)
        )
        trainer.args.disable_tqdm = True

    class StepTimes(TrainerCallback):
        def on_train_begin(self, *args, **kwargs):
            self.wall, self.cpu, self.last = [], [], (time.perf_counter(), time.process_time())

        def on_step_end(self, *args, **kwargs):
            now = (time.perf_counter(), time.process_time())
            self.wall.append(now[0] - self.last[0])
            self.cpu.append(now[1] - self.last[1])
            self.last = now

    timer = StepTimes()
    trainer.add_callback(timer)
    trainer.train()
    lengths = [r["completions/mean_length"] for r in trainer.state.log_history if "completions/mean_length" in r]
    prompt_tokens = len(trainer.processing_class(trainer.train_dataset[0]["prompt"])["input_ids"])
    return dict(
        step_seconds=timer.wall,
        cpu_seconds=timer.cpu,
        completion_tokens=statistics.mean(lengths),
        prompt_tokens=prompt_tokens,
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        peak_gpu_mib=torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
    )


def peak_gpu(runs: list[dict]) -> str:
    """The runs' largest peak of allocated GPU memory in MiB, "-" on CPU."""
    peaks = [r["peak_gpu_mib"] for r in runs if r["peak_gpu_mib"] is not None]
    return f"{max(peaks):.0f}" if peaks else "-"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "results/models/SmolLM2-135M-Instruct"))
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"), help="its train and prompt")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps per run (the first is not counted)")
    parser.add_argument("--settings", nargs="+", default=["default", "long"], choices=["default", "long"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--repeats", type=int, default=1, help="runs of each variant, interleaved")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "SETTING"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_variant(*args.child, args.model, args.steps, args.threads, args.config)))
        return

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    print(
        f"{args.threads} threads, {args.steps} steps per run (the first not counted), {args.repeats} run(s) each; "
        f"load average before: {os.getloadavg()[0]:.1f}"
    )
    print(
        "| setting | variant | prompt tokens | completion tokens (mean) | s / step (median, min-max) | x bare TRL "
        "| CPU s / step (median) | x bare TRL (CPU) | peak RSS (MiB) | peak GPU (MiB) |\n"
        "|---|---|---|---|---|---|---|---|---|---|",
        flush=True,
    )
    for name in args.settings:
        runs = {v: [] for v in args.variants}
        for _ in range(args.repeats):
            for variant in args.variants:
                child = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        variant,
                        name,
                        "--model",
                        args.model,
                        "--steps",
                        str(args.steps),
                        "--config",
                        args.config,
                        "--threads",
                        str(args.threads),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if child.returncode:
                    sys.exit(f"{variant}/{name} failed:\n{child.stderr[-3000:]}")
                runs[variant].append(json.loads(child.stdout.strip().splitlines()[-1]))
        medians = {
            v: {k: statistics.median(t for r in rs for t in r[k][1:]) for k in ("step_seconds", "cpu_seconds")}
            for v, rs in runs.items()
        }
        for variant, rs in runs.items():
            wall = [t for r in rs for t in r["step_seconds"][1:]]
            ratio = {
                k: f"{medians[variant][k] / medians['bare'][k]:.2f}" if "bare" in medians else "-"
                for k in ("step_seconds", "cpu_seconds")
            }
            print(
                f"| {name} | {VARIANTS[variant]} | {rs[0]['prompt_tokens']} "
                f"| {statistics.mean(r['completion_tokens'] for r in rs):.1f} "
                f"| {medians[variant]['step_seconds']:.2f} ({min(wall):.2f}-{max(wall):.2f}) | {ratio['step_seconds']} "
                f"| {medians[variant]['cpu_seconds']:.2f} | {ratio['cpu_seconds']} "
                f"| {max(r['peak_rss_mib'] for r in rs):.0f} | {peak_gpu(rs)} |",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
