"""Performance harness: metareg's meta-training speed and memory against the libraries users compare it with.

    python -m benchmarks.perf [--workload sinusoid conv4] [--learner maml fomaml reptile cavia protonet]
        [--impl torch-loop metareg-vmap metareg-loop metareg-grouped learn2learn higher] [--steps 20] [--warmup 3]
        [--threads N] [--device auto] [--sweep meta-batch|inner-steps] [--amp] [--compile] [--tiny] [--json]

(also ``metareg perf`` from a source checkout). Everything runs in one process on the same episodes and the same
initial weights. First every implementation's float64 meta-gradient is compared with a plain per-task PyTorch loop
(relative difference <= 1e-6) and one that disagrees gets no speed; then each agreeing one is timed (median seconds
per meta-step after warm-up, tasks per second); then its peak memory is measured. The output is a Markdown table
with the device, torch version, threads and load average, ready for docs/performance.md, or JSON with ``--json``.

Modules: ``workloads`` (the two settings), ``nets`` (the networks in plain PyTorch), ``references`` (per-task
loop, learn2learn, higher), ``implementations`` (metareg per execution strategy, by name), ``measure`` (gradient,
time, memory), ``harness`` (the run), ``report`` (Markdown, JSON), ``cli``.
"""
