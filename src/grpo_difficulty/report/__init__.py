"""Report: compare strategies against the base model, with bootstrap intervals over
seeds and problems, accuracy vs training steps, steps-to-match, tables and plots.

A *run* is one trained adapter: (subset, seed). An evaluation *point* is one run's
predictions on one eval set at one training step (step 0 = the base model, the last
step = the run's final adapter). Intervals are 95% percentile bootstrap intervals that
resample problems and seeds together, seeded so that the report is reproducible.

Rooms: settings (ReportSettings), statistics (bootstrap, fits), tables (the CSV
tables), markdown (summary.md), plots (the PNGs), make (writes the whole report).
"""
