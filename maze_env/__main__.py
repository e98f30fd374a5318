"""Command line: ``python -m maze_env demo`` prints a maze with its tokens and shortest path;
``python -m maze_env play`` opens a pygame window to solve mazes with the arrow keys."""

from __future__ import annotations

import argparse
import sys

import maze_env
from maze_env.generators import GENERATORS
from maze_env.tokens import SCHEMES

KEY_ACTIONS = {"up": 0, "down": 1, "left": 2, "right": 3, "return": 4, "space": 4}
HELP_KEYS = "arrows move, Enter/Space stops (<PATH_END>), N new maze, Esc/Q quits"


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    try:
        return maze_env.normalize_shape(
            tuple(int(p) for p in parts) if len(parts) == 2 else int(text)
        )
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--size must be N or RxC, got {text!r}") from err


def demo(args: argparse.Namespace) -> None:
    maze = maze_env.generate(args.generator, args.size, seed=args.seed)
    origin, target = maze_env.sample_endpoints(maze, seed=args.seed)
    path = maze.shortest_path(origin, target)
    marks = {cell: "." for cell in path} | {origin: "O", target: "T"}
    print(f"{args.generator} maze {maze.shape[0]}x{maze.shape[1]}, seed {args.seed}")
    print(maze.ascii(marks))
    print(f"origin: {origin}   target: {target}")
    print(f"shortest path ({len(path) - 1} moves): {' '.join(map(str, path))}")
    print(f"tokens ({args.scheme}):")
    print(
        " ".join(maze_env.tokenize(maze, origin, target, path, scheme=args.scheme, seed=args.seed))
    )


def play(args: argparse.Namespace) -> None:
    from maze_env.env import TokenMazeMovesEnv
    from maze_env.render import optional_import

    pygame = optional_import("pygame", "render")
    env = TokenMazeMovesEnv(
        size=args.size, generator=args.generator, scheme=args.scheme, render_mode="human"
    )
    seed = args.seed
    env.reset(seed=seed)
    print(HELP_KEYS)
    try:
        while True:
            event = pygame.event.wait()
            if event.type == pygame.QUIT:
                return
            if event.type != pygame.KEYDOWN:
                continue
            key = pygame.key.name(event.key)
            if key in ("escape", "q"):
                return
            if key == "n":
                seed += 1
                env.reset(seed=seed)
            elif key in KEY_ACTIONS:
                _, reward, terminated, truncated, info = env.step(KEY_ACTIONS[key])
                if terminated or truncated:
                    verdict = "solved!" if info["success"] else f"not solved ({info['violations']})"
                    print(
                        f"maze {seed}: {verdict}  last reward {reward:+.2f}; press N for a new maze"
                    )
    finally:
        env.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m maze_env", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn, text in (
        ("demo", demo, "print a maze, its origin, target, shortest path and tokens"),
        ("play", play, f"solve mazes in a pygame window ({HELP_KEYS})"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--size", type=_size, default=(6, 6), help="maze size, N or RxC (default 6)")
        p.add_argument(
            "--generator", choices=sorted(GENERATORS), default="rdfs", help="maze generator"
        )
        p.add_argument("--scheme", choices=SCHEMES, default="aotp", help="token scheme")
        p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        p.set_defaults(func=fn)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main(sys.argv[1:])
