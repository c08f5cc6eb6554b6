"""Check that no eval set shares a question with the training set (rule check_disjoint),
before any probe, training or evaluation job runs."""

from grpo_difficulty import tasks
from grpo_difficulty.files import log_to, read_table, write_json

with log_to(snakemake.log[0]):
    params = snakemake.params
    train = read_table(snakemake.input.train)
    evals = {name: read_table(path) for name, path in zip(params.eval_sets, snakemake.input.evals, strict=True)}
    questions = tasks.check_disjoint(params.train_set, train, evals)
    write_json({"disjoint": True, "questions": questions}, snakemake.output[0])
    print(f"no eval set shares a question with the training set: {questions}")
