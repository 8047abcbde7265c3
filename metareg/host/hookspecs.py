"""The hook specifications: the whole surface a plugin sees.

A plugin is a module (or object) with functions named like the specs below, decorated with
``metareg.hookimpl``, and exposed through the ``metareg`` entry-point group of its distribution::

    [project.entry-points.metareg]
    my-plugin = "my_package.plugin_module"

Registration is by callback (the pattern of simonw/llm): the engine calls each registration hook once per
plugin with a ``register`` function, and the plugin calls ``register(SomeClass)`` for every part it adds. Doing it
one plugin at a time lets the engine record which distribution registered each name and isolate a failure.

Specs only ever grow by new keyword arguments; implementations may accept any subset of the arguments.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("metareg")
hookimpl = pluggy.HookimplMarker("metareg")


# --------------------------------------------------------------------------------------------------------------------
# backbone: feature extractors
# --------------------------------------------------------------------------------------------------------------------
@hookspec
def metareg_register_backbones(register):
    """Register backbones (feature extractors).

    :param register: call ``register(cls)`` once per backbone class.

    A backbone class subclasses :class:`metareg.Backbone` (an ``nn.Module``): it has a kebab-case ``name``, a
    ``Config`` dataclass, the constructor ``__init__(self, input_shape, config, context_dim=0)`` and
    ``forward(x, context=None) -> features`` of shape ``[N, self.feature_dim]``. Batch norm, if any, must use the
    current batch's statistics (see :class:`metareg.toolkit.layers.TaskBatchNorm`) so the batched meta-learners
    stay exact under ``vmap``. ``context`` (a ``[context_dim]`` vector) is how CAVIA-style learners condition the
    network; a backbone that cannot take it sets ``supports_context = False``.

    Example::

        @metareg.hookimpl
        def metareg_register_backbones(register):
            register(TinyMLP)
    """


# --------------------------------------------------------------------------------------------------------------------
# meta-learner: how a task is adapted and how the meta-loss is formed
# --------------------------------------------------------------------------------------------------------------------
@hookspec
def metareg_register_learners(register):
    """Register meta-learners.

    :param register: call ``register(cls)`` once per learner class.

    A learner subclasses :class:`metareg.MetaLearner` (an ``nn.Module`` that owns the backbone it is given):
    constructor ``__init__(self, backbone, spec, config)`` where ``spec`` is the benchmark's
    :class:`metareg.TaskSpec`; ``meta_loss(batch) -> LearnerOutput`` returns a differentiable meta-training loss for a
    :class:`metareg.TaskBatch` (the engine adds any adversary loss, calls ``backward`` and steps one outer optimiser
    over ``parameters()``); ``predict(batch) -> Tensor`` adapts to each task's support set and returns query
    predictions ``[tasks, queries, outputs]`` (logits for classification). ``task_kinds`` names the task kinds it
    handles (``"classification"``, ``"regression"``); a learner that conditions the backbone on a context vector
    (CAVIA) returns its size from the classmethod ``context_size(config)``.

    Example::

        @metareg.hookimpl
        def metareg_register_learners(register):
            register(MyLearner)
    """


# --------------------------------------------------------------------------------------------------------------------
# adversary: a domain-alignment loss on features
# --------------------------------------------------------------------------------------------------------------------
@hookspec
def metareg_register_adversaries(register):
    """Register adversaries (domain-alignment losses on features).

    :param register: call ``register(cls)`` once per adversary class.

    An adversary subclasses :class:`metareg.Adversary` (an ``nn.Module``): constructor
    ``__init__(self, feature_dim, config)``; ``forward(source_features, target_features, progress) -> AdversaryOutput``
    gives the (already weighted) loss the engine adds to the meta-loss, and metrics such as the domain
    discriminator's accuracy. ``progress`` runs from 0 to 1 over meta-training, for schedules. The adversary's own
    parameters are stepped by the same outer optimiser, so a gradient-reversal layer is how it plays the min-max game.

    Which features it receives: ``learner.features(x)`` (the meta-parameters' backbone features, before any task
    adaptation), computed one domain at a time so that batch norm normalises them as predictions are normalised.
    ``source_features`` are ``train.target_batch_size`` rows drawn at random from whole meta-batch episodes, each
    episode's support and query inputs in one call (as many episodes as give that many rows); ``target_features``
    are as many rows of episode-shaped draws of the benchmark's pool (``target_episodes``, one call each), or with
    ``train.target_draw=pool`` one call on ``train.target_batch_size`` inputs of its ``target_pool``. Source and
    target are never normalised together. ``lr_multiplier`` and ``discriminator_steps`` in an adversary's
    ``Config`` set its own optimiser regime (``metareg.Adversary``).

    Example::

        @metareg.hookimpl
        def metareg_register_adversaries(register):
            register(MyAlignmentLoss)
    """


# --------------------------------------------------------------------------------------------------------------------
# generator: synthesises support samples for a domain from a few examples
# --------------------------------------------------------------------------------------------------------------------
@hookspec
def metareg_register_generators(register):
    """Register generators (models that synthesise samples like a few given ones).

    :param register: call ``register(cls)`` once per generator class.

    A generator subclasses :class:`metareg.Generator`: constructor ``__init__(self, spec, config)``;
    ``fit(benchmark, device, progress)`` trains it on the benchmark's source domains before meta-training;
    ``augment(batch) -> TaskBatch`` returns the batch with extra support samples (never reading query targets).
    Both may also accept keyword arguments, which the engine passes only to implementations that name them:
    ``fit(..., checkpoint_dir=None, seed=0)`` (the results store's folder, to save fitted weights in and reuse them
    in a later run; None when there is no store) and ``augment(batch, split="train")`` (``"train"``, ``"val"`` or
    ``"test"``: e.g. fine-tune on each evaluation task's support set).

    Example::

        @metareg.hookimpl
        def metareg_register_generators(register):
            register(MyGAN)
    """


# --------------------------------------------------------------------------------------------------------------------
# benchmark: task sources
# --------------------------------------------------------------------------------------------------------------------
@hookspec
def metareg_register_benchmarks(register):
    """Register benchmarks (task sources).

    :param register: call ``register(cls)`` once per benchmark class.

    A benchmark subclasses :class:`metareg.Benchmark`: constructor ``__init__(self, config)``; ``spec`` (a
    :class:`metareg.TaskSpec`: task kind, input shape, outputs); ``sample(split, n_tasks, generator)`` returns a
    :class:`metareg.TaskBatch` from the ``"train"``, ``"val"`` or ``"test"`` split (disjoint); and
    ``target_pool(n, generator)`` returns unlabelled target-domain inputs for adversaries, or ``None`` when the
    benchmark has no domain shift.

    Example::

        @metareg.hookimpl
        def metareg_register_benchmarks(register):
            register(MyTaskSource)
    """


# --------------------------------------------------------------------------------------------------------------------
# observers: called around runs, for loggers and trackers; they return nothing
# --------------------------------------------------------------------------------------------------------------------
@hookspec
def metareg_run_started(config):
    """Called when a run has been set up and meta-training is about to start.

    :param config: the run's resolved config (an omegaconf ``DictConfig``, read-only).

    Example::

        @metareg.hookimpl
        def metareg_run_started(config):
            print("starting", config.run.learner)
    """


@hookspec
def metareg_iteration_logged(config, entry, run_hash):
    """Called at every logged iteration of meta-training (every 50 outer updates, and the last), as it happens.

    :param config: the run's resolved config.
    :param run_hash: the run's identity (its config hash, the store's ``config_hash``): a key for per-run files.
    :param entry: the history entry just logged, a dict of floats: ``iteration``, ``train_loss`` (or
        ``surrogate_loss``), the learner's metrics, the adversary's (``adversary_loss``,
        ``adversary_domain_accuracy``, ...) and, at validation points, ``val_<metric>``; the same dict the run's
        stored history ends up holding.

    Example::

        @metareg.hookimpl
        def metareg_iteration_logged(config, entry):
            print(entry["iteration"], entry.get("val_accuracy"))
    """


@hookspec
def metareg_run_finished(config, result):
    """Called when a run has finished, after its result is committed to the store (if any).

    :param config: the run's resolved config.
    :param result: the :class:`metareg.run.record.RunResult` (status, metrics, wall time, history).

    Example::

        @metareg.hookimpl
        def metareg_run_finished(config, result):
            tracker.log(result.metrics)
    """
