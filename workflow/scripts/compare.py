"""One table of several experiments' results on the eval sets they share (rule compare)."""

from grpo_difficulty import report
from grpo_difficulty.files import log_to, read_table, write_table, write_text

with log_to(snakemake.log[0]):
    table = report.compare_experiments([read_table(path) for path in snakemake.input])
    write_table(table, snakemake.output.csv)
    text = report.comparison_markdown(table)
    write_text(text, snakemake.output.markdown)
    print(text)
