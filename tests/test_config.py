"""Bad configs stop before any job runs, with a message naming the key."""

import pytest

from workflow_helpers import snakemake, test_config, write_config


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(learning_rate=1), "learning_rate"),
    (lambda c: c["probe"].update(k=0), "0 is less than the minimum of 1"),
    (lambda c: c["probe"].update(k=5), "config error at probe.k: 5 is not a multiple of probe.block_size=2"),
    (lambda c: c["subsets"].update(x={"strategy": "easiest", "budget": 3}), "easiest"),
    (lambda c: c["subsets"].update(x={"strategy": "easy", "budget": 1.5}), "1.5"),
    (lambda c: c["subsets"].update(x={"strategy": "band", "lo": 0.8, "hi": 0.2}), "subsets.x.lo: lo=0.8 > hi=0.2"),
    (lambda c: c["train"].update(steps="ten"), "'ten' is not of type 'integer'"),
    (lambda c: c.update(model="path:/no/such/model"), "config error at model: model folder not found: /no/such/model"),
    (lambda c: c.update(eval_sets=["nope"]), "'nope' is not a dataset"),
    (lambda c: c.update(compare_with=["test"]), "config error at compare_with: lists this experiment's own name 'test'"),
    (lambda c: c.update(eval_sets=["train"]), "is the training set"),
    (lambda c: c["resources"]["train"].update(gpu_model="a100"), "resources.train.gpu_model: 'a100' needs gpu >= 1"),
    (lambda c: c["datasets"].update(m={"loader": "math_hub"}), "datasets.m.split: required by loader 'math_hub'"),
    (lambda c: c["datasets"].update(m={"loader": "math_hub", "split": "test", "subjects": ["algebr"]}),
     "'algebr' is not one of"),
    (lambda c: c["datasets"].update(b={"loader": "bbh_hub", "subjects": ["algebra"]}),
     "datasets.b.subjects: not used by loader 'bbh_hub'"),
    (lambda c: c["datasets"].update(b={"loader": "bbh_file", "path": "/no/bbh"}),
     "datasets.b.path: file not found: /no/bbh/tracking_shuffled_objects_three_objects.json"),
    (lambda c: c["datasets"].update(s={"loader": "shuffled_objects", "levels": [12], "per_level": {"a": 1}, "split": "a"}),
     "datasets.s.levels: level 12 of loader 'shuffled_objects'; allowed [1, 2, 3, 4, 5, 6, 7, 8, 9]"),
    (lambda c: c["train"].pop("steps"), "config error at train.steps: required"),
    (lambda c: c["train"].update(curriculum=[{"tiers": [1], "steps": 1}, {"tiers": [3], "steps": 1}]),
     "config error at train.curriculum[1].tiers: [3] not among the tiers of training set 'train': [1, 4]"),
    (lambda c: c["train"].update(curriculum=[{"tiers": [1], "steps": 1}, {"tiers": [4], "steps": 2}]),
     "config error at train.steps: 2, but the curriculum levels' steps add up to 3"),
    (lambda c: c["train"].update(curriculum=[{"tiers": [1], "steps": 0}]), "0 is less than the minimum of 1"),
    (lambda c: c["train"].update(curriculum=[{"tiers": [], "steps": 2}]), "should be non-empty"),
    (lambda c: (c["subsets"].update(t={"strategy": "tier", "tiers": [4]}),
                c["train"].update(curriculum=[{"tiers": [1], "steps": 2}])),
     "config error at train.curriculum[0].tiers: [1] share no tier with subset 't' (tiers [4])"),
    (lambda c: c["evaluate"].update(pass_k=[8]), "config error at evaluate.pass_k: pass@8 needs evaluate.samples >= 8"),
    (lambda c: (c["train"].update(steps=6), c["evaluate"].update(every_steps=3)),
     "config error at evaluate.every_steps: 3: step 3 is not a multiple of train.save_steps=2"),
    (lambda c: (c["train"].update(steps=7, curriculum=[{"tiers": [1], "steps": 3}, {"tiers": [4], "steps": 4}]),
                c["evaluate"].update(every_steps=2)),
     "evaluate.every_steps: 2: step 4 (step 1 of curriculum level 1) is not a multiple of train.save_steps=2"),
])
def test_bad_config_fails_before_any_job(tmp_path, tiny_model, change, message):
    config = test_config(tiny_model)
    change(config)
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "-n", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
