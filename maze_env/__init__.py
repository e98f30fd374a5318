"""TokenMaze: mazes as token sequences and Gymnasium environments.

Public API (see README.md): ``Maze``, ``generate``, ``generate_batch``, ``register_generator``,
``sample_endpoints``, ``EndpointSpec``, ``tokenize``, ``parse``, ``TokenError``, ``Vocabulary``,
``EnvConfig`` (the env configuration), ``Move`` (the move envs' action codes).
"""

from maze_env._graph import DIRECTIONS, solve_batch
from maze_env._rng import as_generator
from maze_env.config import EnvConfig
from maze_env.endpoints import (
    EndpointSpec,
    NoValidEndpoints,
    region_mask,
    sample_endpoints,
    sample_endpoints_batch,
)
from maze_env.generators import GENERATORS, generate, generate_batch, register_generator
from maze_env.maze import Coord, Maze, Shape, normalize_shape
from maze_env.moves import Move, legal_moves
from maze_env.tokens import (
    SCHEMES,
    Example,
    TokenError,
    Vocabulary,
    encode_batch,
    parse,
    tokenize,
    tokens_per_cell,
    vocabulary,
)

__all__ = [
    "DIRECTIONS",
    "GENERATORS",
    "SCHEMES",
    "Coord",
    "EndpointSpec",
    "EnvConfig",
    "Example",
    "Maze",
    "Move",
    "NoValidEndpoints",
    "Shape",
    "TokenError",
    "Vocabulary",
    "as_generator",
    "encode_batch",
    "generate",
    "generate_batch",
    "legal_moves",
    "normalize_shape",
    "parse",
    "region_mask",
    "register_generator",
    "sample_endpoints",
    "sample_endpoints_batch",
    "solve_batch",
    "tokenize",
    "tokens_per_cell",
    "vocabulary",
]

from maze_env.env import VIOLATION_KINDS, TokenMazeEnv, TokenMazeMovesEnv
from maze_env.registration import register_envs
from maze_env.vector import TokenMazeMovesVectorEnv, TokenMazeVectorEnv, split_infos

__all__ += [
    "VIOLATION_KINDS",
    "TokenMazeEnv",
    "TokenMazeMovesEnv",
    "TokenMazeMovesVectorEnv",
    "TokenMazeVectorEnv",
    "register_envs",
    "split_infos",
]
register_envs()
