"""The meta-train / meta-test loop that composes benchmark × backbone × learner × adversary? × generator?.

It knows the parts only through their contracts. ``prepare`` builds every part (any error there is the user's
to fix, and nothing is stored); ``Run.execute`` trains, selects the best weights on validation tasks, and evaluates
on test tasks, turning a failure mid-run into a ``failed`` result rather than an exception.
"""
from __future__ import annotations

import copy
import math
import sys
import time
import traceback
from typing import Any

import torch
from omegaconf import DictConfig

from metareg.errors import ConfigError, IncompatibleError
from metareg.host.contracts.benchmark import DOMAIN_DEFAULTS, has_target_domain
from metareg.host.contracts.generator import call_accepted
from metareg.host.registry import Registry
from metareg.run import checkpoints, memory_budget, record, thread_choice
from metareg.run.phases import PhaseClock
from metareg.run.chunking import meta_backward
from metareg.run.compatibility import context_problem, target_problem
from metareg.run.config import LOG_EVERY, Selection, config_hash, part_config, to_container
from metareg.run.deferred_signals import deferred_signals
from metareg.run.files import checkpoint_path
from metareg.run.models import model_state
from metareg.run.probe import domain_probe
from metareg.run.record import RunResult
from metareg.toolkit.functional import task_metric
from metareg.toolkit.metrics import BY_KIND as METRICS, PROBE
from metareg.toolkit.sample_weights import batch_norm_weights, with_query_weights
from metareg.toolkit.stats import mean_ci95
from metareg.toolkit.tasks import TaskBatch, seed_hash, torch_generator
from metareg.toolkit.transfer import to_device



def resolve_device(name: str) -> torch.device:
    """``auto`` is the first GPU torch sees, else the CPU; asking for a GPU that is not there is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"run.device: {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"run.device={name!r} but torch sees no CUDA GPU here; use --device auto or cpu")
    return device


class Run:
    """One prepared run: every part built on its device, ready to ``execute``.

    ``cfg`` and ``selection`` are what ``metareg.run.config.resolve`` returns: every setting was checked there, once,
    against its declared ``Range``/``Choice`` (``TrainSection.ranges`` and each part's), so nothing is checked again
    here and a bad value never reaches a half-built run.
    """

    def __init__(self, cfg: DictConfig, selection: Selection, registry: Registry | None = None):
        self.cfg, self.selection, self.registry = cfg, selection, registry
        self.clock = PhaseClock()  # replaced by each execution's own
        self.threads = 1  # chunks side by side: train.chunk_threads as resolved before the first update
        self.device = resolve_device(cfg.run.device)
        self.seed = int(cfg.run.seed)
        self.hash = config_hash(cfg, selection)
        self.resolved: dict[str, dict] = {}  # what auto settings became (``RunResult.resolved``)
        self.parts = selection.parts()
        torch.manual_seed(seed_hash(self.seed, "init"))
        self.benchmark = selection.benchmark.cls(part_config(cfg, "benchmark"))
        self.spec = self.benchmark.spec
        learner_cls = selection.learner.cls
        backbone_cls = selection.backbone.cls
        learner_cfg = part_config(cfg, "learner")
        context_dim = learner_cls.context_size(learner_cfg)
        problem = context_problem(selection, learner_cfg)
        if problem:
            raise IncompatibleError(problem)
        backbone = backbone_cls(self.spec.input_shape, part_config(cfg, "backbone"), context_dim=context_dim)
        self.learner = learner_cls(backbone, self.spec, learner_cfg).to(self.device)
        self.adversary = None
        if selection.adversary is not None:
            problem = target_problem(selection, has_target_domain(self.benchmark, self.seed))
            if problem:
                raise IncompatibleError(problem)
            self.adversary = selection.adversary.cls(backbone.feature_dim, part_config(cfg, "adversary")).to(self.device)
        self.generator = None
        if selection.generator is not None:
            self.generator = selection.generator.cls(self.spec, part_config(cfg, "generator"))

    # ---------------------------------------------------------------------------------------------------------------
    def execute(self, progress: bool = True, store=None, run_id: int | None = None) -> RunResult:
        """Meta-train, validate, test. Exceptions and non-finite losses become a ``failed`` result.

        With a ``store`` (``metareg.store.database.Store``) the run is recorded as running first (or goes into the
        row ``run_id`` its runner claimed) and committed with its outcome (``metareg.run.record.commit``) before the
        ``metareg_run_finished`` observers hear of it.
        """
        if store is not None and run_id is None:
            run_id = record.start(store, self)
        result = self._execute(progress, checkpoint_dir=store.files_dir if store is not None else None)
        result.run_id = run_id
        if store is not None:
            with deferred_signals():  # the run is over: from here on, a signal waits until it is committed
                record.commit(store, run_id, result, model=model_state(self) if result.status == "done" else None)
        if self.registry is not None:
            self.registry.notify("metareg_run_finished", config=self.cfg, result=result)
        return result

    def _execute(self, progress: bool, checkpoint_dir=None) -> RunResult:
        start = time.perf_counter()
        history: list[dict] = []
        self.resolved = {}
        self.clock = PhaseClock()
        try:
            if self.registry is not None:
                self.registry.notify("metareg_run_started", config=self.cfg)
            if self.generator is not None:
                # the results directory lets a generator reuse weights it fitted for the same config in a past run
                with self.clock.phase("setup"):
                    call_accepted(self.generator.fit, self.benchmark, self.device, progress,
                                  checkpoint_dir=checkpoint_dir, seed=self.seed)
            self._train(history, progress, checkpoint_dir)
            with self.clock.phase("test"):
                metrics = self.evaluate("test", self.cfg.train.test_tasks)
                probe = domain_probe(self.learner, self.benchmark, self.seed, self.device)
            if probe is not None:  # after the task metric, which stays first: the one the board ranks by
                metrics[PROBE] = probe
            status, error = "done", None
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # the run failed; keep what it computed and say why
            metrics, status = {}, "failed"
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            if progress:
                traceback.print_exc(file=sys.stderr)
        total = time.perf_counter() - start
        return RunResult(self.hash, self.parts, self.seed, str(self.device), status, total,
                         metrics, history, error, resolved=self.resolved, phases=self.clock.split(total))

    def _batch(self, split: str, n: int, generator: torch.Generator) -> TaskBatch:
        batch = self.benchmark.sample(split, n, generator).to(self.device, non_blocking=True)
        if self.generator is not None:
            batch = call_accepted(self.generator.augment, batch, split=split)
        return batch

    def _train(self, history: list[dict], progress: bool, checkpoint_dir=None) -> None:
        t = self.cfg.train
        params = list(self.learner.parameters()) + (list(self.adversary.parameters()) if self.adversary else [])
        optimiser = self._optimiser(t.outer_lr)
        train_gen = torch_generator(self.seed, "train")
        target_gen = torch_generator(self.seed, "target")
        metric_name, higher_is_better = self._metric()
        best_score, best_state = -math.inf, None
        running = torch.zeros((), device=self.device)
        extra: dict[str, torch.Tensor] = {}
        bar = _progress(t.meta_iterations, progress, f"{self.parts['learner']} on {self.parts['benchmark']}")
        self.learner.train()
        chunk = None
        ckpt = checkpoint_path(checkpoint_dir, self.hash) if checkpoint_dir is not None and t.checkpoint_every else None
        first, state = 1, checkpoints.load(ckpt, self.hash, self.device) if ckpt is not None else None
        if state is not None and self._resumed(state, ckpt, optimiser, history, train=train_gen, target=target_gen):
            first = state["iteration"] + 1  # a killed run of this cell: go on from where it was
            best_score, best_state, chunk = state["best_score"], state["best_state"], state["chunk"]
            recorded = self.resolved.get("train", {}).get("chunk_threads")  # as the killed run chose
            self.threads = int(recorded or (1 if t.chunk_threads == thread_choice.AUTO else t.chunk_threads))
            bar.update(first - 1)
            if progress:
                print(f"resumed from the checkpoint at update {first - 1} ({ckpt})", file=sys.stderr, flush=True)
        for it in range(first, t.meta_iterations + 1):
            batch = self._batch("train", t.meta_batch_size, train_gen)
            if chunk is None:
                self.threads = self._threads(batch, params, progress)
                chunk = self._chunk(batch, params, progress)
            loss, metrics = self._meta_step(batch, params, chunk, optimiser, target_gen,
                                            (it - 1) / max(1, t.meta_iterations - 1))
            running += loss
            for k, v in metrics.items():
                extra[k] = extra.get(k, 0) + v.detach().float()
            if it % LOG_EVERY == 0 or it == t.meta_iterations:
                entry = self._logged_entry(it, running, extra, LOG_EVERY if it % LOG_EVERY == 0 else it % LOG_EVERY)
                running.zero_()
                extra.clear()
                if t.val_every and (it % t.val_every == 0 or it == t.meta_iterations):
                    with self.clock.phase("val"):
                        value = self.evaluate("val", t.val_tasks)[metric_name]["mean"]
                    entry[f"val_{metric_name}"] = value
                    score = value if higher_is_better else -value
                    if score > best_score:
                        best_score = score
                        best_state = copy.deepcopy(self._state())
                history.append(entry)
                if self.registry is not None:
                    self.registry.notify("metareg_iteration_logged", config=self.cfg, entry=dict(entry),
                                         run_hash=self.hash)
                bar.set_postfix({k: f"{v:.4g}" for k, v in entry.items() if k != "iteration"}, refresh=False)
                if ckpt is not None and it % t.checkpoint_every == 0 and it < t.meta_iterations:
                    checkpoints.save(ckpt, self._checkpoint(it, optimiser, best_score, best_state, history, chunk,
                                                            train=train_gen, target=target_gen))
            bar.update(1)
        bar.close()
        if best_state is not None:
            self._load_state(best_state)

    def _optimiser(self, lr: float) -> torch.optim.Optimizer:
        """Adam over the learner and the adversary; the adversary's parameters in a group of their own where its
        ``lr_multiplier`` is not 1 (one group otherwise: the optimiser, and its checkpoints, as before)."""
        learner = list(self.learner.parameters())
        if self.adversary is None:
            return torch.optim.Adam(learner, lr=lr)
        adversary = list(self.adversary.parameters())
        if self.adversary.lr_multiplier == 1:
            return torch.optim.Adam(learner + adversary, lr=lr)
        return torch.optim.Adam([{"params": learner}, {"params": adversary, "lr": lr * self.adversary.lr_multiplier}],
                                lr=lr)

    def _discriminator_steps(self, batch: TaskBatch, optimiser, target_gen: torch.Generator, fraction: float) -> None:
        """The adversary's extra updates of this outer update (``steps_per_update`` - 1): its own parameters alone,
        on features of ``batch`` and fresh target draws taken without gradient to the learner. Adam skips the
        learner's parameters (they have no gradient) and their step counts do not move."""
        for _ in range(self.adversary.steps_per_update - 1):
            optimiser.zero_grad(set_to_none=True)
            with torch.no_grad():
                source, target = self._adversary_features(batch, target_gen)
            self.adversary(source, target, fraction).loss.backward()
            optimiser.step()

    def _meta_step(self, batch: TaskBatch, params, chunk, optimiser, target_gen: torch.Generator,
                   fraction: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One outer update on ``batch``: the adversary's own extra steps where it asks for them, the meta-loss's
        backward (in chunks of tasks), the adversary's loss at ``fraction`` of training, one optimiser step; the
        loss and the metrics, left on the device."""
        t = self.cfg.train
        adv_out = {}
        if self.adversary is not None:
            self._discriminator_steps(batch, optimiser, target_gen, fraction)

        def adversary_loss():
            # computed after the (first chunk's) meta-loss, as before chunking existed: the same random order
            if self.adversary is None:
                return None
            adv_out["adv"] = self._adversary_loss(batch, target_gen, fraction)
            return adv_out["adv"].loss

        optimiser.zero_grad(set_to_none=True)
        out = meta_backward(self.learner, batch, params, chunk, t.grad_clip, t.grad_clip_max, adversary_loss,
                            threads=self.threads)
        metrics = dict(out.metrics)
        if "adv" in adv_out:
            adv = adv_out["adv"]
            metrics.update({f"adversary_{k}": v for k, v in adv.metrics.items()})
            metrics["adversary_loss"] = adv.loss.detach()
        optimiser.step()
        return out.loss.detach(), metrics

    def _logged_entry(self, it: int, running: torch.Tensor, extra: dict[str, torch.Tensor], n: int) -> dict:
        """The history entry after update ``it``: the means over its last ``n`` updates, brought to the host once.
        A non-finite loss ends the run."""
        mean_loss = running.item() / n
        if not math.isfinite(mean_loss):
            raise FloatingPointError(f"meta-training loss became {mean_loss} by iteration {it}")
        # a surrogate's value means nothing (Reptile's is 0 at every step): logged under its own key, so no board
        # plots it as a meta-training loss
        loss_key = "surrogate_loss" if getattr(type(self.learner), "surrogate_loss", False) else "train_loss"
        entry = {"iteration": it, loss_key: mean_loss}
        entry.update({k: float(v) / n for k, v in extra.items()})
        return entry

    def _checkpoint(self, it, optimiser, best_score, best_state, history, chunk, **generators) -> dict:
        """Everything the rest of the run depends on, after update ``it`` (``metareg.run.checkpoints``)."""
        state = {"config_hash": self.hash, "iteration": it, "learner": self.learner.state_dict(),
                 "optimiser": optimiser.state_dict(), "best_score": best_score, "best_state": best_state,
                 "history": list(history), "chunk": chunk, "resolved": self.resolved,
                 "rng": checkpoints.rng_states(self.device, **generators)}
        if self.adversary is not None:
            state["adversary"] = self.adversary.state_dict()
        get_rng = getattr(self.generator, "get_rng_state", None)
        if callable(get_rng):
            state["generator_rng"] = get_rng()
        return state

    def _resumed(self, state: dict, path, optimiser, history: list[dict], **generators) -> bool:
        """Whether the run took ``state`` up; one that cannot be applied (weights of another shape, a damaged
        entry) is undone, so the run starts afresh exactly as with no checkpoint, and said in a warning."""
        fresh = (copy.deepcopy(self._state()), copy.deepcopy(optimiser.state_dict()),
                 checkpoints.rng_states(self.device, **generators), copy.deepcopy(self.resolved))
        try:
            int(state["iteration"]), state["best_score"], state["best_state"], state["chunk"]  # all there
            self._resume(state, optimiser, history, **generators)
            return True
        except Exception as exc:
            self._load_state(fresh[0])
            optimiser.load_state_dict(fresh[1])
            checkpoints.restore_rng(fresh[2], self.device, **generators)
            self.resolved = fresh[3]
            history.clear()
            checkpoints.warn_ignored(path, f"it could not be applied ({type(exc).__name__}: {exc})")
            return False

    def _resume(self, state: dict, optimiser, history: list[dict], **generators) -> None:
        self.learner.load_state_dict(state["learner"])
        if self.adversary is not None:
            self.adversary.load_state_dict(state["adversary"])
        optimiser.load_state_dict(state["optimiser"])
        history.extend(state["history"])
        self.resolved = state["resolved"]
        checkpoints.restore_rng(state["rng"], self.device, **generators)
        set_rng = getattr(self.generator, "set_rng_state", None)
        if callable(set_rng) and "generator_rng" in state:
            set_rng(state["generator_rng"])

    def _threads(self, batch: TaskBatch, params, progress: bool) -> int:
        """Chunks side by side: ``train.chunk_threads``, or ``auto``'s choice (``metareg.run.thread_choice``),
        recorded."""
        t = self.cfg.train
        if t.chunk_threads != thread_choice.AUTO:
            return int(t.chunk_threads)
        choice = thread_choice.choose_threads(self.learner, batch, params, self.device)
        self.resolved.setdefault("train", {})["chunk_threads"] = choice.threads
        if progress:
            print(choice.line(), file=sys.stderr, flush=True)
        return choice.threads

    def _chunk(self, batch: TaskBatch, params, progress: bool) -> int:
        """Tasks per backward pass: ``train.task_chunk``, or ``auto``'s choice from a memory probe, recorded."""
        t = self.cfg.train
        if t.task_chunk != memory_budget.AUTO:
            chunk = min(int(t.task_chunk), len(batch))
            self.resolved.setdefault("train", {})["task_chunk"] = chunk
            return chunk
        choice = memory_budget.choose_chunk(self.learner, batch, params, self.device, t.memory_budget,
                                            threads=self.threads)
        self.resolved.setdefault("train", {}).update(choice.stored())
        if progress:
            print(choice.line(), file=sys.stderr, flush=True)
        return choice.chunk

    def _adversary_loss(self, batch: TaskBatch, generator: torch.Generator, progress: float):
        """The adversary's loss on source and target features (``_adversary_features``)."""
        return self.adversary(*self._adversary_features(batch, generator), progress)

    def _adversary_features(self, batch: TaskBatch, generator: torch.Generator):
        """Source and target features for the adversary, each domain normalised on its own, never one call on a
        mix: batch norm would then normalise with statistics of both domains, a regime no prediction is made in.

        Source features are those of whole episodes of the meta-batch, each episode's support and query inputs in
        one ``learner.features`` call (so batch norm sees one episode, as when the learner embeds or adapts to a
        task), as many episodes as it takes to give ``target_batch_size`` inputs, of which that many are drawn at
        random. Target features (``train.target_draw``):

        - ``episodes`` (the default): as many ``benchmark.target_episodes`` rows of the source episodes' size,
          each in its own ``learner.features`` call, as a target test episode is normalised (with ``n_way``
          classes where the benchmark's pool can group by class), of which as many as the source gave are drawn
          at random, so the two domains weigh the same;
        - ``pool`` (the loop before the setting existed): one call on ``target_batch_size`` pool inputs, many
          classes normalised together.

        A support set that carries weights (a generator's samples) is normalised with weighted statistics
        (``metareg.batch_norm_weights``) and its samples of weight 0 are left out, so a generator at
        ``aug_weight=0`` changes nothing here either; a sample of weight between 0 and 1 is aligned as a real one
        (the adversary contract takes no weights).
        """
        n = self.cfg.train.target_batch_size
        by_pool = self.cfg.train.target_draw == "pool"
        if by_pool:  # drawn first, as before the setting existed: the same random stream
            pooled = to_device(self.benchmark.target_pool(n, generator), self.device)
        episodes = torch.cat([batch.support_x, batch.query_x], 1)  # [T, S + Q, *input]
        weight = with_query_weights(batch.support_weight, batch.query_x.shape[1])
        if weight is None:
            used = min(len(episodes), -(-n // episodes.shape[1]))
            source = torch.cat([self.learner.features(episode) for episode in episodes[:used]])
        else:
            parts, have = [], 0
            for episode, w in zip(episodes, weight):
                if have >= n:
                    break
                with batch_norm_weights(w):
                    parts.append(self.learner.features(episode)[w > 0])
                have += parts[-1].shape[0]
            source = torch.cat(parts)
        pick = to_device(torch.randperm(source.shape[0], generator=generator)[:n], self.device)
        source = source[pick]
        if by_pool:
            return source, self.learner.features(pooled)
        # the inputs per source episode the adversary sees (a generator's samples of weight 0 are not among them)
        size = episodes.shape[1] if weight is None else int((weight[0] > 0).sum())
        drawn = to_device(self.benchmark.target_episodes(-(-len(source) // size), size, generator), self.device)
        target = torch.cat([self.learner.features(episode) for episode in drawn])
        return source, target[to_device(torch.randperm(target.shape[0], generator=generator)[:len(source)],
                                        self.device)]

    def _metric(self) -> tuple[str, bool]:
        metric = METRICS[self.spec.kind]
        return metric.name, metric.higher_is_better

    def _state(self) -> dict[str, Any]:
        state = {"learner": self.learner.state_dict()}
        if self.adversary is not None:
            state["adversary"] = self.adversary.state_dict()
        return state

    def _load_state(self, state: dict[str, Any]) -> None:
        self.learner.load_state_dict(state["learner"])
        if self.adversary is not None:
            self.adversary.load_state_dict(state["adversary"])

    def evaluate(self, split: str, n_tasks: int) -> dict[str, dict]:
        """Mean and 95% CI of the task metric over ``n_tasks`` tasks of ``split``.

        The tasks depend only on the benchmark config and seed, never on the learner, so every learner of a
        comparison is evaluated on the very same episodes. Settings a benchmark declares as changing only its
        unlabelled pool (``Benchmark.pool_only_settings``, e.g. ``pool``) are read at their canonical value here,
        so the pool regimes are evaluated on the very same episodes too. The domain settings
        (``metareg.host.contracts.benchmark.DOMAIN_DEFAULTS``: ``test_domain``, ``train_domain``, ``val_domain``) are
        left out of the seed, so a baseline, its oracle and its source-test row draw the same episodes (and a
        target-validated row the baseline's test episodes), and the seed of a
        benchmark that declares them is the one it had before they existed; so are its ``added_settings`` at their
        declared values (``neutral_settings``).
        """
        bench_cfg = to_container(self.cfg.benchmark)
        name = self.parts["benchmark"]
        canonical = getattr(type(self.benchmark), "pool_only_settings", {})
        added = getattr(type(self.benchmark), "added_settings", {})
        bench_cfg[name] = {k: v for k, v in {**bench_cfg[name], **{k: v for k, v in canonical.items()
                                                                   if k in bench_cfg[name]}}.items()
                           if k not in DOMAIN_DEFAULTS and not (k in added and v == added[k])}
        generator = torch_generator(self.seed, split, repr(sorted(bench_cfg.items())))
        size = self.cfg.train.eval_batch_size
        values: list[torch.Tensor] = []
        was_training = self.learner.training
        self.learner.eval()
        name = self._metric()[0]
        for start in range(0, n_tasks, size):
            batch = self._batch(split, min(size, n_tasks - start), generator)
            predictions = self.learner.predict(batch)
            name, per_task = task_metric(self.spec.kind, predictions, batch.query_y)
            values.append(per_task)
        self.learner.train(was_training)
        return {name: mean_ci95(torch.cat(values).double().cpu().tolist()).as_dict()}


def _progress(total: int, enabled: bool, description: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=description, unit="it", file=sys.stderr, dynamic_ncols=True,
                mininterval=0.5 if sys.stderr.isatty() else 30)
