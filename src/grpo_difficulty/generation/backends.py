"""The generation backend a `backend` config section names."""

from __future__ import annotations

from ..config.sections import BackendConfig, QuantizationConfig
from ..config.topology import vllm_lora_rank
from .base import Generator
from .hf import HFGenerator
from .vllm import VLLMGenerator


def make_generator(
    backend: BackendConfig,
    model_ref: str,
    adapter: str | None = None,
    lora_rank: int = 16,
    quantization: QuantizationConfig | None = None,
) -> Generator:
    """Build the generator named by the `backend` config section; `lora_rank` (train.lora.r)
    sizes vLLM's adapter slots; `quantization` (the base model's bitsandbytes weights) is
    the hf backend's only (config.checks.check_quantization)."""
    if backend.name == "hf":
        return HFGenerator(model_ref, backend.dtype, adapter, backend.batch_size, quantization)
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
