"""Prompts: the text a model is given for one question, by prompt format."""

from __future__ import annotations

from ..config.sections import PromptConfig

FORMAT_INSTRUCTIONS = {
    "fewshot": "",
    "boxed": "Solve the problem. Put your final answer within \\boxed{}.",
    "xml": "Respond in the format <reasoning>...</reasoning><answer>...</answer>.",
}


def render_prompt(question: str, prompt: PromptConfig, tokenizer=None) -> str:
    """Prompt text for one question.

    fewshot: worked examples then the question; boxed / xml: an instruction plus the
    question. Without a chat template the few-shot text is "Q: ...\\nA: ..." blocks ending
    in "Q: <question>\\nA:", and a system prompt is the first paragraph. With
    `chat_template: true` the tokenizer's chat template renders an optional system turn,
    each few-shot example as a user turn and an assistant turn, and the question.
    """
    fmt, system = prompt.format, prompt.system
    examples = prompt.examples if fmt == "fewshot" else []
    if not prompt.chat_template:
        if fmt == "fewshot":
            shots = "".join(f"Q: {ex['question']}\nA: {ex['answer']}\n\n" for ex in examples)
            text = f"{shots}Q: {question}\nA:"
        else:
            text = f"{FORMAT_INSTRUCTIONS[fmt]}\n\n{question}"
        return f"{system}\n\n{text}" if system else text
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            "prompt.chat_template is true but the model's tokenizer has no chat template; "
            "set prompt.chat_template: false"
        )
    messages = [{"role": "system", "content": system}] if system else []
    for ex in examples:
        messages += [{"role": "user", "content": ex["question"]}, {"role": "assistant", "content": ex["answer"]}]
    user = question if fmt == "fewshot" else f"{FORMAT_INSTRUCTIONS[fmt]}\n\n{question}"
    messages.append({"role": "user", "content": user})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def stop_strings(prompt: PromptConfig) -> list[str]:
    """Few-shot answers are one line: stop at the first newline so the model cannot ramble."""
    return ["\n"] if prompt.format == "fewshot" else []
