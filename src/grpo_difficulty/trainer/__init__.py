"""The project's extension of TRL's GRPOTrainer, one concern per module (as trl/trainer/):

- `learnable`: LearnableGRPOTrainer, the base of the others: logs the share of groups
  whose correctness rewards differ (`learnable/correctness`);
- `shared_prompts`: SharedPromptGRPOTrainer, each group's prompt prefilled and scored once;
- `dynamic_sampling`: DynamicSamplingGRPOTrainer, groups without reward variance replaced;
- `grpo`: the trainer class of a run's settings (`grpo_trainer_class`) and the CPU
  LM-head patch (`score_completion_tokens_only`);
- `rewards`: the reward functions (correctness from the task's scorer, format, length);
- `arguments`: TRL's GRPOConfig of a training level;
- `checkpoints`: the checkpoint to resume, each level's folder and its settings stamp;
- `preemption`: SIGTERM ends a run with a checkpoint of the step in progress (exit code 75);
- `compat`: the TRL version they were checked against, and every private TRL,
  transformers, PEFT and vLLM member the project overrides or reads
  (tests/test_compat.py checks them against the installed versions).
"""
