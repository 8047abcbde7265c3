"""The toolkit parts build on, built-in and third-party alike.

Owns what a learner, backbone, adversary, generator or benchmark needs and should not rewrite: the inner SGD loop,
the strategies that adapt a batch of tasks (loop, ``vmap``, grouped) and per-task batch norm (``functional``,
``layers``), the grouped path's fast CPU max-pool (``max_pool``), tasks, class pools, seeded generators and splits
(``tasks``), moving batches to a device (``transfer``), image files (``image_files``), the metrics with their
directions (``metrics``), the 95% interval papers report (``stats``), and the Fréchet distance and classifier score
a generator is judged by (``generative_metrics``). The names a plugin may rely on are exported from ``metareg``
itself and pinned by the API snapshot; this folder imports nothing else of metareg but ``metareg.errors``.
"""
