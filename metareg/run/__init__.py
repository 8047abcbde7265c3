"""One run: a config resolved against the registry, trained, tested, and written down.

Owns the config schema, its overrides and its identity hash (``config``), whether a combination of parts can be
made (``compatibility``), the engine that builds the parts and runs meta-training, validation and test episodes
(``engine``), the run's record and the one place its outcome is committed to the store (``record``), the chunked
meta-backward and the memory budget it is chosen under (``chunking``, ``memory_budget``), gradient clipping
(``clipping``), checkpoints to resume from (``checkpoints``), a run's files and saved model (``files``,
``models``), and loading a stored run back to predict with (``predict``).
"""
