"""Models and generation backends, one concern per module.

- `models`: loading models and tokenizers; the embedded model's GGUF conversion.
- `prefill`: shared-prefill KV caches (the HF backend and the shared-prompt trainer).
- `sampling`: the per-sample seeding rule and the Gumbel-max sampling processors.
- `base`: the backends' interface (`Generator`, `Completion`).
- `hf`, `vllm`: the two backends; `backends.make_generator` builds the configured one.
"""
