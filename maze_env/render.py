"""Drawing mazes and rollouts: RGB frames (numpy only, headless), ANSI text, a pygame window and
animated GIFs.

``rgb_frame`` and ``ansi_frame`` take plain data (a ``Maze``, endpoints, the path so far), so
they draw any episode, not only a live env's.  pygame and Pillow are imported only when a window
or a GIF is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from maze_env.files import write_file
from maze_env.maze import Coord, Maze

COLORS = {
    "background": (250, 250, 250),
    "wall": (30, 30, 30),
    "inactive": (190, 190, 190),
    "origin": (130, 205, 130),
    "target": (240, 130, 120),
    "path": (60, 110, 220),
    "violation": (225, 40, 30),
    "position": (20, 20, 110),
}


def optional_import(module: str, extra: str):
    """Import an optional dependency, or fail with the pip extra that installs it."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as err:
        raise ImportError(
            f"{module} is needed for this; install it with `pip install tokenmaze[{extra}]`"
        ) from err


def rgb_frame(
    maze: Maze,
    origin: Coord,
    target: Coord,
    path: Sequence[Coord] = (),
    bad: Sequence[bool] = (),
    violations: dict[str, int] | None = None,
    cell_px: int = 24,
) -> np.ndarray:
    """An ``(H, W, 3) uint8`` picture: walls, origin (green), target (red), the path so far (blue;
    a move that broke a rule in red), the current cell (dark square); a red frame if any
    ``invalid_token`` was emitted.  ``bad[j]`` flags the move into ``path[j]``."""
    rows, cols = maze.shape
    cp, w = cell_px, max(2, cell_px // 8)
    img = np.empty((rows * cp + w, cols * cp + w, 3), np.uint8)
    img[:] = COLORS["background"]

    def fill(r: int, c: int, color: str, inset: int = 0) -> None:
        img[
            r * cp + w + inset : (r + 1) * cp - inset, c * cp + w + inset : (c + 1) * cp - inset
        ] = COLORS[color]

    for r, c in zip(*np.nonzero(~maze.active_cells), strict=True):
        fill(r, c, "inactive")
    fill(*origin, "origin", w)
    fill(*target, "target", w)
    conn = maze.connections
    for r, c in zip(*np.nonzero(~conn[0, :-1, :]), strict=True):  # wall below (r, c)
        img[(r + 1) * cp : (r + 1) * cp + w, c * cp : (c + 1) * cp + w] = COLORS["wall"]
    for r, c in zip(*np.nonzero(~conn[1, :, :-1]), strict=True):  # wall right of (r, c)
        img[r * cp : (r + 1) * cp + w, (c + 1) * cp : (c + 1) * cp + w] = COLORS["wall"]
    border = "violation" if violations and violations.get("invalid_token", 0) else "wall"
    img[:w], img[-w:], img[:, :w], img[:, -w:] = (COLORS[border],) * 4

    half = max(1, cp // 10)
    centers = [(r * cp + (cp + w) // 2, c * cp + (cp + w) // 2) for r, c in path]
    for j in range(1, len(centers)):
        color = COLORS["violation" if j < len(bad) and bad[j] else "path"]
        (y0, x0), (y1, x1) = centers[j - 1], centers[j]
        if y0 == y1 or x0 == x1:  # straight: one rectangle
            img[
                min(y0, y1) - half : max(y0, y1) + half + 1,
                min(x0, x1) - half : max(x0, x1) + half + 1,
            ] = color
        else:  # a diagonal jump: stamp along the line
            steps = max(abs(y1 - y0), abs(x1 - x0)) // max(1, half) + 1
            for y, x in zip(
                np.linspace(y0, y1, steps).astype(int),
                np.linspace(x0, x1, steps).astype(int),
                strict=True,
            ):
                img[y - half : y + half + 1, x - half : x + half + 1] = color
    if centers:
        y, x = centers[-1]
        q = max(2, cp // 5)
        img[y - q : y + q + 1, x - q : x + q + 1] = COLORS["position"]
    return img


def ansi_frame(
    maze: Maze,
    origin: Coord,
    target: Coord,
    path: Sequence[Coord] = (),
    bad: Sequence[bool] = (),
    violations: dict[str, int] | None = None,
    tokens: Sequence[str] | None = None,
) -> str:
    """Text picture: ``#`` walls, ``O`` origin, ``T`` target, ``.`` path, ``x`` a cell entered by
    a move that broke a rule, ``@`` the current cell; then the violations and the emitted tokens."""
    marks: dict[Coord, str] = {}
    for j, cell in enumerate(path):
        marks[cell] = "x" if j < len(bad) and bad[j] else "."
    marks[tuple(origin)] = "O"
    marks[tuple(target)] = "T"
    if path:
        marks[tuple(path[-1])] = "@"
    lines = [maze.ascii(marks)]
    broken = {k: v for k, v in (violations or {}).items() if v}
    lines.append("violations: " + (", ".join(f"{k}={v}" for k, v in broken.items()) or "none"))
    if tokens is not None:
        start = tokens.index("<PATH_START>") if "<PATH_START>" in tokens else len(tokens)
        lines.append("path tokens: " + " ".join(tokens[start + 1 :]))
    return "\n".join(lines) + "\n"


class Window:
    """A pygame window showing RGB frames; the display starts on the first ``show``."""

    def __init__(self, title: str = "TokenMaze", fps: int = 4, scale: int = 2):
        self.title, self.fps, self.scale = title, fps, scale
        self._screen = None
        self._clock = None

    def show(self, frame: np.ndarray) -> None:
        pygame = optional_import("pygame", "render")
        size = (frame.shape[1] * self.scale, frame.shape[0] * self.scale)
        if self._screen is None or self._screen.get_size() != size:
            pygame.display.init()
            pygame.display.set_caption(self.title)
            self._screen = pygame.display.set_mode(size)
            self._clock = pygame.time.Clock()
        pygame.event.pump()
        surface = pygame.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
        self._screen.blit(pygame.transform.scale(surface, size), (0, 0))
        pygame.display.flip()
        self._clock.tick(self.fps)

    def close(self) -> None:
        """Close the window (safe to call twice, or before anything was shown)."""
        if self._screen is not None:
            import pygame

            pygame.display.quit()
            self._screen = self._clock = None


def write_gif(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: float = 4) -> Path:
    """Write RGB frames as a looping animated GIF (atomically: temp file + ``os.replace``)."""
    if len(frames) == 0:
        raise ValueError("frames is empty: nothing to write")
    image = optional_import("PIL.Image", "render")
    path = Path(path)
    pictures = [image.fromarray(np.asarray(f, np.uint8)) for f in frames]

    def write(tmp: str) -> None:
        pictures[0].save(
            tmp, format="GIF", save_all=True, append_images=pictures[1:],
            duration=max(1, round(1000 / fps)), loop=0,
        )  # fmt: skip

    return write_file(path, write, ".gif")


def record_gif(
    env, path: str | os.PathLike, policy=None, seed: int | None = 0, fps: float = 4
) -> Path:
    """Roll out one episode of ``env`` (``render_mode="rgb_array"``) and write it as a GIF.

    ``policy`` is ``policy(obs, info) -> action`` or an agent with ``reset(obs, info)`` and
    ``act(obs, info)``; by default a uniformly random legal action (seeded by ``seed``).
    """
    if env.render_mode != "rgb_array":
        raise ValueError(
            f"record_gif needs an env made with render_mode='rgb_array', got {env.render_mode!r}"
        )
    obs, info = env.reset(seed=seed)
    act: Callable
    if policy is None:
        rng = np.random.default_rng(seed)
        act = lambda o, i: int(rng.choice(np.flatnonzero(i["action_mask"])))  # noqa: E731
    elif hasattr(policy, "act"):
        policy.reset(obs, info)
        act = policy.act
    else:
        act = policy
    frames = [env.render()]
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(act(obs, info))
        frames.append(env.render())
        done = terminated or truncated
    return write_gif(frames, path, fps)
