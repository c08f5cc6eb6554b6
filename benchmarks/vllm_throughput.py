"""vLLM backend throughput on the embedded model (or any HF folder), printed as lines.

    /work/vllm-venv/bin/python benchmarks/vllm_throughput.py --model /tmp/smol_hf
        [--problems 64] [--k 8] [--block-size 4] [--kvcache-gb 2]

Needs a venv with vllm (docs/performance.md, "vLLM on CPU"). Same prompts and sampling
settings as benchmarks/probe_throughput.py (HF backend):
1. engine start (VLLMGenerator: on CPU block_size 32, no chunked prefill, fixed KV cache);
2. probe blocks through VLLMGenerator (K/block_size blocks of block_size samples, one
   seed per (prompt, sample)) vs a bare `LLM.generate` with `SamplingParams(n=K)` on the
   same engine and prompts: generated tokens/s and the ratio;
3. greedy answers (the probe's greedy job).
Record results in docs/performance.md.
"""

import argparse

from probe_throughput import PROMPT, SAMPLING, timed  # same prompts and settings as the HF benchmark

from grpo_difficulty import probe, tasks
from grpo_difficulty.config.sections import BackendConfig
from grpo_difficulty.generation.backends import make_generator


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="results/models/SmolLM2-135M-Instruct")
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--block-size", type=int, default=4)
    parser.add_argument("--kvcache-gb", type=float, default=2.0)
    args = parser.parse_args()
    from vllm import SamplingParams

    rows = tasks.arithmetic_rows(list(range(1, 9)), {"bench": args.problems // 8}, "bench", 99)
    prompts = [tasks.render_prompt(q, PROMPT) for q in rows["question"]]
    gen, t_start = timed(
        lambda: make_generator(
            BackendConfig(name="vllm", max_model_len=1024, cpu_kvcache_space_gb=args.kvcache_gb), args.model
        )
    )
    gen.generate(prompts[:2], 1, 0.0, 1.0, 2, 0, stop=["\n"])  # warm-up outside the timings

    def blocks():
        sampling = {**SAMPLING, "block_size": args.block_size}
        return [probe.probe_block(gen, rows, PROMPT, b, **sampling) for b in range(args.k // args.block_size)]

    def bare():
        params = SamplingParams(
            n=args.k,
            temperature=SAMPLING["temperature"],
            top_p=SAMPLING["top_p"],
            max_tokens=SAMPLING["max_new_tokens"],
            seed=SAMPLING["seed"],
            stop=["\n"],
        )
        out = gen.llm.generate(prompts, params, use_tqdm=False)
        return sum(len(o.token_ids) for r in out for o in r.outputs)

    ours, t_ours = timed(blocks)
    ours_tokens = sum(int(b["n_tokens"].sum()) for b in ours)
    bare_tokens, t_bare = timed(bare)
    greedy, t_greedy = timed(lambda: probe.probe_greedy(gen, rows, PROMPT, SAMPLING["max_new_tokens"]))
    print(f"model {args.model}, {len(rows)} problems, K={args.k} in blocks of {args.block_size}, vLLM backend")
    print(f"engine start      : {t_start:.1f} s")
    print(f"probe blocks      : {ours_tokens} tokens in {t_ours:.1f} s = {ours_tokens / t_ours:.1f} tok/s")
    print(
        f"bare LLM.generate : {bare_tokens} tokens in {t_bare:.1f} s = {bare_tokens / t_bare:.1f} tok/s "
        f"(SamplingParams(n={args.k}), one call)"
    )
    print(f"throughput ratio  : {(ours_tokens / t_ours) / (bare_tokens / t_bare):.2f}")
    print(
        f"greedy answers    : {len(greedy)} problems in {t_greedy:.1f} s, {int(greedy['greedy_correct'].sum())} correct"
    )


if __name__ == "__main__":
    main()
