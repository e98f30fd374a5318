"""TokenMaze benchmarks: suites (TOML data), metrics, the cell runner and executors, reports.

Run ``python -m benchmarks --help``.  Modules: ``suites`` (loading, evaluation seeds, training
overlap), ``metrics`` (per-episode judgement and 95% CIs), ``runner`` (cells and rollouts),
``executor`` (local processes or Ray), ``report`` (results.json schema, CSV, Markdown, plots).
"""
