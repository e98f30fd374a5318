"""Failure GIFs: captioned rollouts of failed episodes that show how the agent failed.

Each GIF opens with a caption (agent, condition, episode seed, the kind of failure) and draws
the walk step by step over ``maze_env.render.rgb_frame``: moves coloured from blue (early) to
magenta (late), a move walked again drawn beside its first pass, cells visited more than once
badged with their visit count, moves through walls or jumps in red.  Per agent it picks failures
of different kinds, and only walks of at least two moves (a give-up at the origin shows
nothing).  Needs pillow.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from maze_env import EnvConfig, Maze
from maze_env.files import write_file
from maze_env.judge import walk

MIN_CELLS = 3  # a walk of fewer cells shows nothing worth a GIF
MAX_FRAMES = 40  # a longer walk advances several moves per frame
EARLY, LATE = np.array([40, 90, 220]), np.array([215, 40, 170])


def failure_kind(metrics: dict) -> str:
    """A few words for how a failed episode failed, from its metrics."""
    v = metrics["violations"]
    if v["wall_crossing"]:
        return "walked through a wall"
    if v["non_adjacent_jump"]:
        return "jumped to a cell that is not adjacent"
    if v["invalid_token"]:
        return "emitted an invalid token"
    returns = v["backtrack"] + v["revisit"]
    if metrics["target_reached"]:
        if returns:
            return f"reached the target after {returns} return(s) over its own path"
        if v["no_path_end"]:
            return "reached the target but never closed the path"
        return "reached the target the long way"
    if v["no_path_end"]:
        return "never closed the path (truncated)"
    if returns:
        return f"went back over its path {returns} time(s) and stopped short"
    return "stopped short of the target"


def _maze(e: dict) -> Maze:
    return Maze.from_hex(e["shape"], e["maze"])


def _frames(maze: Maze, origin, target, path, caption: list[str]) -> list:
    from PIL import Image, ImageDraw, ImageFont

    from maze_env.render import rgb_frame

    rows, cols = maze.shape
    cp = max(28, 360 // max(rows, cols))
    band = 16 * len(caption) + 18
    font = ImageFont.load_default(size=12)
    small = ImageFont.load_default(size=max(9, cp // 4))
    moves = len(path) - 1
    stride = max(1, -(-moves // MAX_FRAMES))  # long walks: several moves per frame

    def centre(cell, lane: int = 0):
        return (cell[1] * cp + cp / 2 + lane * 4, cell[0] * cp + cp / 2 + lane * 4 + band)

    canvas = Image.new("RGB", (cols * cp + max(2, cp // 8), rows * cp + max(2, cp // 8) + band),
                       (255, 255, 255))  # fmt: skip
    canvas.paste(Image.fromarray(rgb_frame(maze, origin, target, cell_px=cp)), (0, band))
    lines = ImageDraw.Draw(canvas)
    for k, text in enumerate(caption):
        lines.text((4, 3 + 16 * k), text, fill=(0, 0, 0) if k < 2 else (140, 0, 0), font=font)
    passes: Counter = Counter()
    visits = Counter([path[0]])
    frames = []
    for m in range(1, moves + 1):
        a, b = path[m - 1], path[m]
        edge = frozenset((a, b))
        lane = passes[edge]
        passes[edge] += 1
        visits[b] += 1
        t = (m - 1) / max(1, moves - 1)
        color = tuple(int(c) for c in EARLY + t * (LATE - EARLY))
        if not maze.connected(a, b):
            color = (225, 30, 30)
        lines.line([centre(a, lane), centre(b, lane)], fill=color, width=max(3, cp // 9))
        if m % stride and m != moves:
            continue
        img = canvas.copy()
        draw = ImageDraw.Draw(img)
        draw.text((4, 3 + 16 * len(caption)), f"step {m}/{moves}", fill=(60, 60, 60), font=font)
        for (r, c), n in visits.items():
            if n > 1:  # a badge with the visit count in the cell's corner
                x, y = c * cp + 3, r * cp + band + 3
                draw.rectangle([x, y, x + cp // 2, y + cp // 3], fill=(255, 200, 120))
                draw.text((x + 1, y), f"x{n}", fill=(120, 40, 0), font=small)
        x, y = centre(b)
        r = cp // 6
        draw.rectangle([x - r, y - r, x + r, y + r], fill=(20, 20, 110))
        frames.append(img)
    return frames


def _write(frames: list, path: Path, fps: float) -> None:
    """An animated GIF of PIL frames, all mapped onto one palette (that of the last frame, which
    holds every colour drawn): one quantization instead of one per frame."""
    from PIL import Image

    palette = frames[-1].quantize(method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    pictures = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    write_file(
        path,
        lambda tmp: pictures[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=pictures[1:],
            duration=round(1000 / fps),
            loop=0,
        ),
        ".gif",
    )


def pick_failures(cells: list[dict], per_agent: int) -> dict[str, list[tuple[dict, dict]]]:
    """Per agent, failures of distinct kinds first (longest walk of each kind), in plan order."""
    by_agent: dict[str, dict[str, tuple[dict, dict, int]]] = defaultdict(dict)
    for cell in cells:
        for e in cell["episodes"]:
            if e["metrics"]["success"]:
                continue
            kind = failure_kind(e["metrics"])
            steps = e["metrics"]["path_length"]
            best = by_agent[cell["agent"]].get(kind)
            if steps + 1 >= MIN_CELLS and (best is None or steps > best[2]):
                by_agent[cell["agent"]][kind] = (cell, e, steps)
    return {
        agent: [(c, e) for c, e, _ in sorted(kinds.values(), key=lambda t: -t[2])[:per_agent]]
        for agent, kinds in by_agent.items()
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", text).strip("_")[:60] or "_"


def write_failure_gifs(
    cells: list[dict], results: dict, out_dir: Path, per_agent: int = 2
) -> list[str]:
    """Up to ``per_agent`` captioned failure GIFs per agent into ``out_dir`` (see module doc)."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        return []
    schemes = {c["name"]: EnvConfig.from_dict(c["env"]).scheme for c in results["conditions"]}
    files = []
    for agent, picks in pick_failures(cells, per_agent).items():
        for cell, e in picks:
            maze, origin, target = _maze(e), tuple(e["origin"]), tuple(e["target"])
            path = walk(maze, origin, e["tokens"], schemes[cell["condition"]]).path
            caption = [
                f"{agent} · {cell['condition']}",
                f"episode {e['index']}, seed {e['seed']}",
                failure_kind(e["metrics"]),
            ]
            frames = _frames(maze, origin, target, path, caption)
            name = f"{_slug(agent)}__{_slug(cell['condition'])}__ep{e['index']}.gif"
            out_dir.mkdir(parents=True, exist_ok=True)
            _write(frames + frames[-1:] * 4, out_dir / name, fps=3)
            files.append(f"gifs/{name}")
    return files
