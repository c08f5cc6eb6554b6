"""One table of several experiments' results on the eval sets they share (rule compare)."""

from grpo_difficulty.files import log_to, read_table, write_table, write_text
from grpo_difficulty.report.markdown import comparison_markdown
from grpo_difficulty.report.tables import compare_experiments

with log_to(snakemake.log[0]):
    table = compare_experiments([read_table(path) for path in snakemake.input])
    write_table(table, snakemake.output.csv)
    text = comparison_markdown(table)
    write_text(text, snakemake.output.markdown)
    print(text)
