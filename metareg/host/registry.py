"""Plugin loading and lookup: entry points -> pluggy -> parts by family and name.

Every plugin, built-in or third-party, arrives through the ``metareg`` entry-point group. Each entry point is
loaded and registered in its own ``try``: a plugin that fails to import, has a hook pluggy rejects, or registers a
class that breaks its contract becomes a :class:`PluginFailure` record and the rest keep working. A run that asks for
a part of a failed plugin gets a ``PluginError``; ``metareg plugins`` shows every failure.
"""
from __future__ import annotations

import difflib
import importlib.metadata as md
import os
import sys
import traceback
import warnings
from dataclasses import dataclass
from typing import Iterable

import pluggy

from metareg.errors import ContractError, DuplicatePartError, PluginError, UnknownPartError
from metareg.host import hookspecs
from metareg.host.contracts.check import check_part
from metareg.host.families import NAMES

ENTRY_POINT_GROUP = "metareg"
BUILTIN_DISTRIBUTION = "metareg"

#: family -> registration hook name
REGISTRATION_HOOKS = {
    "backbone": "metareg_register_backbones",
    "learner": "metareg_register_learners",
    "adversary": "metareg_register_adversaries",
    "generator": "metareg_register_generators",
    "benchmark": "metareg_register_benchmarks",
}


@dataclass(frozen=True)
class PartInfo:
    """One registered part and where it came from."""

    family: str
    name: str
    cls: type
    plugin: str
    distribution: str
    version: str

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN_DISTRIBUTION

    @property
    def origin(self) -> str:
        return f"{self.distribution} {self.version} (plugin {self.plugin!r})".replace("  ", " ")

    @property
    def summary(self) -> str:
        doc = (self.cls.__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin (or one part of it) that could not be used, and why; ``family``/``part`` name the part when the
    failure is one class breaking its contract (the plugin itself loaded)."""

    plugin: str
    distribution: str
    version: str
    error: str
    traceback: str = ""
    family: str | None = None
    part: str | None = None

    def line(self) -> str:
        """The reason first, then where it comes from (a warning cut short still says what is wrong)."""
        return f"{self.error} (plugin {self.plugin!r} from {f'{self.distribution} {self.version}'.strip()})"


@dataclass
class _Origin:
    plugin: str
    distribution: str = "(not installed)"
    version: str = ""


def _plugin_frames(exc: BaseException) -> str:
    """The traceback without the frames of importlib, pluggy and this module: what the plugin author needs."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if "importlib" not in f.filename and "pluggy" not in f.filename and not f.filename.endswith("registry.py")
    ]
    return "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(type(exc), exc))


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


class Registry:
    """The parts every loaded plugin registered, by family and name.

    Build one with :meth:`Registry.load` (entry points) or an empty one and :meth:`add_plugin` (tests).
    There is no global instance: each CLI call or library user owns theirs.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("metareg")
        self.pm.add_hookspecs(hookspecs)
        self.parts: dict[str, dict[str, PartInfo]] = {family: {} for family in NAMES}
        self.duplicates: dict[tuple[str, str], list[PartInfo]] = {}
        self.failures: list[PluginFailure] = []
        #: what ``METAREG_BLOCK_PLUGINS`` names (see ``load``), and what it kept out, for ``metareg plugins``
        self.block: set[str] = set()
        self.blocked: list[str] = []
        #: why parts may be missing (``METAREG_LOAD_PLUGINS`` left plugins out, ``METAREG_BLOCK_PLUGINS`` blocked
        #: some), said beside an unknown name; and the lines the CLI prints as warnings (block names matching nothing)
        self.filters: list[str] = []
        self.notices: list[str] = []
        #: the installed plugins an allow list (``METAREG_LOAD_PLUGINS``) left out, for ``metareg plugins``
        self.left_out: list[str] = []
        self._block_hits: set[str] = set()
        if os.environ.get("METAREG_TRACE_PLUGINS") == "1":
            self.pm.trace.root.setwriter(lambda msg: sys.stderr.write(msg))
            self.pm.enable_tracing()

    # ---------------------------------------------------------------------------------------------------------------
    # loading
    # ---------------------------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, entry_points: bool = True, allow: Iterable[str] | None = None, warn: bool = True,
             block: Iterable[str] | None = None) -> "Registry":
        """A registry of every ``metareg`` entry point (or those in ``allow``; ``METAREG_LOAD_PLUGINS`` by default),
        less those in ``block`` (``METAREG_BLOCK_PLUGINS`` by default).

        A ``block`` entry is an entry-point (plugin) name, which skips the whole plugin; a part name, which skips
        every part of that name; or ``DISTRIBUTION:PART``, which skips one distribution's part, e.g. a third-party
        ``maml`` that would otherwise make the built-in unusable (``metareg-evil:maml``). Each plugin failure
        becomes a ``RuntimeWarning`` of one line when ``warn`` (the CLI prints its own).
        """
        registry = cls()
        allow_name = block_name = None
        if allow is None and "METAREG_LOAD_PLUGINS" in os.environ:
            allow, allow_name = _names(os.environ["METAREG_LOAD_PLUGINS"]), "METAREG_LOAD_PLUGINS"
        if block is None:
            block, block_name = _names(os.environ.get("METAREG_BLOCK_PLUGINS", "")), "METAREG_BLOCK_PLUGINS"
        registry.block = set(block)
        left_out = registry.left_out
        if entry_points:
            allowed = None if allow is None else set(allow)
            installed = list(md.entry_points(group=ENTRY_POINT_GROUP))
            for ep in installed:
                if allowed is not None and ep.name not in allowed:
                    left_out.append(ep.name)
                    continue
                if ep.name in registry.block:
                    registry.blocked.append(f"plugin {ep.name!r}")
                    registry._block_hits.add(ep.name)
                    continue
                registry._load_entry_point(ep)
            registry._say_filters(allow, allow_name or "the allow list", left_out, installed,
                                  block_name or "the block list")
        if warn:
            for line in [f.line() for f in registry.failures] + registry.notices:
                warnings.warn(f"metareg: {line}", RuntimeWarning, stacklevel=2)
        return registry

    def _say_filters(self, allow: Iterable[str] | None, allow_name: str, left_out: list[str],
                     installed: list[md.EntryPoint], block_name: str) -> None:
        """Record what the allow and block lists did (``filters``), and warn of names in them that match nothing
        installed (``notices``), with the close matches: a misspelt block name blocks nothing, silently otherwise."""
        allow = list(allow) if allow is not None else None
        if allow is not None and left_out:
            loads = f"loads only {', '.join(allow)}" if allow else "loads no plugin"
            self.filters.append(f"{allow_name}={','.join(allow)!r} {loads}, leaving out {len(left_out)} installed "
                                f"plugin(s) (unset it to load every one)")
        if self.blocked:
            self.filters.append(f"{block_name}={','.join(sorted(self.block))!r} blocks {', '.join(self.blocked)}")
        names = {ep.name for ep in installed}
        known = names | {n for family in self.parts.values() for n in family} | {n for _, n in self.duplicates}
        known |= {f"{i.distribution}:{i.name}" for i in self.all_parts()}
        for title, wanted, decidable in ((allow_name, allow or [], True), (block_name, self.block, not left_out)):
            unknown = sorted(n for n in wanted if n not in names | self._block_hits)
            if title == block_name:  # a block name may also be a part's, and then only the loaded plugins know it
                unknown = [n for n in unknown if decidable and n not in known]
            for name in unknown:
                close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
                hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                self.notices.append(f"{title} names {name!r}, which is no installed plugin"
                                    f"{' or part' if title == block_name else ''}, so it has no effect{hint} "
                                    f"(`metareg plugins` lists them)")

    def _load_entry_point(self, ep: md.EntryPoint) -> None:
        dist = getattr(ep, "dist", None)
        origin = _Origin(ep.name, dist.metadata["Name"] if dist else "(unknown)", dist.version if dist else "")
        try:
            module = ep.load()
        except Exception as exc:  # a plugin's import may raise anything; it must not take the others down
            self._fail(origin, f"failed to import {ep.value}: {_one_line(exc)}", exc)
            return
        self.add_plugin(module, ep.name, origin.distribution, origin.version)

    def add_plugin(self, plugin: object, name: str, distribution: str = "(local)", version: str = "") -> bool:
        """Register one plugin object and collect its parts; False (and a failure record) if pluggy rejects it."""
        origin = _Origin(name, distribution, version)
        if name in {n for n, _ in self.pm.list_name_plugin()}:
            self._fail(origin, f"a plugin named {name!r} is already loaded; entry-point names must be unique")
            return False
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy.PluginValidationError: a hook with arguments its spec lacks
            self._fail(origin, f"invalid hook implementation: {_one_line(exc)}", exc)
            return False
        unknown = [
            caller.name
            for caller in (self.pm.get_hookcallers(plugin) or [])
            if caller.spec is None and not any(i.optionalhook for i in caller.get_hookimpls())
        ]
        if unknown:
            self.pm.unregister(plugin)
            known = ", ".join(n for n in dir(hookspecs) if n.startswith("metareg_"))
            self._fail(origin, f"unknown hook {', '.join(unknown)}: hooks are {known}")
            return False
        for family, hook_name in REGISTRATION_HOOKS.items():
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    self._collect(family, impl, origin)
        return True

    def _collect(self, family: str, impl: pluggy.HookImpl, origin: _Origin) -> None:
        def register(cls: type) -> None:
            name = getattr(cls, "name", None)
            if name in self.block or f"{origin.distribution}:{name}" in self.block:
                self.blocked.append(f"{family} {name!r} of {origin.distribution}")
                self._block_hits.update({name, f"{origin.distribution}:{name}"} & self.block)
                return
            check_part(family, cls)
            info = PartInfo(family, cls.name, cls, origin.plugin, origin.distribution, origin.version)
            key = (family, cls.name)
            if key in self.duplicates:
                self.duplicates[key].append(info)
            elif cls.name in self.parts[family]:
                self.duplicates[key] = [self.parts[family].pop(cls.name), info]
            else:
                self.parts[family][cls.name] = info

        def guarded_register(cls: type) -> None:
            try:
                register(cls)
            except ContractError as exc:
                part = cls.__dict__.get("name") if isinstance(cls, type) else None
                self._fail(origin, f"{family} not registered: {exc}", family=family,
                           part=part if isinstance(part, str) else None)

        try:
            impl.function(**{arg: guarded_register for arg in impl.argnames})
        except Exception as exc:
            self._fail(origin, f"{impl.function.__name__} raised {_one_line(exc)}", exc)

    def _fail(self, origin: _Origin, message: str, exc: BaseException | None = None, family: str | None = None,
              part: str | None = None) -> None:
        tb = _plugin_frames(exc) if exc is not None else ""
        failure = PluginFailure(origin.plugin, origin.distribution, origin.version, message, tb, family, part)
        self.failures.append(failure)

    # ---------------------------------------------------------------------------------------------------------------
    # lookup
    # ---------------------------------------------------------------------------------------------------------------
    def get(self, family: str, name: str) -> PartInfo:
        """The part ``name`` of ``family``, or a clear error: unknown (with close matches), duplicate, or broken."""
        if family not in self.parts:
            raise UnknownPartError("family", family, self.parts)
        if (family, name) in self.duplicates:
            infos = self.duplicates[(family, name)]
            others = [f"{i.distribution}:{name}" for i in infos if not i.builtin] or \
                     [f"{i.distribution}:{name}" for i in infos[1:]]
            raise DuplicatePartError(family, name, infos[0].origin, infos[1].origin,
                                     f"to use one, block the other: METAREG_BLOCK_PLUGINS={others[0]}")
        if name in self.parts[family]:
            return self.parts[family][name]
        broken = [f for f in self.failures if f.family == family and f.part == name]
        if broken:
            reason = broken[0].error.split(": ", 1)[-1]
            raise PluginError(f"{family} {name!r} is installed but broken: {reason} (from {broken[0].distribution} "
                              f"{broken[0].version}; `metareg plugins --check {broken[0].plugin}` shows every "
                              f"clause)")
        unloaded = [f for f in self.failures if f.plugin == name and f.part is None]
        if unloaded:
            f = unloaded[0]
            raise PluginError(f"{family} {name!r} failed to load: {f.error} (plugin {f.plugin!r} from "
                              f"{f.distribution} {f.version}; `metareg plugins` shows its traceback)")
        raise UnknownPartError(family, name, self.names(family), "; ".join(self.filters))

    def names(self, family: str) -> list[str]:
        return sorted(self.parts[family])

    def all_parts(self) -> list[PartInfo]:
        listed = [info for family in NAMES for info in sorted(self.parts[family].values(), key=lambda i: i.name)]
        return listed + [info for infos in self.duplicates.values() for info in infos]

    # ---------------------------------------------------------------------------------------------------------------
    # observer hooks
    # ---------------------------------------------------------------------------------------------------------------
    def notify(self, hook_name: str, **kwargs) -> None:
        """Call an observer hook; a failing observer becomes a warning, never a lost run."""
        try:
            getattr(self.pm.hook, hook_name)(**kwargs)
        except Exception as exc:
            warnings.warn(f"metareg: observer hook {hook_name} raised {_one_line(exc)}", RuntimeWarning, stacklevel=2)
