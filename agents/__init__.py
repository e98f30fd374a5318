"""TokenMaze agents: the ``Agent`` protocol, a registry, and the built-in baselines.

>>> import agents
>>> agent = agents.make("random-fork", seed=0)      # or "oracle", "greedy", "pkg.mod:Class", ...
>>> sorted(agents.available())[:3]
['dead-end-filling-planner', 'greedy', 'oracle']
"""

from agents.base import (
    Agent,
    BatchAgent,
    Traits,
    Unsupported,
    available,
    is_agent_class,
    load_object,
    make,
    register,
    resolve,
)
from agents.heuristics import (
    DeadEndFillingAgent,
    GreedyAgent,
    WallFollowerAgent,
    WallFollowerPlanner,
)
from agents.oracle import OracleAgent
from agents.planned import PlannedAgent
from agents.random_fork import RandomForkAgent

register("oracle", OracleAgent, "BFS shortest path (optimal on cyclic mazes too)")
register(
    "random-fork",
    RandomForkAgent,
    "the post's baseline: no backtracking, uniform at forks, stops at dead ends (seed, bias)",
)
register("greedy", GreedyAgent, "step to the open unvisited neighbour nearest the target")
register(
    "dead-end-filling-planner",
    DeadEndFillingAgent,
    "planner: discard dead ends except origin/target, then walk what remains (seed)",
)
register(
    "wall-follower",
    WallFollowerAgent,
    "left/right-hand rule, step by step: dead ends and returns emitted (hand, max_steps)",
)
register(
    "wall-follower-planner",
    WallFollowerPlanner,
    "planner: the left/right-hand walk traced first, emitted with loops erased (hand, max_steps)",
)
register(
    "sb3",
    "agents.sb3:SB3Agent",
    "MaskablePPO on move actions (path; default: the shipped 5x5 model)",
)
register(
    "transformer",
    "agents.transformer.policy:TransformerAgent",
    "the GPT policy (checkpoint; default: the shipped 6x6 model)",
)

__all__ = [
    "Agent",
    "BatchAgent",
    "DeadEndFillingAgent",
    "GreedyAgent",
    "OracleAgent",
    "PlannedAgent",
    "RandomForkAgent",
    "Traits",
    "Unsupported",
    "WallFollowerAgent",
    "WallFollowerPlanner",
    "available",
    "is_agent_class",
    "load_object",
    "make",
    "register",
    "resolve",
]
