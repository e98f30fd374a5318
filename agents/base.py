"""The ``Agent`` protocol and the agent registry (one plain dict).

An agent is reset with the first observation and ``info`` of an episode, then returns one action
per step from ``act``.  Agents that can act on a whole vector env at once also define
``act_batch(obs_batch, infos) -> np.ndarray``.  Agents read the maze from the observation tokens
(``maze_env.parse``), never from env internals.

``make(name, **kwargs)`` builds a registered agent or, for ``"package.module:Class"`` (or
``"path/to/file.py:Class"``), imports and calls that attribute.  Factories may be registered
lazily as such strings, so heavy dependencies (torch models, Stable-Baselines3) load on first
use.

Trust: naming ``"package.module:Attr"`` (or a file) imports that module, which runs its code:
name only modules you trust.  The attribute is called only if it is an agent class (it defines
``reset`` and ``act``) or a function annotated to return one (``-> Agent`` or ``-> MyAgent``),
so a name such as ``"os:system"`` is refused before anything is called (``resolve``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from maze_env.config import ACTION_TYPES
from maze_env.maze import is_int


@runtime_checkable
class Agent(Protocol):
    """What the benchmark runner and the envs' users call.

    Optional members, read through ``Traits.of(agent)`` with these defaults: ``action_type``
    (``"token"``, or ``"move"`` to play ``TokenMazeMoves-v0``), ``max_grid`` (the largest grid
    its vocabulary names; ``None``: any), ``kind`` and ``training`` (what the report says of it),
    and ``act_batch`` (see ``BatchAgent``).
    """

    def reset(self, obs: Any, info: dict) -> None:
        """Start an episode from its first observation and info."""

    def act(self, obs: Any, info: dict) -> int:
        """The next action: a token id (``"token"`` env) or a ``maze_env.Move`` (``"move"``)."""


@runtime_checkable
class BatchAgent(Agent, Protocol):
    """An agent that also plays a whole vector env in lockstep (the runner then batches it)."""

    def act_batch(self, obs: Any, infos: dict) -> np.ndarray:
        """One action per sub-env from the batched observation and infos (``infos`` as the
        vector env returns them; ``maze_env.split_infos`` gives one dict per sub-env)."""


@dataclass(frozen=True)
class Traits:
    """An agent's optional members (see ``Agent``) as the runner reads them, checked."""

    action_type: str = "token"
    max_grid: int | None = None
    kind: str | None = None
    training: Any = None
    batched: bool = False  # it is a ``BatchAgent``

    @classmethod
    def of(cls, agent: Agent) -> Traits:
        """Read ``agent``'s optional members; a value outside its range raises ValueError
        naming the agent's class, the member and what is allowed."""
        name = type(agent).__name__
        action_type = getattr(agent, "action_type", cls.action_type)
        if action_type not in ACTION_TYPES:
            raise ValueError(
                f"agent {name}.action_type={action_type!r} must be one of {ACTION_TYPES}"
            )
        max_grid = getattr(agent, "max_grid", cls.max_grid)
        if max_grid is not None and not (is_int(max_grid) and max_grid >= 1):
            raise ValueError(f"agent {name}.max_grid={max_grid!r} must be None or an int >= 1")
        return cls(
            action_type=action_type,
            max_grid=None if max_grid is None else int(max_grid),
            kind=getattr(agent, "kind", cls.kind),
            training=getattr(agent, "training", cls.training),
            batched=isinstance(agent, BatchAgent),
        )


class Unsupported(ValueError):
    """An agent cannot play this episode by design (its vocabulary, observation size, scheme or
    action type): the benchmark harness records the condition as "n/a" with this reason instead
    of an error.  ``short`` is the few words a table cell shows (default: the whole message)."""

    def __init__(self, reason: str, short: str | None = None):
        super().__init__(reason)
        self.short = short or reason


Factory = Callable[..., Agent]

# name -> (factory or "pkg.mod:Attr", description)
_REGISTRY: dict[str, tuple[Factory | str, str]] = {}


def register(name: str, factory: Factory | str, description: str = "", *, overwrite: bool = False):
    """Register ``factory`` (a callable or a lazy ``"pkg.mod:Attr"`` string) under ``name``."""
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"agent name must be a non-empty string without ':', got {name!r}")
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
        raise TypeError(f"factory for {name!r} must be callable or 'pkg.mod:Attr', got {factory!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(
            f"agent {name!r} is already registered (pass overwrite=True to replace it)"
        )
    _REGISTRY[name] = (factory, description)


def available() -> dict[str, str]:
    """Registered agent names → one-line descriptions."""
    return {name: description for name, (_, description) in sorted(_REGISTRY.items())}


def load_object(spec: str) -> Any:
    """Import ``"package.module:Attr"`` (``Attr`` may be dotted) and return the attribute; the
    module may also be a file, ``"path/to/file.py:Attr"`` (run as code: name only files you
    wrote or trust)."""
    module_name, _, attr = spec.rpartition(":")
    if not module_name or not attr:
        raise ValueError(f"expected 'package.module:Attr' or 'path/to/file.py:Attr', got {spec!r}")
    if module_name.endswith(".py"):
        obj = _load_file(Path(module_name), spec)
    else:
        try:
            obj = importlib.import_module(module_name)
        except ImportError as err:
            raise ImportError(
                f"cannot import module {module_name!r} for agent {spec!r}: {err} (a module "
                "outside the installed packages needs its folder on PYTHONPATH, or name its "
                "file: 'path/to/file.py:Class')"
            ) from err
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _load_file(path: Path, spec: str) -> ModuleType:
    """Import a Python file as a module (once per resolved path)."""
    path = path.expanduser().resolve()
    if not path.is_file():
        raise ImportError(f"no agent file {str(path)!r} (from {spec!r})")
    name = f"tokenmaze_agent_file_{hashlib.blake2b(str(path).encode(), digest_size=6).hexdigest()}"
    if name in sys.modules:
        return sys.modules[name]
    loader = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(loader)
    sys.modules[name] = module  # before running it: dataclasses and pickling look it up
    try:
        loader.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _check_kwargs(name: str, factory: Factory, kwargs: dict) -> None:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for key in kwargs:
        if key not in accepted:
            known = ", ".join(accepted) or "none"
            raise TypeError(f"agent {name!r} got an unknown kwarg {key!r}; it accepts: {known}")


def is_agent_class(obj: Any) -> bool:
    """A class whose instances have the agent protocol's ``reset`` and ``act`` methods."""
    return inspect.isclass(obj) and all(callable(getattr(obj, m, None)) for m in ("reset", "act"))


def _returns_agent(fn: Any) -> bool:
    """A function whose return annotation is an agent class (``Agent`` included)."""
    if not inspect.isfunction(fn):
        return False
    try:
        returned = typing.get_type_hints(fn).get("return")
    except Exception:  # an annotation that does not resolve is no promise
        return False
    return is_agent_class(returned)


def resolve(name: str) -> Factory:
    """The factory ``make(name)`` would call, imported but not called.

    An unknown name raises ValueError listing the registered ones; a ``"package.module:Attr"``
    that is neither an agent class nor a function annotated to return one raises TypeError.
    """
    if name in _REGISTRY:
        factory = _REGISTRY[name][0]
    elif isinstance(name, str) and ":" in name:
        factory = name
    else:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown agent {name!r}; known agents: {known} (or 'pkg.module:Class')")
    if isinstance(factory, str):
        factory = load_object(factory)
        if not (is_agent_class(factory) or _returns_agent(factory)):
            raise TypeError(
                f"agent {name!r} resolves to {factory!r}, which is neither an agent class "
                "(with reset and act methods) nor a function annotated to return one "
                "(-> agents.Agent); TokenMaze calls nothing else"
            )
    return factory


def make(name: str, **kwargs) -> Agent:
    """Build the agent registered as ``name`` (or ``"package.module:Class"``) with ``kwargs``.

    An unknown name raises ValueError listing the registered ones; an unknown kwarg raises
    TypeError naming the agent and the kwarg; a factory whose result lacks ``reset``/``act``
    raises TypeError.
    """
    factory = resolve(name)
    _check_kwargs(name, factory, kwargs)
    agent = factory(**kwargs)
    if not all(callable(getattr(agent, m, None)) for m in ("reset", "act")):
        raise TypeError(
            f"agent {name!r} built {type(agent).__name__!r}, which has no reset/act methods "
            "(the agents.Agent protocol)"
        )
    return agent
