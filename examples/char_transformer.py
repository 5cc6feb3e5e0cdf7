"""A small character-level transformer trained on the Zen of Python (the text of the
``this`` module, decoded from rot13: it ships with Python, nothing is downloaded).

One pre-norm block (causal multi-head attention + a gelu MLP, both residual), learned
token and position embeddings, AdamW with a linear warm-up then cosine decay, gradients
clipped to norm 1. Prints the loss and a greedy sample from the trained model.

    POLYGRAD_BACKEND=jax python examples/char_transformer.py --steps 300
"""
from __future__ import annotations

import argparse
import codecs
import contextlib
import io
import json
import time
from pathlib import Path

import numpy as np

import polygrad as pg
from polygrad.progress import Progress


def zen_of_python() -> str:
    with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the text
        import this
    return codecs.decode(this.s, "rot13")


class Block(pg.nn.Module):
    def __init__(self, dim: int, heads: int, rng):
        self.norm1, self.norm2 = pg.nn.LayerNorm(dim), pg.nn.LayerNorm(dim)
        self.attention = pg.nn.MultiHeadAttention(dim, heads, causal=True, rng=rng)
        self.mlp = pg.nn.MLP([dim, 4 * dim, dim], activation=pg.nn.gelu, rng=rng)

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class CharTransformer(pg.nn.Module):
    def __init__(self, vocab: int, context: int, dim: int, heads: int, layers: int, rng):
        self.tokens = pg.nn.Embedding(vocab, dim, rng=rng)
        self.positions = pg.nn.Embedding(context, dim, rng=rng)
        self.blocks = pg.nn.Sequential(*[Block(dim, heads, rng) for _ in range(layers)])
        self.norm = pg.nn.LayerNorm(dim)
        self.head = pg.nn.Linear(dim, vocab, rng=rng)

    def forward(self, indices):  # (batch, T) integers -> (batch, T, vocab) logits
        length = indices.shape[-1]
        x = 0.1 * (self.tokens(indices) + self.positions(np.arange(length)))
        return self.head(self.norm(self.blocks(x)))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--context", type=int, default=32)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--record", help="write the losses and step times to this JSON file")
    args = parser.parse_args(argv)

    text = zen_of_python()
    chars = sorted(set(text))
    encoded = np.asarray([chars.index(c) for c in text], dtype=np.int32)
    rng = np.random.default_rng(args.seed)
    on = pg.backend()
    model = CharTransformer(len(chars), args.context, args.dim, args.heads, args.layers, rng)
    schedule = pg.optim.cosine_decay(args.lr, max(args.steps, 2), warmup_steps=max(args.steps // 10, 1))
    optimizer = pg.optim.AdamW(model, lr=schedule, weight_decay=0.01)
    print(f"char transformer: {len(text)} characters, vocabulary {len(chars)}, "
          f"{sum(p.size for p in model.parameters())} parameters; backend {on.name}")

    losses, step_seconds = [], []
    with Progress(args.steps, desc="char transformer", quiet=args.quiet) as bar:
        for _ in range(args.steps):
            start = time.perf_counter()
            offsets = rng.integers(0, len(encoded) - args.context - 1, args.batch)
            windows = encoded[offsets[:, None] + np.arange(args.context + 1)]
            logits = model(on.asarray(windows[:, :-1]))
            loss = pg.nn.cross_entropy(logits, on.asarray(windows[:, 1:]))
            optimizer.zero_grad()
            loss.backward()
            pg.optim.clip_grad_norm(model, 1.0)
            optimizer.step()
            losses.append(loss.item())
            step_seconds.append(time.perf_counter() - start)
            bar.update(losses[-1])

    sample = list(encoded[: args.context])
    with pg.no_grad():
        for _ in range(60):  # greedy decoding from the text's first window
            logits = model(on.asarray(np.asarray(sample[-args.context:], dtype=np.int32)[None]))
            sample.append(int(np.argmax(logits.numpy()[0, -1])))
    final = float(np.mean(losses[-10:]))
    timed = step_seconds[len(step_seconds) // 5:] or step_seconds  # past the warm-up compiles
    print(f"{args.steps} steps: loss {losses[0]:.3f} -> {final:.3f} (mean of the last 10), "
          f"{np.median(timed) * 1e3:.1f} ms/step")
    print("sample:", repr("".join(chars[i] for i in sample[args.context:])))
    summary = {"backend": on.name, "steps": args.steps, "first_loss": losses[0], "final_loss": final,
               "median_step_ms": float(np.median(timed) * 1e3), "losses": losses}
    if args.record:
        Path(args.record).write_text(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
