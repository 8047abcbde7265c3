"""The leaderboard: stored rows ranked as papers report them.

Owns grouping rows into entries by combination with seeds pooled into a mean and 95% interval, baselines,
validation curves and ranks (``build``), choosing which rows a board shows (``select``), rendering it as Markdown,
HTML and CSV (``report``) with plots (``plots``), and pruning stored models to each row's best (``prune``). It
reads rows; it never writes results.
"""
