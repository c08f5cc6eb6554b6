"""The TRL overrides (grpo_difficulty.trainer): the version they were checked against,
the CPU LM-head patch, and the shared-prompt trainer computing what TRL's own path does."""

import pandas as pd
import pytest
import torch
from conftest import train_config
from safetensors.torch import load_file

from grpo_difficulty import tasks, train
from grpo_difficulty.generation.models import load_tokenizer, newline_token_ids
from grpo_difficulty.trainer import compat, grpo

# Three groups of G=4 per batch, prompts of different token lengths (left padding differs).
G = 4
STEP_CFG = dict(
    steps=5,
    learning_rate=1e-3,
    lr_scheduler="constant",
    prompts_per_step=3,
    num_generations=G,
    max_completion_length=6,
    temperature=0.7,
    beta=0.04,
    loss_type="dapo",
    scale_rewards="group",
    epsilon=0.2,
    save_steps=5,
    rewards=dict(correctness=1.0, format=0.5, length=0.1),
    lora=dict(r=4, alpha=8, dropout=0.0, target_modules="all-linear"),
)
# rtol of the equality between our passes and TRL's; atol only absorbs float noise
# around 0 (masked positions are exactly 0 in both), relative to each tensor's scale.
RTOL = 1e-4


def test_trl_is_the_version_the_overrides_were_checked_against():
    import trl

    assert trl.__version__ == compat.SUPPORTED_TRL, (
        f"trl {trl.__version__} is installed, but grpo_difficulty/trainer overrides private methods of "
        f"trl {compat.SUPPORTED_TRL}: run tests/test_compat.py and re-check the members it names (see "
        "trainer/compat.py's docstring), rerun this file and tests/test_train.py, then raise SUPPORTED_TRL"
    )


def test_other_trl_versions_are_refused(monkeypatch):
    import trl

    monkeypatch.setattr(trl, "__version__", "1.17.0")
    for patch in (grpo.score_completion_tokens_only, grpo.grpo_trainer_class):
        with pytest.raises(RuntimeError, match=r"checked against trl 1\.16\.0, found 1\.17\.0"):
            patch()


@pytest.fixture
def completion_scoring(monkeypatch):
    """score_completion_tokens_only in effect for one test (restored after it)."""
    import trl.trainer.utils as trl_utils

    monkeypatch.setattr(trl_utils, "_use_triton", trl_utils._use_triton)
    grpo.score_completion_tokens_only()


def fused_logps_and_grads(model, ids, mask, labels):
    model.zero_grad()
    out = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True)
    logps = out.log_probs[:, -labels.shape[1] // 4 :]
    logps.sum().backward()
    return logps.detach().clone(), {n: p.grad.clone() for n, p in model.named_parameters()}


def test_completion_only_scoring_gives_the_same_gradients(monkeypatch):
    """The override of trl's `_use_triton` on CPU changes speed, not numbers."""
    import trl.trainer.utils as trl_utils
    from transformers import LlamaConfig, LlamaForCausalLM

    monkeypatch.setattr(trl_utils, "_use_triton", trl_utils._use_triton)  # restored after the test
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=3000,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=0,
        )
    )
    trl_utils.add_fused_lm_head(model, outputs=("log_probs", "entropy"))
    ids = torch.randint(3, 3000, (4, 40))
    mask = torch.ones_like(ids)
    mask[:2, :12] = 0  # left padding
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :30] = -100  # the last 10 tokens are the completion
    before = fused_logps_and_grads(model, ids, mask, labels)
    grpo.score_completion_tokens_only()
    assert trl_utils._use_triton(torch.device("cpu"))
    after = fused_logps_and_grads(model, ids, mask, labels)
    torch.testing.assert_close(before[0], after[0], rtol=0, atol=1e-5)
    for name in before[1]:
        torch.testing.assert_close(before[1][name], after[1][name], rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def subset():
    """Problems of three levels; GROUPS are prompts of 40, 42 and 44 tokens (tiny model's
    tokenizer): a + b, a + b + c, abc + def."""
    return tasks.arithmetic_rows([1, 7, 9], {"train": 2}, "train", 0)


GROUPS = (0, 2, 5)


@pytest.fixture(scope="module")
def qwen2_model(tiny_model, tmp_path_factory):
    """A random 2-layer Qwen2 (q/k/v biases, grouped-query attention) with the tiny model's
    tokenizer: another architecture whose forward returns a transformers Cache."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = load_tokenizer(tiny_model)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.eos_token_id,
            tie_word_embeddings=False,
        )
    )
    out = tmp_path_factory.mktemp("qwen2")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


def make_trainer(model_dir, subset, prompt, shared_prompt, tmp_path, **cfg):
    trainer = train.build_trainer(
        model_dir,
        load_tokenizer(model_dir),
        subset,
        prompt,
        train_config(dict(STEP_CFG, shared_prompt=shared_prompt, **cfg)),
        seed=0,
        output_dir=tmp_path / f"shared{shared_prompt}",
    )
    if trainer.args.gradient_checkpointing:  # as transformers' Trainer.train enables it
        trainer.model.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs
        )
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer's loop, read by the loss
    torch.manual_seed(1)  # lora_B starts at 0, which would make every lora_A gradient 0
    for name, param in trainer.model.named_parameters():
        if "lora_B" in name:
            param.data.normal_(std=0.05)
    return trainer


def shuffled_batch(trainer, subset) -> dict:
    """A generation batch of TRL's own code (3 groups), rows shuffled as TRL's
    _prepare_inputs shuffles them, with fixed nonzero advantages."""
    rows = [trainer.train_dataset[i] for i in GROUPS for _ in range(G)]
    torch.manual_seed(2)
    batch = trainer._generate_and_score_completions(rows)
    order = torch.randperm(len(rows))
    batch = {k: v[order] if isinstance(v, torch.Tensor) and v.dim() else v for k, v in batch.items()}
    batch["advantages"] = torch.randn(len(rows))
    return batch


def assert_equal(ours, theirs, what):
    atol = 1e-6 * float(theirs.abs().max()) + 1e-8
    torch.testing.assert_close(ours, theirs, rtol=RTOL, atol=atol, msg=lambda m: f"{what}: {m}")


def rollout_function(prompts, trainer) -> dict:
    """Completions from outside the trainer's generation, as a vLLM engine returns them
    (token ids and their sampling log-probs): random tokens of random lengths."""
    prompt_ids = trainer._tokenize_prompts(prompts)[0]
    vocab = len(trainer.processing_class)
    gen = torch.Generator().manual_seed(4)
    lengths = torch.randint(2, STEP_CFG["max_completion_length"] + 1, (len(prompts),), generator=gen).tolist()
    return dict(
        prompt_ids=prompt_ids,
        completion_ids=[torch.randint(3, vocab, (n,), generator=gen).tolist() for n in lengths],
        logprobs=[(-torch.rand(n, generator=gen)).tolist() for n in lengths],
    )


def layer_calls_in_backward(model, loss) -> int:
    """How many decoder-layer forwards `loss.backward()` runs: the recomputes of the
    checkpointed layers."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    calls = []
    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    hooks = [layer.register_forward_pre_hook(lambda *_: calls.append(1)) for layer in layers]
    loss.backward()
    for hook in hooks:
        hook.remove()
    return len(calls)


# (architecture, setting): gradient checkpointing on; completions from a rollout function
# (as from vLLM: the loss pass does not depend on what generated them)
SETTINGS = {"plain": {}, "gradient_checkpointing": dict(gradient_checkpointing=True), "rollout_function": {}}


@pytest.mark.parametrize(
    "architecture, setting",
    [
        ("llama", "plain"),
        ("qwen2", "plain"),
        ("llama", "gradient_checkpointing"),
        ("qwen2", "gradient_checkpointing"),
        ("llama", "rollout_function"),
    ],
)
def test_shared_prompt_step_equals_trl(
    architecture, setting, tiny_model, qwen2_model, subset, fewshot_prompt, tmp_path, completion_scoring, capsys
):
    """One step's per-token log-probs (policy, reference, chunked as for old log-probs),
    entropies, loss and every LoRA gradient: ours equal TRL's full-sequence pass. Under
    gradient checkpointing both recompute each layer once in the backward pass (ours: the
    completion pass; the prompt pass, once per group, is not checkpointed)."""
    model_dir = {"llama": tiny_model, "qwen2": qwen2_model}[architecture]
    stock = make_trainer(model_dir, subset, fewshot_prompt, False, tmp_path, **SETTINGS[setting])
    ours = make_trainer(model_dir, subset, fewshot_prompt, True, tmp_path, **SETTINGS[setting])
    assert type(stock).__name__ == "LearnableGRPOTrainer" and type(ours).__name__ == "SharedPromptGRPOTrainer"
    checkpointing = setting == "gradient_checkpointing"
    assert stock.model.is_gradient_checkpointing is ours.model.is_gradient_checkpointing is checkpointing
    if setting == "rollout_function":
        stock.rollout_func = ours.rollout_func = rollout_function
    batch = shuffled_batch(stock, subset)
    if setting == "rollout_function":
        assert batch["sampling_per_token_logps"] is not None  # TRL took the rollout's log-probs
    widths = batch["prompt_mask"].sum(1).unique()
    assert len(widths) == 3 and batch["ref_per_token_logps"] is not None  # three prompt lengths; beta > 0
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], 1)
    width = batch["completion_ids"].shape[1]

    results = {}
    for name, trainer in (("stock", stock), ("ours", ours)):
        model = trainer.model
        with torch.no_grad():
            with model.disable_adapter():  # the reference, as TRL computes it for a PEFT policy
                ref = trainer._get_per_token_logps_and_entropies(model, ids, mask, width, batch_size=2 * G)[0]
            chunked = trainer._get_per_token_logps_and_entropies(model, ids, mask, width, batch_size=2 * G)[0]
        logps, entropies, _ = trainer._get_per_token_logps_and_entropies(model, ids, mask, width, compute_entropy=True)
        model.zero_grad()
        loss = trainer.compute_loss(model, batch)
        recomputed = layer_calls_in_backward(model, loss)
        assert recomputed == (2 if checkpointing else 0), (name, recomputed)  # 2 layers, once each
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        results[name] = dict(
            ref=ref,
            chunked=chunked,
            logps=logps.detach(),
            entropies=entropies.detach(),
            loss=loss.detach(),
            grads=grads,
        )
    stock_out, ours_out = results["stock"], results["ours"]
    assert stock_out["logps"].requires_grad is False and (stock_out["logps"] != 0).any()
    for key in ("ref", "chunked", "logps", "entropies", "loss"):
        assert_equal(ours_out[key], stock_out[key], key)
    assert len(stock_out["grads"]) == 2 * 7 * 2  # lora_A and lora_B of 7 linear layers in 2 blocks
    for name, grad in stock_out["grads"].items():
        assert grad.abs().max() > 0, name
        assert_equal(ours_out["grads"][name], grad, name)
    told = {line for line in capsys.readouterr().out.splitlines() if line.startswith("train.shared_prompt:")}
    # (the last chunk of 4 shuffled rows may hold no two rows of one prompt: TRL's pass runs there)
    assert told <= {"train.shared_prompt: no two rows of a batch share a prompt; TRL's own path runs there"}


def test_shared_prompt_generation_draws_trls_completions(tiny_model, subset, fewshot_prompt, tmp_path):
    """Same seed, same prompts (3 groups, newline tokens as EOS): the same completion ids."""
    completions = []
    for shared_prompt in (False, True):
        trainer = make_trainer(tiny_model, subset, fewshot_prompt, shared_prompt, tmp_path)
        prompts = [trainer.train_dataset[i]["prompt"] for i in GROUPS for _ in range(G)]
        prompt_ids = trainer._tokenize_prompts(prompts)[0]
        torch.manual_seed(3)
        completions.append(trainer._generate_single_turn(prompt_ids, None, {}, G)[0])
    stock, ours = completions
    assert ours == stock
    newline_ids = set(newline_token_ids(load_tokenizer(tiny_model)))
    assert any(ids[-1] in newline_ids for ids in ours) and len({tuple(ids) for ids in ours}) > 3


def test_fallbacks_are_told_once_and_compute_trls_numbers(
    tiny_model, subset, fewshot_prompt, tmp_path, completion_scoring, capsys
):
    stock = make_trainer(tiny_model, subset, fewshot_prompt, False, tmp_path)
    ours = make_trainer(tiny_model, subset, fewshot_prompt, True, tmp_path)
    batch = shuffled_batch(stock, subset)
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], 1)
    width = batch["completion_ids"].shape[1]
    distinct = torch.unique(batch["prompt_ids"], dim=0, return_inverse=True)[1]
    one_per_prompt = torch.tensor([(distinct == g).nonzero()[0].item() for g in range(3)])
    with torch.no_grad():
        expected = stock._get_per_token_logps_and_entropies(stock.model, ids, mask, width)[0]
        for _ in range(2):
            found = ours._get_per_token_logps_and_entropies(
                ours.model, ids[one_per_prompt], mask[one_per_prompt], width
            )[0]
            assert_equal(found, expected[one_per_prompt], "rows of distinct prompts")
    ours.args.gradient_checkpointing_kwargs = {"use_reentrant": True}
    ours.model.gradient_checkpointing_enable(ours.args.gradient_checkpointing_kwargs)
    ours.model.enable_input_require_grads()
    found = ours._get_per_token_logps_and_entropies(ours.model, ids, mask, width)[0]
    assert_equal(found.detach(), expected, "reentrant gradient checkpointing")
    out = capsys.readouterr().out
    assert out.count("train.shared_prompt: no two rows of a batch share a prompt; TRL's own path runs there") == 1
    assert "train.shared_prompt: reentrant gradient checkpointing (each layer's backward" in out


RUN_CFG = dict(STEP_CFG, prompts_per_step=2, beta=0.0)


def test_short_run_trains_the_same_adapter(tiny_model, subset, fewshot_prompt, tmp_path, monkeypatch):
    """5 optimizer steps with shared prompts and with TRL's own passes, same seed: the same
    completions (rewards, lengths) and the same adapter."""
    import trl.trainer.utils as trl_utils

    monkeypatch.setattr(trl_utils, "_use_triton", trl_utils._use_triton)
    adapters, metrics = [], []
    for shared_prompt in (False, True):
        out = tmp_path / str(shared_prompt)
        train.train_adapter(
            tiny_model,
            subset,
            fewshot_prompt,
            train_config(dict(RUN_CFG, shared_prompt=shared_prompt)),
            seed=0,
            out_dir=out,
        )
        adapters.append(load_file(out / "adapter" / "adapter_model.safetensors"))
        metrics.append(pd.read_csv(out / "metrics.csv"))
    same = ["step", "reward", "reward_std", "frac_reward_zero_std", "completions/mean_length"]
    pd.testing.assert_frame_equal(metrics[1][same], metrics[0][same])
    assert len(metrics[0]) == 5 and metrics[0]["reward_std"].gt(0).any()
    moved = 0
    for name, tensor in adapters[0].items():
        torch.testing.assert_close(adapters[1][name], tensor, rtol=1e-4, atol=1e-6, msg=name)
        moved += "lora_B" in name and bool(tensor.abs().max() > 0)
    assert moved > 0
