"""The typed config: bad configs fail with a message naming the key (unit tests of the
checks, and through Snakemake before any job runs), schema and dataclass defaults agree,
cache keys hash only their listed fields, and one layout names every path."""

import copy
import dataclasses
import json
import typing
from dataclasses import replace

import pytest
import yaml
from workflow_helpers import ROOT, snakemake, test_config, write_config

from grpo_difficulty import select, tasks
from grpo_difficulty.config import docs
from grpo_difficulty.config.checks import load_config, validate_schema
from grpo_difficulty.config.keys import (
    data_key,
    eval_fields,
    execution,
    probe_fields,
    probe_key,
    sampling_statement,
    train_fields,
)
from grpo_difficulty.config.layout import REPORT_TABLES, Layout
from grpo_difficulty.config.sections import (
    SCHEMA,
    Config,
    ConfigError,
    ResourceConfig,
    TrainConfig,
    as_dict,
    build,
    nested_section,
)
from grpo_difficulty.config.topology import (
    BITSANDBYTES_OPTIMIZERS,
    training_processes,
    transformers_optimizers,
    vllm_lora_rank,
)
from grpo_difficulty.files import stable_hash

BAD_CONFIGS = [
    (lambda c: c.update(learning_rate=1), "learning_rate"),
    (lambda c: c["probe"].update(k=0), "0 is less than the minimum of 1"),
    (lambda c: c["probe"].update(k=5), "config error at probe.k: 5 is not a multiple of probe.block_size=2"),
    (lambda c: c["subsets"].update(x={"strategy": "easiest", "budget": 3}), "easiest"),
    (lambda c: c["subsets"].update(x={"strategy": "easy", "budget": 1.5}), "1.5"),
    (lambda c: c["subsets"].update(x={"strategy": "band", "lo": 0.8, "hi": 0.2}), "subsets.x.lo: lo=0.8 > hi=0.2"),
    (lambda c: c["subsets"].update(x={"strategy": "band", "lo": 0.2}), "subsets.x: strategy band needs lo and hi"),
    (lambda c: c["subsets"].update(x={"strategy": "tier"}), "subsets.x.tiers: strategy tier needs a list of tiers"),
    (lambda c: c["subsets"].update(x={"strategy": "medium"}), "subsets.x.budget: strategy medium needs a budget"),
    (
        lambda c: c["subsets"].update(x={"strategy": "easy", "budget": 3, "per_seed": True}),
        "subsets.x.per_seed: strategy easy does not draw at random: every seed would get the same problems",
    ),
    (
        lambda c: c["subsets"].update(x={"strategy": "band", "lo": 0.2, "hi": 0.8, "per_seed": True}),
        "subsets.x.per_seed: strategy band without a budget does not draw at random",
    ),
    (lambda c: c["train"].update(steps="ten"), "'ten' is not of type 'integer'"),
    (lambda c: c.update(model="path:/no/such/model"), "config error at model: model folder not found: /no/such/model"),
    (lambda c: c.update(eval_sets=["nope"]), "'nope' is not a dataset"),
    (
        lambda c: c.update(compare_with=["test"]),
        "config error at compare_with: lists this experiment's own name 'test'",
    ),
    (lambda c: c.update(eval_sets=["train"]), "is the training set"),
    (lambda c: c["resources"].update(train={"gpu_model": "a100"}), "resources.train.gpu_model: 'a100' needs gpu >= 1"),
    (lambda c: c["datasets"].update(m={"loader": "math_hub"}), "datasets.m.split: required by loader 'math_hub'"),
    (  # gsm8k_file's key: with another loader it would only change the data key
        lambda c: c["datasets"]["test"].update(question_field="q"),
        "datasets.test.question_field: gsm8k_file's key; with loader arithmetic it reads no field",
    ),
    (
        lambda c: c["datasets"].update(m={"loader": "math_hub", "split": "test", "subjects": ["algebr"]}),
        "'algebr' is not one of",
    ),
    (
        lambda c: c["datasets"].update(b={"loader": "bbh_hub", "subjects": ["algebra"]}),
        "datasets.b.subjects: not used by loader 'bbh_hub'",
    ),
    (
        lambda c: c["datasets"].update(b={"loader": "bbh_file", "path": "/no/bbh"}),
        "datasets.b.path: file not found: /no/bbh/tracking_shuffled_objects_three_objects.json",
    ),
    (
        lambda c: c["datasets"].update(
            s={"loader": "shuffled_objects", "levels": [12], "per_level": {"a": 1}, "split": "a"}
        ),
        "datasets.s.levels: level 12 of loader 'shuffled_objects'; allowed [1, 2, 3, 4, 5, 6, 7, 8, 9]",
    ),
    (
        lambda c: c["datasets"].update(s={"loader": "arithmetic", "levels": [1], "per_level": {"a": 1}, "split": "b"}),
        "datasets.s.split: 'b' not in per_level ['a']",
    ),
    (lambda c: c["train"].pop("steps"), "config error at train.steps: required"),
    (
        lambda c: c["train"].update(curriculum=[{"tiers": [1], "steps": 1}, {"tiers": [3], "steps": 1}]),
        "config error at train.curriculum[1].tiers: [3] not among the tiers of training set 'train': [1, 4]",
    ),
    (
        lambda c: c["train"].update(curriculum=[{"tiers": [1], "steps": 1}, {"tiers": [4], "steps": 2}]),
        "config error at train.steps: 2, but the curriculum levels' steps add up to 3",
    ),
    (lambda c: c["train"].update(curriculum=[{"tiers": [1], "steps": 0}]), "0 is less than the minimum of 1"),
    (lambda c: c["train"].update(curriculum=[{"tiers": [], "steps": 2}]), "should be non-empty"),
    (
        lambda c: (
            c["subsets"].update(t={"strategy": "tier", "tiers": [4]}),
            c["train"].update(curriculum=[{"tiers": [1], "steps": 2}]),
        ),
        "config error at train.curriculum[0].tiers: [1] share no tier with subset 't' (tiers [4])",
    ),
    (lambda c: c["evaluate"].update(pass_k=[8]), "config error at evaluate.pass_k: pass@8 needs evaluate.samples >= 8"),
    (
        lambda c: (c["train"].update(steps=6), c["evaluate"].update(every_steps=3)),
        "config error at evaluate.every_steps: 3: step 3 is not a multiple of train.save_steps=2",
    ),
    (
        lambda c: (
            c["train"].update(steps=7, curriculum=[{"tiers": [1], "steps": 3}, {"tiers": [4], "steps": 4}]),
            c["evaluate"].update(every_steps=2),
        ),
        "evaluate.every_steps: 2: step 4 (step 1 of curriculum level 1) is not a multiple of train.save_steps=2",
    ),
    (
        lambda c: (c["backend"].update(name="vllm"), c["train"]["lora"].update(r=1024)),
        "config error at train.lora.r: 1024: the vllm backend serves LoRA adapters up to rank 512",
    ),
    # training: rollout backend, processes, GPUs, optimizer
    (
        lambda c: c["train"].update(generation={"backend": "vllm", "sync": "merged"}),
        "config error at train.generation.sync: merged needs GPUs (resources.train.gpu is 0)",
    ),
    (
        lambda c: c["train"].update(generation={"backend": "vllm", "mode": "server"}),
        "config error at train.generation.mode: 'server': TRL's vLLM server takes merged weights "
        "(train.generation.sync: adapter); use sync: merged",
    ),
    (lambda c: c["train"].update(generation={"mode": "remote"}), "'remote' is not one of ['colocate', 'server']"),
    (
        lambda c: (
            c["train"].update(generation={"backend": "vllm", "mode": "server", "sync": "merged"}),
            c["resources"].update(train={"gpu": 1}),
        ),
        "config error at resources.train.gpu: 1: the vLLM server (train.generation.mode: server) takes 1 GPU(s)",
    ),
    (
        lambda c: (
            c["train"].update(
                generation={"backend": "vllm", "mode": "server", "tensor_parallel_size": 2, "sync": "merged"}
            ),
            c["resources"].update(train={"gpu": 2}),
        ),
        "config error at resources.train.gpu: 2: the vLLM server (train.generation.mode: server) takes 2 GPU(s)",
    ),
    (
        lambda c: (
            c["train"].update(generation={"backend": "vllm", "tensor_parallel_size": 2, "sync": "merged"}),
            c["resources"].update(train={"gpu": 3}),
        ),
        "config error at train.generation.tensor_parallel_size: 2 does not divide the 3 training process(es) "
        "(resources.train.gpu=3)",
    ),
    (
        lambda c: (
            c["train"].update(generation={"backend": "vllm"}, dynamic_sampling={"enabled": True}),
            c["resources"].update(train={"gpu": 1}),
        ),
        "config error at train.dynamic_sampling.enabled: not with train.generation.backend: vllm",
    ),
    (
        lambda c: (c["train"].update(processes=3), c["resources"].update(train={"gpu": 2})),
        "config error at train.processes: 3, but resources.train.gpu=2 gives training 2 GPU(s)",
    ),
    (
        lambda c: (c["train"].update(dynamic_sampling={"enabled": True}), c["resources"].update(train={"gpu": 2})),
        "config error at train.dynamic_sampling.enabled: dynamic sampling runs in one training process, but "
        "resources.train.gpu=2 makes 2",
    ),
    (
        lambda c: c["train"].update(dynamic_sampling={"enabled": True}, processes=2),
        "config error at train.dynamic_sampling.enabled: dynamic sampling runs in one training process, but "
        "train.processes=2 makes 2",
    ),
    (
        lambda c: c["train"].update(processes=3),
        "config error at train.prompts_per_step: 1 prompts x 4 generations = 4 completions per step do not split "
        "evenly over 3 training processes (train.processes=3)",
    ),
    (lambda c: c["train"].update(processes=0), "0 is less than the minimum of 1"),
    (
        lambda c: c["probe"].update(temperature=0.7),
        "config error at probe.temperature: 0.7, but train.temperature is 1.0: the probe would measure another "
        "distribution than the one training samples; set both to the same value, or "
        "probe.allow_sampling_mismatch: true if the difference is wanted",
    ),
    (lambda c: c["train"].update(top_p=0.9), "config error at probe.top_p: 1.0, but train.top_p is 0.9"),
    (
        lambda c: c["train"].update(max_completion_length=8),
        "config error at probe.max_new_tokens: 6, but train.max_completion_length is 8",
    ),
    (
        lambda c: c["train"].update(
            curriculum=[{"tiers": [1], "steps": 1}, {"tiers": [4], "steps": 1, "max_completion_length": 12}]
        ),
        "config error at probe.max_new_tokens: 6, but train.curriculum[1].max_completion_length is 12",
    ),
    (
        lambda c: c["train"].update(optim="adamw_8bits"),
        "config error at train.optim: 'adamw_8bits' is not a transformers optimizer; known: ['adamw_torch',",
    ),
    (lambda c: c.update(quantization={"mode": "2bit"}), "2bit"),
    (
        lambda c: c.update(quantization={"mode": "8bit", "double_quant": True}),
        "config error at quantization.double_quant: quantizes 4-bit constants: quantization.mode is '8bit'",
    ),
    (
        lambda c: (c.update(quantization={"mode": "4bit"}), c["backend"].update(name="vllm")),
        "config error at quantization.mode: '4bit' loads the base through transformers + bitsandbytes, the hf "
        "backend only; backend.name is 'vllm' (set backend.name: hf, or quantization.mode: none)",
    ),
    (
        lambda c: (c.update(quantization={"mode": "8bit"}), c["train"].update(generation={"backend": "vllm"})),
        "config error at quantization.mode: '8bit' loads the base through transformers + bitsandbytes, the hf "
        "backend only; train.generation.backend is 'vllm'",
    ),
]


@pytest.fixture
def base_config(tmp_path) -> dict:
    return test_config(str(tmp_path))  # the checks only need the model folder to exist


@pytest.mark.parametrize("change, message", BAD_CONFIGS)
def test_bad_config_names_the_key(base_config, change, message):
    change(base_config)
    with pytest.raises(Exception) as error:
        load_config(base_config)
    assert message in str(error.value)


@pytest.mark.parametrize("change, message", [BAD_CONFIGS[1], BAD_CONFIGS[2]])
def test_snakemake_runs_the_same_checks_before_any_job(tmp_path, tiny_model, change, message):
    """The Snakefile calls the schema validation and check_config: a schema error and a
    cross-field error stop a dry run, naming the key, before anything is written."""
    config = test_config(tiny_model)
    change(config)
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "-n", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_configs_in_the_repo_pass_every_check(monkeypatch):
    monkeypatch.chdir(ROOT)  # their dataset paths are relative to the repository
    for path in [ROOT / "config" / "config.yaml", *sorted((ROOT / "config" / "experiments").glob("*.yaml"))]:
        cfg = load_config(yaml.safe_load(path.read_text()))
        assert cfg.train.lora.r >= 1 and cfg.subsets, path


def test_probe_sampling_may_differ_when_wanted_or_unprobed(base_config, tmp_path):
    """probe.allow_sampling_mismatch lets a probe differ from training; a training set that
    ships its pass rates is not probed, so its probe settings need not agree."""
    base_config["probe"].update(temperature=0.5)
    load_config(dict(copy.deepcopy(base_config), probe=dict(base_config["probe"], allow_sampling_mismatch=True)))
    rated = tmp_path / "rated.jsonl"
    rated.write_text(json.dumps({"question": "What is 1 + 1?", "answer": "2", "rate": 0.5}) + "\n")
    base_config["datasets"]["train"] = {"loader": "file", "path": str(rated), "fields": {"pass_rate": "rate"}}
    assert sampling_statement(load_config(base_config)) == (
        "training temperature 1.0, top_p 1.0, 6 completion tokens; no probe (difficulty shipped with the data)"
    )


def test_the_report_states_both_sampling_settings(base_config):
    probed = "probe temperature 1.0, top_p 1.0, 6 new tokens"
    assert sampling_statement(load_config(copy.deepcopy(base_config))) == (
        f"{probed}; training temperature 1.0, top_p 1.0, 6 completion tokens: the same"
    )
    base_config["probe"]["allow_sampling_mismatch"] = True
    base_config["train"].update(
        temperature=0.7, curriculum=[{"tiers": [1], "steps": 1}, {"tiers": [4], "steps": 1, "max_completion_length": 4}]
    )
    assert sampling_statement(load_config(base_config)) == (
        f"{probed}; training temperature 0.7, top_p 1.0, 4/6 completion tokens: they differ "
        "(probe.allow_sampling_mismatch: true)"
    )


# --------------------------------------------------------------------------- defaults
def _resolve(node: dict, schema: dict) -> dict:
    if "$ref" in node:
        return {**schema["$defs"][node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _compare_defaults(cls, node: dict, schema: dict, where: str) -> list[str]:
    node = _resolve(node, schema)
    props = node["properties"]
    problems = []
    names = {f.name for f in dataclasses.fields(cls)}
    if set(props) != names:
        problems.append(
            f"{where or 'config'}: schema keys {sorted(set(props) - names)} / dataclass fields "
            f"{sorted(names - set(props))} exist on one side only"
        )
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name not in props:
            continue
        prop = _resolve(props[f.name], schema)
        nested = nested_section(hints[f.name])
        ours = (
            f.default
            if f.default is not dataclasses.MISSING
            else (f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        )
        if nested:
            inner = {"object": prop, "array": prop.get("items"), "map": prop.get("additionalProperties")}[nested[1]]
            problems += _compare_defaults(nested[0], inner, schema, f"{where}{f.name}.")
            if nested[1] == "object" and "default" in prop and ours != nested[0]():
                problems.append(f"{where}{f.name}: the dataclass default is not the section's own defaults")
        elif "default" in prop:
            if ours != prop["default"]:
                problems.append(f"{where}{f.name}: schema default {prop['default']!r}, dataclass {ours!r}")
        elif ours not in (dataclasses.MISSING, None):
            problems.append(f"{where}{f.name}: dataclass default {ours!r} but none in the schema")
        if not f.metadata.get("help"):
            problems.append(f"{where}{f.name}: no help")
    return problems


def test_schema_and_dataclass_defaults_agree():
    schema = yaml.safe_load(SCHEMA.read_text())
    assert _compare_defaults(Config, schema, schema, "") == []


def test_the_schema_enums_are_the_registries():
    """The schema offers exactly the loaders and strategies the code has, in its order."""
    props = yaml.safe_load(SCHEMA.read_text())["properties"]
    assert props["datasets"]["additionalProperties"]["properties"]["loader"]["enum"] == list(tasks.LOADERS)
    assert props["subsets"]["additionalProperties"]["properties"]["strategy"]["enum"] == list(select.STRATEGIES)


def test_config_docs_are_generated_and_current(tmp_path):
    """docs/config.md is what `python -m grpo_difficulty.config.docs` writes: every key of
    the schema with its type and default, described by the schema or else by the
    dataclass's help; `--check` fails on a stale copy."""
    assert docs.main(["--check"]) == 0, "docs/config.md is stale: run `python -m grpo_difficulty.config.docs`"
    stale = tmp_path / "config.md"
    stale.write_text(docs.render().replace("LoRA rank", "LoRA size"))
    assert docs.main(["--check"], stale) == 1
    assert docs.main([], stale) == 0 and docs.main(["--check"], stale) == 0
    text = stale.read_text()
    assert "| `train.lora.r` | integer (≥ 1) | `16` | LoRA rank |" in text
    assert "| `datasets.<name>.loader` | one of `file`, `hub`," in text
    assert "| `train.curriculum[].steps` | integer (≥ 1) | required | optimizer steps of this level |" in text
    assert "| `resources.{prepare,probe,train,evaluate,report}.gpu` | integer (≥ 0) | `0` |" in text
    # no schema description: the dataclass help
    assert "| required | easy, medium, hard, random, band, base_wrong, base_right, tier or all |" in text


def test_build_names_an_unknown_key():
    with pytest.raises(ConfigError, match=r"config error at train\.lora\.rank: unknown key"):
        build(TrainConfig, {"learning_rate": 1.0, "lora": {"rank": 4}}, "train.")


def test_curriculum_levels_inherit_train_settings():
    train = build(
        TrainConfig,
        {
            "learning_rate": 1.0,
            "epsilon": 0.3,
            "curriculum": [
                {"tiers": [1], "steps": 2},
                {"tiers": [2, 3], "steps": 3, "epsilon": 0.1, "max_completion_length": 4},
            ],
        },
    )
    assert train.level_steps() == [2, 3]
    assert train.levels() == [
        dict(tiers=[1], steps=2, max_completion_length=8, epsilon=0.3, epsilon_high=None),
        dict(tiers=[2, 3], steps=3, max_completion_length=4, epsilon=0.1, epsilon_high=None),
    ]
    assert build(TrainConfig, {"learning_rate": 1.0, "steps": 5}).levels()[0]["tiers"] is None


GPU_TRAIN = {"mem_mb": 4000, "runtime": 60, "cpus_per_task": 2, "gpu_model": None}


@pytest.mark.parametrize(
    "train, gpu, processes",
    [
        ({}, 0, 1),
        ({}, 4, 4),
        ({"processes": 2}, 0, 2),
        ({"generation": {"backend": "vllm", "mode": "colocate", "tensor_parallel_size": 2}}, 4, 4),
        ({"generation": {"backend": "vllm", "mode": "server", "tensor_parallel_size": 2, "sync": "merged"}}, 4, 2),
        ({"generation": {"backend": "vllm", "mode": "server"}}, 2, 1),
    ],
)
def test_training_processes_are_the_gpus_that_train(train, gpu, processes):
    cfg = build(TrainConfig, {"learning_rate": 1.0, **train})
    assert training_processes(cfg, ResourceConfig(**GPU_TRAIN, gpu=gpu)) == processes


def test_good_gpu_training_setups_pass(base_config):
    """The combinations docs/cluster.md describes are accepted."""
    for train, gpu in [
        ({"generation": {"backend": "vllm"}, "optim": "adamw_8bit", "gradient_checkpointing": True}, 1),
        ({"generation": {"backend": "vllm", "mode": "server", "sync": "merged"}}, 2),
        ({"generation": {"backend": "vllm"}}, 0),  # sync: adapter runs on CPU
        ({"processes": 4, "prompts_per_step": 1}, 4),
        ({"processes": 2}, 0),
    ]:
        config = copy.deepcopy(base_config)
        config["train"].update(train)
        config["resources"]["train"] = {"gpu": gpu}
        assert load_config(config).train.optim == train.get("optim", "adamw_torch_fused")


def test_optimizer_names_are_transformers_own():
    from transformers.training_args import OptimizerNames

    assert transformers_optimizers() == [name.value for name in OptimizerNames]
    assert BITSANDBYTES_OPTIMIZERS <= set(transformers_optimizers())


def test_vllm_lora_rank_holds_the_adapter():
    assert [vllm_lora_rank(r) for r in (1, 8, 9, 64, 65, 512)] == [8, 8, 16, 64, 128, 512]


# --------------------------------------------------------------------------- cache keys
@pytest.fixture
def default_cfg() -> Config:
    return load_config(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))


def edited(cfg: Config, section: str, **changes) -> Config:
    return dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **changes)})


def test_data_key_hashes_the_loader_spec(default_cfg):
    spec = default_cfg.datasets["arith_train"]
    assert data_key(spec) == stable_hash(spec) == "0fd4885e6a"  # the folder earlier versions wrote
    assert data_key({**spec, "seed": 1}) != data_key(spec)


def test_probe_key_lists_what_decides_the_samples(default_cfg):
    key = probe_key(default_cfg)
    assert key == "7505b985e2"  # layout v2: a change here moves every probe folder
    assert sorted(probe_fields(default_cfg)) == [
        "backend",
        "block_size",
        "max_new_tokens",
        "prompt",
        "seed",
        "temperature",
        "top_p",
    ]
    assert probe_fields(default_cfg)["backend"] == dict(name="hf", dtype="auto")
    # outside the key: execution settings (batch size, shard size, vLLM engine sizes), training,
    # evaluation, subsets, resources, and K (blocks let it grow)
    for cfg in [
        edited(default_cfg, "backend", batch_size=7),
        edited(default_cfg, "probe", shard_size=3),
        edited(
            default_cfg,
            "backend",
            tensor_parallel_size=2,
            gpu_memory_utilization=0.5,
            max_model_len=99,
            cpu_kvcache_space_gb=9.0,
        ),
        edited(default_cfg, "train", learning_rate=0.5),
        edited(default_cfg, "evaluate", samples=4),
        edited(default_cfg, "probe", k=16),
        dataclasses.replace(default_cfg, subsets={}, select_seed=3),
    ]:
        assert probe_key(cfg) == key
    for cfg in [
        edited(default_cfg, "probe", temperature=1.0),
        edited(default_cfg, "probe", seed=1),
        edited(default_cfg, "probe", block_size=2),
        edited(default_cfg, "prompt", format="boxed"),
        edited(default_cfg, "backend", dtype="bfloat16"),
        edited(default_cfg, "backend", name="vllm"),
    ]:
        assert probe_key(cfg) != key


def test_eval_fields_hold_sampling_settings_only_when_sampling(default_cfg):
    assert eval_fields(default_cfg) == dict(max_new_tokens=8, samples=0)
    assert eval_fields(edited(default_cfg, "evaluate", temperature=0.3, pass_k=[1], bootstrap=500)) == eval_fields(
        default_cfg
    )
    sampled = edited(default_cfg, "evaluate", samples=4)
    assert eval_fields(sampled) == dict(max_new_tokens=8, samples=4, temperature=1.0, top_p=1.0, seed=0)


def test_train_fields_are_every_training_setting_but_the_seeds_and_execution(default_cfg):
    fields = train_fields(default_cfg)
    assert "seeds" not in fields and fields["lora"]["r"] == 16 and fields["steps"] == 30
    assert train_fields(edited(default_cfg, "train", seeds=[0, 1, 2])) == fields
    assert train_fields(edited(default_cfg, "train", beta=0.1)) != fields
    rollouts = default_cfg.train.generation
    for setting in [dict(save_steps=5), dict(shared_prompt=False), dict(generation=replace(rollouts, sync="merged"))]:
        assert train_fields(edited(default_cfg, "train", **setting)) == fields, setting
    vllm = edited(default_cfg, "train", generation=replace(rollouts, backend="vllm", server_timeout=60.0))
    assert train_fields(vllm)["generation"] == dict(backend="vllm", mode="colocate", sync="adapter")
    # the job gets the whole section back, but the seeds and trackers (a param of their own)
    whole = {k: v for k, v in as_dict(vllm.train).items() if k not in ("seeds", "report_to")}
    assert execution(vllm).train_section(train_fields(vllm)) == whole


# --------------------------------------------------------------------------- paths
def test_layout_names_every_path(default_cfg):
    paths = Layout.of(default_cfg)
    probe = "results/probe/SmolLM2-135M-Instruct/arith_train-0fd4885e6a/v2-7505b985e2"
    assert paths.probe_dir == probe and paths.probe_file(0, 5, "b1") == f"{probe}/rows0-5_b1.parquet"
    assert paths.probe_log(5, 9, "greedy") == f"{probe}/logs/rows5-9_greedy.log"
    assert paths.pass_rates(8) == f"{probe}/pass_rates_k8.parquet"
    assert paths.data("arith_test", "k") == "results/data/arith_test/k.parquet"
    assert paths.subset("easy", "json") == "results/default/subsets/easy.json"
    assert paths.subset("random", "parquet", 2) == "results/default/subsets/random/seed2.parquet"
    run = paths.run("easy", 0)
    assert run.adapter == "results/default/train/easy/seed0/adapter/adapter_config.json"
    assert run.step_adapter(20) == "results/default/train/easy/seed0/steps/20/adapter/adapter_config.json"
    assert run.level_checkpoints(1, curriculum=True) == "results/default/train/easy/seed0/checkpoints/level1"
    assert run.level_checkpoints(0, curriculum=False) == run.checkpoints
    assert (
        paths.evaluation("arith_test", paths.run_name("easy", 0, 20)).predictions
        == "results/default/eval/arith_test/easy/seed0/step20/predictions.parquet"
    )
    assert paths.evaluation_outputs("base")["summary"] == "results/default/eval/{eval_set}/base/summary.json"
    assert paths.report(REPORT_TABLES["markdown"]) == "results/default/report/summary.md"


# --------------------------------------------------------------------------- revisions, parser versions
SHIPPED_PATHS = {  # computed before revisions and parser versions existed: unset, they move nothing
    "config.yaml": [
        "results/probe/SmolLM2-135M-Instruct/arith_train-0fd4885e6a/v2-7505b985e2",
        "results/data/arith_test/460e134481.parquet",
        "results/data/arith_train/0fd4885e6a.parquet",
    ],
    "hard-examples-cpu.yaml": [
        "results/probe/SmolLM2-135M-Instruct/arith_train-6e7e3f0853/v2-3811c70f41",
        "results/data/arith_ood/6e02852a64.parquet",
        "results/data/arith_test/1a8a540289.parquet",
        "results/data/arith_train/6e7e3f0853.parquet",
    ],
    "hard-examples.yaml": [
        "results/probe/Qwen--Qwen2.5-1.5B-Instruct/gsm8k_train-7c60444ff3/v2-3a0615a7a6",
        "results/data/aime2025/edeebb8b86.parquet",
        "results/data/gsm8k_test/8b8187eb18.parquet",
        "results/data/gsm8k_train/7c60444ff3.parquet",
    ],
    "limits-of-difficulty-cpu.yaml": [
        "results/probe/SmolLM2-135M-Instruct/arith_train-bb5df61892/v2-3811c70f41",
        "results/data/arith_test/ac52685a8d.parquet",
        "results/data/arith_train/bb5df61892.parquet",
    ],
    "limits-of-difficulty-gsm8k.yaml": [
        "results/probe/Qwen--Qwen2.5-0.5B-Instruct/gsm8k_train-7c60444ff3/v2-26f8da74f8",
        "results/data/gsm8k_train/7c60444ff3.parquet",
        "results/data/math_numeric/f6369ec190.parquet",
    ],
    "limits-of-difficulty.yaml": [
        "results/probe/Qwen--Qwen2.5-0.5B-Instruct/math_train-b8777c5cff/v2-26f8da74f8",
        "results/data/math500/60eb30aa44.parquet",
        "results/data/math_numeric/f6369ec190.parquet",
        "results/data/math_train/b8777c5cff.parquet",
    ],
}


def shipped_paths(name: str, config: dict | None = None) -> list[str]:
    """The probe folder and every prepared table's path of a config in the repo."""
    folder = ROOT / "config" / ("" if name == "config.yaml" else "experiments")
    cfg = build(Config, validate_schema(config or yaml.safe_load((folder / name).read_text())))
    paths = Layout.of(cfg)
    return [paths.probe_dir, *(paths.data(n, data_key(spec)) for n, spec in sorted(cfg.datasets.items()))]


@pytest.mark.parametrize("name", sorted(SHIPPED_PATHS))
def test_shipped_paths_are_unchanged_without_revisions(name):
    assert shipped_paths(name) == SHIPPED_PATHS[name]


def test_a_revision_moves_the_model_and_data_keys():
    config = yaml.safe_load((ROOT / "config" / "experiments" / "hard-examples.yaml").read_text())
    config["model_revision"] = "refs/pr/7"
    config["datasets"]["gsm8k_train"]["revision"] = "e53f048856ff4f594e959d75785d2c2d37b678ee"
    probe_dir, aime, gsm8k_test, gsm8k_train = shipped_paths("hard-examples.yaml", config)
    old_probe, old_aime, old_test, old_train = SHIPPED_PATHS["hard-examples.yaml"]
    assert probe_dir.startswith("results/probe/Qwen--Qwen2.5-1.5B-Instruct@refs--pr--7/gsm8k_train-")
    assert gsm8k_train != old_train and probe_dir != old_probe  # the probe path holds the training set's key
    assert (aime, gsm8k_test) == (old_aime, old_test)  # datasets without a revision keep theirs
    load_config(config | {"model": "path:/"} | {"model_revision": None})  # null is unset
    for model in ["embedded", "path:/"]:
        with pytest.raises(ConfigError, match="model_revision"):
            load_config(config | {"model": model})


@pytest.mark.parametrize("loader", ["hub", "gsm8k_hub", "math_hub", "math500_hub", "aime_hub", "bbh_hub"])
def test_every_hub_loader_takes_a_revision(loader):
    assert "revision" in tasks.LOADERS[loader].optional


def test_bumping_a_parser_version_moves_the_prepared_data(default_cfg, monkeypatch):
    before = Layout.of(default_cfg)
    loader = tasks.LOADERS["arithmetic"]
    assert loader.parser_version == 1
    monkeypatch.setitem(tasks.LOADERS, "arithmetic", dataclasses.replace(loader, parser_version=2))
    after = Layout.of(default_cfg)
    spec = default_cfg.datasets["arith_train"]
    assert after.data("arith_train", data_key(spec)) != before.data("arith_train", before.train_set_key)
    assert after.probe_dir != before.probe_dir  # probes of the old table are not reused either
    assert data_key(spec) == stable_hash({**spec, "parser_version": 2})
