"""Transformer speed, as ratios measured in one run (absolute times are machine noise).

    python -m benchmarks speed transformer [--quick]

1. training sequences/s: TokenMaze's GPT vs a TransformerLens-native model of the same shape
   (``TransformerBridge.boot_native``), same plain 6x6 sequences, same optimizer (target ≥ 3×);
2. training paths/s: shared-prefix packing vs plain sequences, same model (target ≥ 3×), and
   query rows of 64 tokens vs all of a maze's queries in one row (attention over the whole row);
3. greedy decoding mazes/s: KV cache vs full recompute each step (target ≥ 10×);
4. training tokens/s per device (``--device``, default cuda where there is one): the real
   training step (``Trainer.train_step``, batch generation included) of the shipped 6x6 shape,
   fp32 eager, and on CUDA bf16 autocast and bf16 + torch.compile against it.

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
from agents.transformer.train import TrainConfig, Trainer, loss_on
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


def device_throughput(device: str, seconds: float) -> None:
    """Print training tokens/s (non-pad tokens through the model) of the shipped 6x6 shape on
    ``device``, and the share of a step that generating its batch takes."""
    shape = {"d_model": 128, "n_layers": 8, "n_heads": 4, "d_mlp": 512, "n_ctx": 256}
    data = DataConfig(queries_per_maze=16)
    pad = data.vocab.pad_id
    batches = [training_batch(data, 12, np.random.default_rng([0, t]))[0] for t in range(8)]
    tokens = np.mean([int((b.prefix != pad).sum() + (b.queries != pad).sum()) for b in batches])

    def trainer(**kw) -> Work:
        cfg = TrainConfig(model=shape, data=data.to_dict(), batch_mazes=12, eval_size=1, **kw)
        t = Trainer(cfg, ".", "")  # never writes: train_step only
        return lambda: (t.train_step(), 1)[1]

    variants = [("fp32 eager", {})]
    if device.startswith("cuda"):
        bf16 = {"precision": "bf16"}
        variants += [
            ("bf16 autocast", bf16),
            ("bf16 + torch.compile", {**bf16, "compile": "inductor"}),
        ]
    steps = [rate(trainer(device=device, **kw), seconds, warmup=3) for _, kw in variants]
    data_rate = rate(lambda: (training_batch(data, 12, np.random.default_rng(1)), 1)[1], seconds)
    print(f"\ntraining tokens/s per device ({device}, 8 layers, d_model 128, 12 mazes x 16 paths):")
    for (name, _), r in zip(variants, steps):
        print(f"  {name:22s} {r * tokens:10.0f} tokens/s {r:6.2f} steps/s {r / steps[0]:5.2f}x")
    print(
        f"  generating the batch: {steps[0] / data_rate:.0%} of an fp32 step (each DDP rank does)"
    )


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
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="device of the tokens/s rows (default: cuda where there is one)",
    )
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
    device_throughput(args.device, seconds)


if __name__ == "__main__":
    main()
