"""``python -m benchmarks.gpu_check``: everything that needs a GPU, in one short call, written as one Markdown report.

Why a prepared script: a GPU machine is lent to some sessions by chance, for minutes, so what must be checked on
one (the engine on ``cuda`` against the CPU, bf16 autocast, pinned transfers, worker processes sharing a GPU, the
speed harness and how busy the GPU is during a meta-step, a small grid) has to run unattended in one call, within a
time budget, keep going when one check fails, and leave a report that holds every number.
"""
