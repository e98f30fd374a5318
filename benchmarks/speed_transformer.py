"""Transformer speed, as ratios measured in one run (absolute times are machine noise).

    python -m benchmarks speed transformer [--quick]

1. training sequences/s: TokenMaze's GPT vs a TransformerLens-native model of the same shape
   (``TransformerBridge.boot_native``), same plain 6x6 sequences, same optimizer (target ≥ 3×);
2. training paths/s: shared-prefix packing vs plain sequences, same model (target ≥ 3×), and
   query rows of 64 tokens vs all of a maze's queries in one row (attention over the whole row);
3. greedy decoding mazes/s: KV cache vs full recompute each step (target ≥ 10×).

It also prints both models' training FLOP/s as a share of the machine's dense matmul rate,
measured in the same run: the ceiling that bounds any training-speed ratio.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from agents.transformer.data import DataConfig, eval_set, training_batch
from agents.transformer.decode import generate
from agents.transformer.model import GPT, GPTConfig
from agents.transformer.train import loss_on
from benchmarks.timing import Work, best_rates, rate


def plain_sequences(data: DataConfig, n: int, seed: int) -> torch.Tensor:
    """n full 6x6 sequences (prefix + one query), left-padded, as one token tensor."""
    batch, _ = training_batch(
        DataConfig(**{**data.to_dict(), "queries_per_maze": 1}), n, np.random.default_rng(seed)
    )
    return torch.cat([batch.prefix, batch.queries], 1)


def train_step_fn(model: torch.nn.Module, tokens: torch.Tensor) -> Work:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> int:
        logits = model(tokens)
        loss = F.cross_entropy(logits[:, :-1].flatten(0, 1), tokens[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        return tokens.shape[0]

    return step


def training_flops_per_sequence(cfg: GPTConfig, tokens: int) -> float:
    """Model FLOPs of one training sequence (forward + backward), PaLM's count: 6 per weight
    (embeddings excluded, unembedding included) and 12 * layers * d_model * tokens per token for
    attention's score and mix products."""
    d = cfg.d_model
    weights = cfg.n_layers * (4 * d * d + 2 * d * cfg.d_mlp) + d * cfg.vocab_size
    return tokens * (6 * weights + 12 * cfg.n_layers * d * tokens)


def matmul_flops_per_second(seconds: float, n: int = 1024) -> float:
    """This machine's dense fp32 matmul rate (n x n @ n x n, same torch threads): the ceiling a
    training step's matmuls can approach."""
    a, b = torch.randn(n, n), torch.randn(n, n)

    def multiply() -> int:
        torch.mm(a, b)
        return 2 * n**3  # FLOPs

    return rate(multiply, seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks speed transformer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="short measurements (~1 minute in all)"
    )
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=128)
    args = parser.parse_args(argv)
    seconds = 4.0 if args.quick else 15.0
    data = DataConfig()
    shape = {
        "d_model": args.d_model,
        "n_layers": args.layers,
        "n_heads": 4,
        "d_mlp": 4 * args.d_model,
    }
    ours_cfg = GPTConfig(vocab_size=len(data.vocab), n_ctx=256, positional="learned", **shape)
    ours = GPT(ours_cfg)
    tokens = plain_sequences(data, 32, 0)
    rows = []

    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    tl_cfg = TransformerBridgeConfig(
        d_model=args.d_model, d_head=args.d_model // 4, n_layers=args.layers, n_ctx=256, n_heads=4,
        d_vocab=len(data.vocab), d_mlp=4 * args.d_model, act_fn="gelu", seed=0,
    )  # fmt: skip
    tl = TransformerBridge.boot_native(tl_cfg)
    ours_rate = rate(train_step_fn(ours, tokens), seconds)
    tl_rate = rate(train_step_fn(tl, tokens), seconds)
    rows.append(("training sequences/s vs TL-native", ours_rate, tl_rate, 3.0))

    packed, _ = training_batch(DataConfig(queries_per_maze=16), 12, np.random.default_rng(1))
    plain, _ = training_batch(DataConfig(queries_per_maze=1), 64, np.random.default_rng(1))
    opt = torch.optim.AdamW(ours.parameters(), lr=1e-4)

    def paths_step(batch, paths: int) -> Work:
        def step() -> int:
            loss = loss_on(ours, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return paths

        return step

    per_maze, _ = training_batch(  # the 16 queries in one row, attending to all of the row
        DataConfig(queries_per_maze=16), 12, np.random.default_rng(1), row_tokens=10**6
    )
    shared_rate, plain_rate, one_row_rate = best_rates(
        [paths_step(packed, 192), paths_step(plain, 64), paths_step(per_maze, 192)],
        3 * seconds,
        rounds=3,
    )
    rows.append(("training paths/s: shared prefix (K=16) vs plain", shared_rate, plain_rate, 3.0))
    rows.append(("  query rows of 64 tokens vs one row per maze", shared_rate, one_row_rate, 1.05))

    prompts = eval_set(data, 64, seed=7).prompts
    pad = data.vocab.pad_id

    def decode(use_cache: bool) -> Work:  # stop token -1: always 36 new tokens
        return lambda: len(generate(ours, prompts, -1, 36, pad, use_cache=use_cache))

    with torch.no_grad():
        cached, naive = rate(decode(True), seconds, 0), rate(decode(False), seconds, 0)
    rows.append(("greedy decoding mazes/s: KV cache vs recompute", cached, naive, 10.0))
    ceiling = matmul_flops_per_second(seconds)
    threads = torch.get_num_threads()
    print(f"model: {args.layers} layers, d_model {args.d_model}; torch threads {threads}")
    print(f"{'measure':52s} {'ours':>10s} {'reference':>10s} {'ratio':>7s} {'target':>7s}")
    for name, a, b, target in rows:
        flag = "ok" if a / b >= target else "MISSED"
        print(f"{name:52s} {a:10.1f} {b:10.1f} {a / b:6.2f}x {target:5.1f}x {flag}")
    per_seq = training_flops_per_sequence(ours_cfg, tokens.shape[1])
    print(
        f"\ntraining model FLOP/s as a share of this machine's dense fp32 matmul rate "
        f"({ceiling / 1e9:.0f} GFLOP/s):\n  ours {ours_rate * per_seq / ceiling:.0%}, "
        f"TL-native {tl_rate * per_seq / ceiling:.0%}; 3x TL-native would need "
        f"{3 * tl_rate * per_seq / ceiling:.0%}"
    )


if __name__ == "__main__":
    main()
