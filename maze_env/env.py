"""The Gymnasium environments: ``TokenMazeEnv`` (token actions) and ``TokenMazeMovesEnv`` (moves).

Both are a size-1 batch of ``maze_env._episodes.Episodes``, the same state and kernels that the
native vector env (``maze_env.vector``) steps, so single and vector envs cannot drift apart.
"""

from __future__ import annotations

import operator
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from maze_env._episode_config import check_render_mode, make_config
from maze_env._episodes import Episodes
from maze_env.config import EnvConfig
from maze_env.maze import Coord, Maze
from maze_env.rules import VIOLATION_KINDS

__all__ = ["VIOLATION_KINDS", "TokenMazeEnv", "TokenMazeMovesEnv"]

_SHARED_DOC = """
    ## Observation

    A flat ``Dict`` (accepted by Stable-Baselines3's ``MultiInputPolicy``):

    | key | space | content |
    |---|---|---|
    | ``tokens`` | ``Box(0, V-1, (max_len,), uint8)`` | token ids so far, ``<PADDING>``-padded |
    | ``length`` | ``Box(0, max_len, (1,), int64)`` | how many ids of ``tokens`` are real |
    | ``action_mask`` | ``MultiBinary(n_actions)`` | legal actions (as ``info["action_mask"]``) |

    ``obs["tokens"][:length]`` is the prompt through ``<PATH_START>`` and the origin, then every
    token emitted so far.  ``V = len(maze_env.vocabulary(max_grid))``; the ids are ``uint8``
    while ``V <= 256`` (``max_grid`` up to 15), else ``uint16`` (cast to ``int64`` for
    ``nn.Embedding``).  ``max_len`` is the longest possible prompt for the config (every lattice
    edge listed, or cells - 1 for a tree generator) plus the origin plus ``max_steps``.  Token
    layout (scheme ``aotp``; ``coords`` spells each cell as a row token then a column token,
    ``3 4``; ``walls`` lists the missing lattice edges joined by ``<XX>`` instead of the
    connections)::

        <ADJLIST_START> (0,1) <--> (0,0) ; (1,1) <--> (0,1) ; ... <ADJLIST_END>
        <ORIGIN_START> (0,0) <ORIGIN_END> <TARGET_START> (1,1) <TARGET_END>
        <PATH_START> (0,0) | (0,1) (1,1) <PATH_END>      <- "|": the agent's tokens start here

    Decode with ``maze_env.vocabulary(info["max_grid"]).decode(...)``; ``env.unwrapped.tokens`` is
    the same sequence as strings and ``maze_env.parse`` reads it back (maze, origin, target, path).

    ## Dynamics

    Nothing is prevented (as in the seed's training setup): every action is carried out and each
    broken rule is counted in ``info["violations"]`` by kind:

    - ``non_adjacent_jump``: the new cell is not a lattice neighbour of the current one;
    - ``wall_crossing``: it is a neighbour, but the connection is closed (or leaves the grid);
    - ``backtrack``: the new cell is the previous one;
    - ``revisit``: the new cell is already on the path (and is not the previous one);
    - ``invalid_token``: a token that is no cell of the grid (a special token, a number in
      ``aotp``, a coordinate outside the grid, a coordinate half left unfinished in ``coords``).

    A move may break one rule of the first two and one of the next two.  The path moves to the new
    cell either way.  ``invalid_action="terminate"`` ends the episode at the first violation.

    ## Reward

    Per step: ``-step_cost`` (default 0.01), ``-violation_penalty`` (default 0.1) per violation
    recorded on that step, and ``+success_reward`` (default 1.0) on success.

    ## Episode end

    - Termination: ``<PATH_END>`` (token env) or ``stop`` (move env).  Success (``info["success"]``)
      = no violation at all, the path ends at the target and no coordinate is half emitted.
      With ``invalid_action="terminate"`` the first violation also terminates (no success).
    - Truncation: exactly at ``max_steps`` actions (default ``2 × tokens per move × rows × cols``,
      so 72 for the 6×6 default).  The limit lives inside the env, as in Minigrid, so it follows
      the ``size`` / ``scheme`` kwargs; registrations set no ``max_episode_steps`` wrapper.

    ``info`` (reset and step): ``action_type``, ``scheme``, ``max_grid``, ``shape`` (int64
    ``[rows, cols]`` of the grid the tokens name: pass it to ``parse(..., shape=)``, since a
    ``walls`` prompt, or a maze with isolated border cells, does not show it), ``action_mask``
    (int8 0/1 like ``obs["action_mask"]``, so ``env.action_space.sample(mask=info["action_mask"])``
    works; legal = an open connection to a not-yet-visited cell; stop is legal at the target or
    when no move is), ``position`` (int64 ``[row, col]``), ``violations`` (kind → count),
    ``optimal_length`` (moves on a shortest path) and, once the episode ends, ``success``.

    ## Arguments

    ``size`` (int or (rows, cols), default 6), ``generator`` (a name in ``maze_env.GENERATORS``,
    default ``"rdfs"``), ``generator_kwargs`` (dict), ``endpoints`` (an ``EndpointSpec`` or a dict
    of its fields), ``scheme`` (``"aotp"``, ``"coords"``, ``"walls"``), ``max_grid`` (vocabulary
    size, default the grid side), ``canvas`` / ``offset`` (place the maze inside a larger grid),
    ``max_steps``, ``success_reward``, ``step_cost``, ``violation_penalty``, ``invalid_action``
    (``"record"`` or ``"terminate"``), ``render_mode`` (``"human"``, ``"rgb_array"``, ``"ansi"``).
    A bad value raises an error that names its kwarg.

    ## Registered configurations

    - ``TokenMaze-v0``: token actions, 6×6 ``rdfs``, ``aotp`` (max_steps 72)
    - ``TokenMazeMoves-v0``: move actions, 6×6 ``rdfs``, ``aotp`` (max_steps 72)
    - ``TokenMaze-<generator>-<R>x<C>-v0`` (max_steps 2·R·C): ``rdfs`` 4×4, 8×8 and 10×10;
      ``wilson``, ``rdfs_percolation`` (p=0.1) and ``open_field`` at 6×6.

    Every id has a ``vector_entry_point``: ``gym.make_vec(id, num_envs=N)`` builds the native
    numpy/numba-batched ``maze_env.vector`` env (autoreset mode ``NEXT_STEP``).

    ## Version history

    - v0: initial release.
"""


class _TokenMazeBase(gym.Env):
    """Shared implementation; see ``TokenMazeEnv`` and ``TokenMazeMovesEnv``."""

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["human", "rgb_array", "ansi"],
        "render_fps": 4,
    }
    action_type: ClassVar[str]

    def __init__(
        self,
        config: EnvConfig | None = None,
        render_mode: str | None = None,
        **kwargs,
    ):
        self.config = make_config(self.action_type, config, **kwargs)
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self.observation_space = self.config.observation_space()
        self.action_space = self.config.action_space()
        self._episodes = Episodes(self.config, 1)
        self._action = np.zeros(1, np.int64)
        self._active = np.ones(1, np.bool_)
        self._index = np.zeros(1, np.int64)
        self._seeded = False  # the key stream is started from np_random at the first reset
        self._ended = True
        self._maze: Maze | None = None
        self._window = None

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None or not self._seeded:
            self._episodes.seed(self._index, [self.np_random])
            self._seeded = True
        self._episodes.reset(self._index)
        self._ended, self._maze = False, None
        if self.render_mode == "human":
            self.render()
        return self._episodes.observation(0), self._episodes.info(0, False)

    def step(self, action):
        if not self._seeded:
            raise gym.error.ResetNeeded("step() called before reset(); call reset() first")
        try:
            a = -1 if isinstance(action, (bool, np.bool_)) else operator.index(action)
        except TypeError:
            a = -1  # not an integer (a bool, a float, a non-scalar array, ...)
        if not 0 <= a < self.action_space.n:
            raise ValueError(f"action must be an int in [0, {self.action_space.n}), got {action!r}")
        if self._ended:
            gym.logger.warn("step() called after the episode ended; call reset() first")
        self._action[0] = a
        ep = self._episodes
        ep.step(self._action, self._active)
        terminated, truncated = bool(ep.terminated[0]), bool(ep.truncated[0])
        self._ended = terminated or truncated
        if self.render_mode == "human":
            self.render()
        obs, info = ep.observation(0), ep.info(0, self._ended)
        return obs, float(ep.rewards[0]), terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Legal actions as a bool array (sb3-contrib's MaskablePPO reads this)."""
        return self._episodes.mask[0].copy()

    def render(self):
        from maze_env import render

        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode= to the env")
            return None
        data = self._episodes.frame_data(0)
        if self.render_mode == "ansi":
            return render.ansi_frame(**data, tokens=self.tokens)
        frame = render.rgb_frame(**data)
        if self.render_mode == "rgb_array":
            return frame
        if self._window is None:
            title = f"TokenMaze ({self.action_type} actions)"
            self._window = render.Window(title, self.metadata["render_fps"])
        self._window.show(frame)
        return None

    def close(self):
        if self._window is not None:
            self._window.close()
            self._window = None
        super().close()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_window"] = None
        return state

    # ------------------------------------------------------------------ the episode so far
    @property
    def maze(self) -> Maze:
        """This episode's maze."""
        if self._maze is None:
            self._maze = self._episodes.maze(0)
        return self._maze

    @property
    def origin(self) -> Coord:
        return self._episodes.origin(0)

    @property
    def target(self) -> Coord:
        return self._episodes.target(0)

    @property
    def position(self) -> Coord:
        return self._episodes.position(0)

    @property
    def path(self) -> list[Coord]:
        """Cells visited so far, origin first (invalid moves included: nothing is prevented)."""
        return self._episodes.path_cells(0)

    @property
    def tokens(self) -> list[str]:
        """The token sequence so far as strings; ``maze_env.parse`` reads it back."""
        return self._episodes.token_strings(0)

    @property
    def violations(self) -> dict[str, int]:
        return self._episodes.violations(0)


class TokenMazeEnv(_TokenMazeBase):
    __doc__ = (
        """A maze given as a token prompt; the agent writes the path one token at a time.

    ## Description

    Each episode draws a maze (``generator`` at ``size``), an origin and a target
    (``endpoints``) and shows them as the seed's token prompt (the ``scheme``).  The agent then
    emits tokens, like a language model completing the sequence: coordinates along a path from
    the origin, then ``<PATH_END>``.  ``gym.make("TokenMaze-v0")`` is the 6×6 ``rdfs`` maze the
    shipped transformer is trained for.

    ## Action

    ``Discrete(V)``: the id of the next token in ``maze_env.vocabulary(max_grid)``.  Under
    ``coords`` a cell takes two actions (row, then column).
"""
        + _SHARED_DOC
    )

    action_type = "token"


class TokenMazeMovesEnv(_TokenMazeBase):
    __doc__ = (
        """The token maze with compass moves, for RL agents.

    ## Description

    The same episodes and observation as ``TokenMazeEnv`` (``TokenMaze-v0``), but the agent picks
    a direction; the env writes the destination cell's token(s) (or ``<PATH_END>``) for it.

    ## Action

    | action | meaning |
    |---|---|
    | 0 | north (row - 1) |
    | 1 | south (row + 1) |
    | 2 | west (col - 1) |
    | 3 | east (col + 1) |
    | 4 | stop (emits ``<PATH_END>``) |

    A move off the grid counts as a ``wall_crossing`` and leaves the position (and tokens) as is.
"""
        + _SHARED_DOC
    )

    action_type = "move"
