"""Probe throughput on the embedded model (or any HF folder), printed as a table.

    python benchmarks/probe_throughput.py [--model results/models/SmolLM2-135M-Instruct]
        [--problems 64] [--k 8] [--threads 2]

1. probe blocks (our HFGenerator: shared few-shot prefix, per-prompt prefill copied
   to the K samples) vs a bare `model.generate(num_return_sequences=K)` on the same
   prompts and settings: generated tokens/s and the ratio (goal ≥ 0.90);
2. extending K 8 → 16 by new blocks vs probing K=16 from scratch (goal ≤ 0.55).
Record results in docs/performance.md.
"""

import argparse
import time

import torch

from grpo_difficulty import probe, tasks
from grpo_difficulty.config.sections import PromptConfig
from grpo_difficulty.generation.hf import HFGenerator

PROMPT = PromptConfig(
    format="fewshot",
    examples=[
        {"question": "What is 3 + 4?", "answer": "7"},
        {"question": "What is 12 + 5?", "answer": "17"},
        {"question": "What is 9 - 2?", "answer": "7"},
        {"question": "What is 6 * 7?", "answer": "42"},
        {"question": "What is 35 + 48?", "answer": "83"},
    ],
)
SAMPLING = dict(block_size=4, temperature=0.7, top_p=1.0, max_new_tokens=8, seed=0)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bare_generate(gen: HFGenerator, prompts: list[str], k: int) -> int:
    """transformers alone: batched, left-padded, num_return_sequences=k; returns tokens made."""
    tokens = 0
    eos = sorted({gen.tokenizer.eos_token_id, *gen.newline_ids})
    for start in range(0, len(prompts), max(1, gen.batch_size // k)):
        batch = prompts[start : start + max(1, gen.batch_size // k)]
        enc = gen.tokenizer(batch, return_tensors="pt", padding=True).to(gen.model.device)
        with torch.no_grad():
            out = gen.model.generate(
                **enc,
                do_sample=True,
                temperature=0.7,
                max_new_tokens=8,
                num_return_sequences=k,
                eos_token_id=eos,
                pad_token_id=gen.tokenizer.pad_token_id,
            )[:, enc["input_ids"].shape[1] :]
        for row in out.tolist():
            tokens += next((j + 1 for j, t in enumerate(row) if t in eos), len(row))
    return tokens


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="results/models/SmolLM2-135M-Instruct")
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = tasks.arithmetic_rows(list(range(1, 9)), {"bench": args.problems // 8}, "bench", 99)
    gen = HFGenerator(args.model, batch_size=64)
    prompts = [tasks.render_prompt(q, PROMPT) for q in rows["question"]]
    _ = gen.newline_ids  # build the stop-token list outside the timings

    def blocks(first, last):
        return [probe.probe_block(gen, rows, PROMPT, b, **SAMPLING) for b in range(first, last)]

    ours, t_ours = timed(lambda: blocks(0, args.k // 4))
    ours_tokens = sum(int(b["n_tokens"].sum()) for b in ours)
    bare_tokens, t_bare = timed(lambda: bare_generate(gen, prompts, args.k))
    _, t_extend = timed(lambda: blocks(args.k // 4, 2 * args.k // 4))
    _, t_fresh = timed(lambda: blocks(0, 2 * args.k // 4))
    print(f"model {args.model}, {len(rows)} problems, K={args.k}, {args.threads} threads")
    print(f"probe blocks      : {ours_tokens} tokens in {t_ours:.1f} s = {ours_tokens / t_ours:.1f} tok/s")
    print(f"bare generate     : {bare_tokens} tokens in {t_bare:.1f} s = {bare_tokens / t_bare:.1f} tok/s")
    print(f"throughput ratio  : {(ours_tokens / t_ours) / (bare_tokens / t_bare):.2f}  (goal >= 0.90)")
    print(
        f"extend K {args.k}->{2 * args.k}: {t_extend:.1f} s; fresh K={2 * args.k}: {t_fresh:.1f} s; "
        f"ratio {t_extend / t_fresh:.2f}  (goal <= 0.55)"
    )


if __name__ == "__main__":
    main()
