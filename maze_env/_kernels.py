"""The numba kernels every TokenMaze env runs: reset (generate, place endpoints, tokenize, in
one call for the built-in generators: ``_reset_fused``), step (the walk rules of
``maze_env.rules`` applied to one action) and info gathering.

Episode state is flat arrays; the int matrix ``ints`` (n, N_INT) has one named column per field
(``POS`` the current cell, ``PREV`` the one before, ``PENDING`` a half-written ``coords``
coordinate, ``STEPS``, ``PATH_LEN``, ``LENGTH`` tokens so far, ``ORIGIN``, ``TARGET``,
``OPTIMAL`` path length, ``SUCCESS``, then one count per violation kind from ``VIOL``).

The kernels pass three tuples instead of long argument lists: ``state`` = (conns, ints, visited,
path, bad, tokens, mask), the episodes' arrays (``Episodes.state``); ``tables`` = (cell_ids,
number_ids, token_table, iparams, fparams), what the config fixes (``Episodes.tables``); and
``outcomes`` = (rewards, terminated, truncated).
"""

from __future__ import annotations

import numpy as np

from maze_env._graph import is_open
from maze_env._jit import kernel
from maze_env._rng import draw_stream_keys
from maze_env.endpoints import allowed_cells, sample_pair
from maze_env.generators import generate_into
from maze_env.moves import Move
from maze_env.rules import STEP_KINDS, VIOLATION_KINDS
from maze_env.tokens import encode_into

KEYS_PER_RESET = 4  # per episode: maze (2: shape, offset), endpoints (1), edge shuffle (1)

# columns of the int state matrix (n, N_INT)
POS, PREV, PENDING, STEPS, PATH_LEN, LENGTH, ORIGIN, TARGET, OPTIMAL, SUCCESS = range(10)
VIOL = 10  # VIOL + kind index, one column per violation kind
N_INT = VIOL + len(VIOLATION_KINDS)
_JUMP, _WALL, _BACK, _REVISIT, _INVALID, _NO_END = range(len(VIOLATION_KINDS))
_MOVE_KINDS = _INVALID  # the kinds a move into a cell can break: jump, wall, backtrack, revisit
_STOP_MOVE = int(Move.STOP)  # a plain int constant for the kernels
_DR = np.array([-1, 1, 0, 0], np.int64)
_DC = np.array([0, 0, -1, 1], np.int64)


@kernel(inline="always")
def _update_mask(i, state, tables):
    """Legal actions of episode i: an open connection to an unvisited cell; stop at the target
    (with no half-emitted coordinate) or when nothing else is legal."""
    conns, ints, visited, mask = state[0], state[1], state[2], state[6]
    cell_ids, number_ids, iparams = tables[0], tables[1], tables[3]
    move_env, coords, stop = iparams[0] == 1, iparams[1] == 1, iparams[2]
    conn, cols = conns[i], conns.shape[3]
    for a in range(mask.shape[1]):
        mask[i, a] = False
    pos, pending = ints[i, POS], ints[i, PENDING]
    r, c = pos // cols, pos % cols
    legal = False
    for d in range(4):
        if not is_open(conn, r, c, d):
            continue
        nr, nc = r + _DR[d], c + _DC[d]
        cell = nr * cols + nc
        if visited[i, cell]:
            continue
        if move_env:
            mask[i, d] = True
        elif coords:
            if pending < 0:
                mask[i, number_ids[nr]] = True
            elif pending == nr:
                mask[i, number_ids[nc]] = True
            else:
                continue
        else:
            mask[i, cell_ids[cell, 0]] = True
        legal = True
    if not legal or (pos == ints[i, TARGET] and pending < 0):
        mask[i, _STOP_MOVE if move_env else stop] = True


@kernel(inline="always")
def _count(ints, i, kinds):
    """Episode i's violations of the first ``kinds`` kinds, summed."""
    total = 0
    for k in range(kinds):
        total += ints[i, VIOL + k]
    return total


@kernel(inline="always")
def _visit(i, cell, state):
    """Move episode i to ``cell``, recording every rule the move breaks."""
    conns, ints, visited, path, bad = state[0], state[1], state[2], state[3], state[4]
    cols = conns.shape[3]
    pos = ints[i, POS]
    r, c, r2, c2 = pos // cols, pos % cols, cell // cols, cell % cols
    dist = abs(r - r2) + abs(c - c2)
    before = _count(ints, i, _MOVE_KINDS)
    if dist > 1:
        ints[i, VIOL + _JUMP] += 1
    elif dist == 1:
        d = 0 if r2 < r else (1 if r2 > r else (2 if c2 < c else 3))
        if not is_open(conns[i], r, c, d):
            ints[i, VIOL + _WALL] += 1
    if cell == ints[i, PREV]:
        ints[i, VIOL + _BACK] += 1
    elif visited[i, cell]:
        ints[i, VIOL + _REVISIT] += 1
    n = ints[i, PATH_LEN]
    if n < path.shape[1]:  # only a misuse (stepping a finished episode) could overflow
        path[i, n] = cell
        bad[i, n] = _count(ints, i, _MOVE_KINDS) > before
        ints[i, PATH_LEN] = n + 1
    ints[i, PREV] = pos
    ints[i, POS] = cell
    visited[i, cell] = True


@kernel(inline="always")
def _emit(i, token, ints, tokens):
    n = ints[i, LENGTH]
    if n < tokens.shape[1]:  # only a misuse (stepping a finished episode) could overflow
        tokens[i, n] = token
        ints[i, LENGTH] = n + 1


@kernel(inline="always")
def _start(i, origin, target, moves, prompt_len, state, tables, outcomes):
    """Start episode i in ``conns[i]`` whose prompt is already in ``tokens[i]``: state at the
    origin, the origin's token(s) emitted, legal actions set, its reward / terminated /
    truncated (``outcomes``) zeroed."""
    ints, visited, path, bad, tokens = state[1], state[2], state[3], state[4], state[5]
    cell_ids = tables[0]
    rewards, terminated, truncated = outcomes
    rewards[i], terminated[i], truncated[i] = 0.0, False, False
    ints[i, :] = 0
    ints[i, POS] = origin
    ints[i, ORIGIN] = origin
    ints[i, TARGET] = target
    ints[i, PREV] = -1
    ints[i, PENDING] = -1
    ints[i, OPTIMAL] = moves
    visited[i, :] = False
    visited[i, origin] = True
    path[i, 0] = origin  # path / bad entries from PATH_LEN on are stale: readers stop there
    bad[i, 0] = False
    ints[i, PATH_LEN] = 1
    ints[i, LENGTH] = prompt_len
    for q in range(cell_ids.shape[1]):
        _emit(i, cell_ids[origin, q], ints, tokens)
    _update_mask(i, state, tables)


@kernel
def _reset(idx, new_conns, origins, targets, optimal, prompts, prompt_lens, state, tables,
           outcomes):  # fmt: skip
    """Start episodes ``idx`` from mazes, endpoints and prompts made by the batch APIs."""
    conns, tokens = state[0], state[5]
    for j in range(idx.shape[0]):
        i = idx[j]
        conns[i] = new_conns[j]
        tokens[i, :] = prompts[j]
        _start(i, origins[j], targets[j], optimal[j] - 1, prompt_lens[j], state, tables, outcomes)


@kernel
def _reset_fused(idx, streams, plan, state, tables, outcomes) -> int:
    """``_reset`` with the maze, endpoints, optimal length and prompt made in the same loop.

    The same kernels as ``generate_batch`` (``generate_into``), ``sample_endpoints_batch``
    (``allowed_cells``, ``sample_pair``) and ``encode_batch`` (``encode_into``) on the same keys
    (the next ``KEYS_PER_RESET`` of episode i's stream ``streams[i]``: maze, canvas offset
    (unused), endpoints, edge order), so the result equals the batch-API path.  Returns -1, or
    the index j whose maze has no valid endpoint pair.  ``plan`` = (generator kind, its params,
    origin / target region masks and dead-end flags, min / max distance, special ids, pad id).
    """
    kind, gparams, o_region, t_region, o_dead, t_dead, min_distance, max_distance = plan[:8]
    special, pad = plan[8], plan[9]
    conns, tokens, cell_ids = state[0], state[5], tables[0]
    rows, cols = conns.shape[2], conns.shape[3]
    cells = rows * cols
    o_ok, t_ok = np.empty(cells, np.bool_), np.empty(cells, np.bool_)
    dist, queue = np.empty(cells, np.int32), np.empty(cells, np.int32)
    order, valid = np.empty(cells, np.int64), np.empty(cells, np.int64)
    ea, eb = np.empty(2 * cells, np.int64), np.empty(2 * cells, np.int64)
    no_path = np.empty(0, np.int64)
    key = np.empty(1, np.uint64)  # the kernels' RNG state
    keys = np.empty((1, KEYS_PER_RESET), np.uint64)
    for j in range(idx.shape[0]):
        i = idx[j]
        draw_stream_keys(streams, idx[j : j + 1], keys)
        conns[i] = False
        key[0] = keys[0, 0]
        generate_into(kind, conns[i], key, gparams)
        allowed_cells(conns[i], o_region, t_region, o_dead, t_dead, o_ok, t_ok)
        key[0] = keys[0, 2]
        origin, target = sample_pair(
            conns[i], key, o_ok, t_ok, min_distance, max_distance, dist, queue, order, valid
        )
        if origin < 0:
            return j
        tokens[i, :] = pad
        key[0] = keys[0, 3]
        length = encode_into(conns[i], key, cell_ids, special, origin, target, no_path, 0,
                             False, tokens[i], ea, eb)  # fmt: skip
        _start(i, origin, target, dist[target], length, state, tables, outcomes)
    return -1


@kernel
def _step(actions, active, state, tables, outcomes):
    """Advance every active episode by one action; write reward / terminated / truncated.

    Returns -1, or (having changed nothing) the first active episode whose action is not in
    [0, n_actions)."""
    conns, ints, tokens, mask = state[0], state[1], state[5], state[6]
    cell_ids, token_table, iparams, fparams = tables[0], tables[2], tables[3], tables[4]
    rewards, terminated, truncated = outcomes
    for i in range(actions.shape[0]):
        if active[i] and not 0 <= actions[i] < mask.shape[1]:
            return i
    move_env, coords, stop, max_steps, terminate = (
        iparams[0] == 1, iparams[1] == 1, iparams[2], iparams[3], iparams[4] == 1,
    )  # fmt: skip
    success_reward, step_cost, penalty = fparams[0], fparams[1], fparams[2]
    rows, cols = conns.shape[2], conns.shape[3]
    for i in range(actions.shape[0]):
        if not active[i]:
            continue
        a = actions[i]
        before = _count(ints, i, STEP_KINDS)
        ended = stopped = False
        if (move_env and a == _STOP_MOVE) or (not move_env and a == stop):
            _emit(i, stop, ints, tokens)
            stopped = True
            if ints[i, PENDING] >= 0:  # a half-emitted coordinate never completed
                ints[i, VIOL + _INVALID] += 1
                ints[i, PENDING] = -1
            ended = True
        elif move_env:
            pos = ints[i, POS]
            nr, nc = pos // cols + _DR[a], pos % cols + _DC[a]
            if 0 <= nr < rows and 0 <= nc < cols:
                cell = nr * cols + nc
                for q in range(cell_ids.shape[1]):
                    _emit(i, cell_ids[cell, q], ints, tokens)
                _visit(i, cell, state)
            else:  # the grid border is a wall
                ints[i, VIOL + _WALL] += 1
        else:
            _emit(i, a, ints, tokens)
            if coords:
                num, pending = token_table[a, 1], ints[i, PENDING]
                if num < 0:
                    ints[i, VIOL + _INVALID] += 1
                    ints[i, PENDING] = -1
                elif pending < 0:
                    ints[i, PENDING] = num
                else:
                    ints[i, PENDING] = -1
                    if pending < rows and num < cols:
                        _visit(i, pending * cols + num, state)
                    else:
                        ints[i, VIOL + _INVALID] += 1
            else:
                cell = token_table[a, 0]
                if cell < 0:
                    ints[i, VIOL + _INVALID] += 1
                else:
                    _visit(i, cell, state)
        ints[i, STEPS] += 1
        total = _count(ints, i, STEP_KINDS)
        if terminate and total > before:
            ended = True
        success = ended and total == 0 and ints[i, POS] == ints[i, TARGET] and ints[i, PENDING] < 0
        ints[i, SUCCESS] = success
        rewards[i] = -step_cost - penalty * (total - before) + (success_reward if success else 0.0)
        terminated[i] = ended
        truncated[i] = (not ended) and ints[i, STEPS] >= max_steps
        if (ended or truncated[i]) and not stopped:
            ints[i, VIOL + _NO_END] = 1
        _update_mask(i, state, tables)
    return -1


@kernel
def _gather_infos(ints, cols, position, counts, optimal, success):
    """The per-episode info arrays in one pass: (row, col), violations by kind, optimal length,
    success flag."""
    for i in range(ints.shape[0]):
        success[i] = ints[i, SUCCESS] != 0
        position[i, 0], position[i, 1] = ints[i, POS] // cols, ints[i, POS] % cols
        for k in range(counts.shape[0]):
            counts[k, i] = ints[i, VIOL + k]
        optimal[i] = ints[i, OPTIMAL]
