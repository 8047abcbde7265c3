"""The tuning stage: ``metareg tune``'s hyperparameter studies, over ordinary runs of the store.

It owns the search space of one combination (``space.py``: what its parts declare, a suite's ``search:`` block and
``--search`` on top) and the study (``study.py``: Optuna's proposals replayed from the store, run through the grid
runner, selected on validation only). It imports the stages before it (toolkit, host, store, run, grid), never the
board or the commands.
"""
