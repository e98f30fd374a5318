"""TransformerLens's own analysis functions on the shipped model, and the TL 4 converter.

Every check runs TL's function and compares it with the same quantity computed by hand from
our model (or our interp toolkit), so a wrong config name, hook or weight layout shows up as a
wrong number, not only as a crash.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from transformer_lens import ActivationCache, SVDInterpreter, patching
from transformer_lens.head_detector import detect_head

import agents
import agents.transformer as transformer
import maze_env
from agents.transformer import tl_bridge
from agents.transformer.decode import generate as decode_generate
from agents.transformer.interp.lens import unembed
from agents.transformer.interp.prompts import residuals
from agents.transformer.model import GPT, GPTConfig
from agents.transformer.policy import SHIPPED

ATOL = 1e-4


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model() -> GPT:
    return agents.make("transformer").model


def solved(size: int, seed: int) -> list[str]:
    maze = maze_env.generate("rdfs", (size, size), seed=seed)
    origin, target = maze_env.sample_endpoints(maze, seed=seed, min_distance=2)
    return maze_env.tokenize(maze, origin, target, maze.shortest_path(origin, target), seed=seed)


def prompt(tokens: list[str]) -> list[str]:
    return tokens[: tokens.index("<PATH_START>") + 2]  # up to and with the origin


@pytest.fixture(scope="module")
def run(model):
    tokens = model.to_tokens(" ".join(solved(6, 0)))
    logits, cache = model.run_with_cache(tokens)
    return tokens, logits, cache


def test_run_with_cache_is_an_activation_cache_with_tl_names(model, run):
    tokens, logits, cache = run
    assert isinstance(cache, ActivationCache)
    assert torch.equal(cache["resid_pre", 0], cache["blocks.0.hook_resid_pre"])
    for name in ("blocks.3.ln1.hook_scale", "ln_final.hook_scale", "blocks.0.attn.hook_rot_q",
                 "blocks.7.attn.hook_rot_k", "blocks.2.ln2.hook_normalized"):  # fmt: skip
        assert name in cache.cache_dict, name
    assert "blocks.0.attn.hook_result" not in cache.cache_dict  # off by default
    with torch.no_grad():
        assert torch.allclose(logits, model(tokens), atol=ATOL)
    scale = cache["blocks.3.ln1.hook_scale"]
    assert torch.allclose(scale[..., 0], cache["resid_pre", 3].std(-1, unbiased=False), atol=1e-4)


def test_shipped_checkpoint_keys_and_config_are_unchanged(model):
    with safe_open(SHIPPED / "model.safetensors", "pt") as f:
        assert sorted(f.keys()) == sorted(model.state_dict())
    saved = json.loads((SHIPPED / "config.json").read_text())["model"]
    shape = model.cfg.to_dict()
    assert {k: shape[k] for k in saved} == saved and GPTConfig(**shape) == model.cfg
    assert not {"device", "use_attn_result"} & set(shape)  # runtime switches are not saved


def test_accumulated_resid_and_apply_ln_match_the_layernorms(model, run):
    tokens, logits, cache = run
    stack = cache.accumulated_resid(apply_ln=True)  # final LayerNorm, recomputed per layer
    with torch.no_grad():
        assert torch.allclose(model.unembed(stack[-1]), logits, atol=ATOL)
        ours = residuals(model, tokens[0].numpy())  # our toolkit: embed, then after each layer
    assert torch.allclose(cache.accumulated_resid()[:, 0], ours, atol=ATOL)
    for layer in (0, 3, 7):  # mid-layer: the cached ln1 scale of that layer
        mid = cache.accumulated_resid(layer=layer, apply_ln=True)[-1]
        ln = model.blocks[layer].ln1
        assert torch.allclose(mid * ln.w + ln.b, cache[f"blocks.{layer}.ln1.hook_normalized"],
                              atol=ATOL)  # fmt: skip
    stack = cache.apply_ln_to_stack(cache["resid_mid", 5][None], layer=5, mlp_input=True)
    ln = model.blocks[5].ln2
    assert torch.allclose(stack[0] * ln.w + ln.b, cache["blocks.5.ln2.hook_normalized"], atol=ATOL)


def test_decompositions_sum_to_the_residual_stream(model, run):
    _, _, cache = run
    final = cache["resid_post", -1]
    parts, labels = cache.decompose_resid(return_labels=True)
    assert labels[:3] == ["embed", "0_attn_out", "0_mlp_out"] and len(labels) == 17
    assert torch.allclose(parts.sum(0), final, atol=ATOL)
    last = slice(-3, None)  # every neuron's output: [4130, batch, pos, d_model] on 3 positions
    full, labels = cache.get_full_resid_decomposition(return_labels=True, pos_slice=last)
    n = model.cfg.n_layers
    assert len(labels) == n * model.cfg.n_heads + n * model.cfg.d_mlp + 2  # + embed, bias
    assert torch.allclose(full.sum(0), final[:, last], atol=ATOL)
    heads = cache.stack_head_results(layer=1)
    assert torch.allclose(heads.sum(0) + model.blocks[0].attn.b_O, cache["attn_out", 0], atol=ATOL)


def test_logit_attrs_is_the_frozen_scale_readout(model, run):
    tokens, _, cache = run
    parts = cache.decompose_resid()
    target = tokens[0, 1:]
    attrs = cache.logit_attrs(parts[:, :, :-1], target, pos_slice=slice(None, -1))
    x = cache["resid_post", -1][0, :-1]
    centred = (x - x.mean(-1, keepdim=True)) / cache["ln_final.hook_scale"][0, :-1]
    by_hand = (centred * model.W_U[:, target].T).sum(-1)
    assert torch.allclose(attrs.sum(0)[0], by_hand, atol=ATOL)
    direction = model.tokens_to_residual_directions("<PATH_END>")
    assert torch.equal(direction, model.W_U[:, model.to_single_token("<PATH_END>")])


def test_logit_lens_is_ours(model, run):
    tokens, logits, cache = run
    path = slice(-12, None)  # the path tokens and a few before
    result = cache.logit_lens(positions=path)
    assert result.labels[-1] == "final_post" and len(result.labels) == model.cfg.n_layers + 1
    ours = unembed(model, residuals(model, tokens[0].numpy()))  # our toolkit's logit lens
    assert torch.allclose(result.values[:, 0], ours[:, path], atol=ATOL)
    assert torch.allclose(result.values[-1], logits[:, path], atol=ATOL)


@pytest.fixture(scope="module")
def pair(model):
    """Clean and corrupted 2x2 prompts of equal length (another target), short for patching."""
    maze = maze_env.generate("rdfs", (2, 2), seed=3)
    clean = maze_env.tokenize(maze, (0, 0), (1, 1), seed=0)
    corrupt = maze_env.tokenize(maze, (0, 0), (1, 0), seed=0)
    return model.to_tokens(" ".join(clean)), model.to_tokens(" ".join(corrupt))


def _metric(model):
    token = model.to_single_token("(1,1)")
    return lambda logits: logits[:, -1, token].mean()


def _hand_patch(model, corrupt, hook_name, write):
    def hook(act, hook):
        act = act.clone()
        write(act)
        return act

    with torch.no_grad():
        return _metric(model)(model.run_with_hooks(corrupt, fwd_hooks=[(hook_name, hook)]))


def test_patching_resid_pre_equals_a_hand_patch(model, pair):
    clean, corrupt = pair
    _, cache = model.run_with_cache(clean)
    with torch.no_grad():
        result = patching.get_act_patch_resid_pre(model, corrupt, cache, _metric(model))
    assert result.shape == (model.cfg.n_layers, clean.shape[1])
    for layer, pos in ((0, 3), (4, clean.shape[1] - 4), (7, clean.shape[1] - 1)):
        clean_act = cache["resid_pre", layer][:, pos]

        def write(act, pos=pos, clean_act=clean_act):
            act[:, pos] = clean_act

        hand = _hand_patch(model, corrupt, f"blocks.{layer}.hook_resid_pre", write)
        assert abs(float(result[layer, pos]) - float(hand)) < ATOL


def test_patching_head_out_by_pos_equals_a_hand_patch(model, pair):
    clean, corrupt = pair
    _, cache = model.run_with_cache(clean)
    cells = [(1, clean.shape[1] - 1, 2), (6, 5, 0), (7, clean.shape[1] - 1, 3)]
    index = pd.DataFrame(cells, columns=["layer", "pos", "head"])  # these cells only: fast
    with torch.no_grad():
        result = patching.get_act_patch_attn_head_out_by_pos(
            model, corrupt, cache, _metric(model), index_axis_names=None, index_df=index
        )
    assert result.shape == (len(cells),)
    for (layer, pos, head), value in zip(cells, result):
        clean_z = cache["z", layer][:, pos, head]

        def write(act, pos=pos, head=head, clean_z=clean_z):
            act[:, pos, head] = clean_z

        hand = _hand_patch(model, corrupt, f"blocks.{layer}.attn.hook_z", write)
        assert abs(float(value) - float(hand)) < ATOL


def test_head_detector_scores_our_patterns(model):
    text = " ".join(prompt(solved(3, 1)))
    scores = detect_head(model, text, "previous_token_head")
    _, cache = model.run_with_cache(model.to_tokens(text), remove_batch_dim=True)
    for layer, head in ((0, 0), (5, 3)):
        pattern = cache["pattern", layer][head]
        by_hand = pattern.diagonal(-1).sum() / pattern.sum()  # attention on the previous token
        assert abs(float(scores[layer, head]) - float(by_hand)) < 1e-5


def test_svd_interpreter_reads_our_weights(model):
    vectors = SVDInterpreter(model).get_singular_vectors("OV", layer_index=2, head_index=1)
    assert vectors.shape == (model.cfg.d_vocab, 1, 10)
    _, _, vh = torch.linalg.svd(model.W_V[2, 1] @ model.W_O[2, 1])
    top = model.W_U.T @ vh[0]  # the top right-singular direction, read out by W_U
    assert abs(torch.nn.functional.cosine_similarity(vectors[:, 0, 0], top, 0)) > 0.999
    w_in = SVDInterpreter(model).get_singular_vectors("w_in", layer_index=1, num_vectors=3)
    assert w_in.shape == (model.cfg.d_vocab, 1, 3)


@settings(max_examples=15, deadline=None)
@given(size=st.integers(1, 6), seed=st.integers(0, 10**6))
def test_to_tokens_round_trips_the_maze_vocabulary(model, size, seed):
    tokens = solved(size, seed) if size > 1 else maze_env.tokenize(
        maze_env.generate("rdfs", (1, 2), seed=seed), (0, 0), (0, 1), seed=seed
    )  # fmt: skip
    ids = model.to_tokens(" ".join(tokens))
    assert ids.shape == (1, len(tokens))
    assert np.array_equal(ids[0].numpy(), model.vocab.encode(tokens))
    assert model.to_str_tokens(ids) == tokens and model.to_string(ids[0]) == " ".join(tokens)


def test_to_tokens_pads_on_the_right_and_says_what_cannot_apply(model):
    short, long = prompt(solved(2, 0)), prompt(solved(3, 0))
    ids = model.to_tokens([" ".join(short), long])
    assert ids.shape == (2, len(long))
    assert model.to_str_tokens(ids[0])[len(short) :] == ["<PADDING>"] * (len(long) - len(short))
    with torch.no_grad():  # right padding leaves the real tokens' logits alone
        alone = model(model.to_tokens(" ".join(short)))
        assert torch.allclose(model(ids)[0, : len(short)], alone[0], atol=1e-5)
    with pytest.raises(ValueError, match="no BOS"):
        model.to_tokens("(0,0)", prepend_bos=True)
    with pytest.raises(maze_env.TokenError, match="nosuch"):
        model.to_tokens("(0,0) nosuch")
    with pytest.raises(ValueError, match="not the size of a TokenMaze vocabulary"):
        GPT(GPTConfig(vocab_size=50, d_model=8, n_layers=1, n_heads=2, d_mlp=8)).to_tokens("x")
    with pytest.raises(NotImplementedError, match="per-head attention-input"):
        model.set_use_split_qkv_input(True)
    model.set_use_split_qkv_input(False)  # what patching restores: allowed


def test_generate_is_our_kv_cache_decoding(model):
    tokens = solved(6, 4)
    text = " ".join(prompt(tokens))
    out = model.generate(text, max_new_tokens=40)
    ids = model.vocab.encode(prompt(tokens))
    pad, end = model.vocab.pad_id, model.vocab.index["<PATH_END>"]
    ours = decode_generate(model, [ids], end, 40, pad)[0]
    assert out == " ".join(model.to_str_tokens(np.concatenate([ids, ours])))
    assert out.endswith("<PATH_END>") and out == " ".join(tokens)  # the shipped model solves it
    batch = model.generate(model.to_tokens([text, text]), max_new_tokens=3, stop_at_eos=False)
    assert batch.shape == (2, len(ids) + 3) and torch.equal(batch[0], batch[1])


def test_use_attn_result_caches_each_heads_output(model, run):
    tokens, logits, _ = run
    model.set_use_attn_result(True)
    try:
        assert model.cfg.use_attn_result and model.blocks[0].attn.cfg.use_attn_result
        out, cache = model.run_with_cache(tokens)
    finally:
        model.set_use_attn_result(False)
    result = cache["result", 4]  # [b, p, h, d_model]
    assert result.shape[-2:] == (model.cfg.n_heads, model.cfg.d_model)
    assert torch.allclose(result.sum(2) + model.blocks[4].attn.b_O, cache["attn_out", 4], atol=1e-5)
    assert torch.allclose(out, logits, atol=ATOL)
    assert not model.cfg.use_attn_result


def test_hook_points_are_identities(model, run):
    tokens, _, _ = run
    with torch.no_grad():
        plain = model(tokens)
        hooked = model.run_with_hooks(
            tokens, fwd_hooks=[(lambda name: True, lambda act, hook: act)]
        )  # every hook active, hence the explicit attention and LayerNorm paths
    assert torch.allclose(plain, hooked, atol=ATOL)


def test_cfg_device_follows_the_model():
    model = GPT(GPTConfig(vocab_size=54, d_model=8, n_layers=1, n_heads=2, d_mlp=8))
    assert model.cfg.device == "cpu"
    model.to("meta")
    assert model.cfg.device == "meta" and model.blocks[0].attn.cfg.device == "meta"


# ------------------------------------------------------------------ the TL 4 converter
def test_converter_matches_the_shipped_model(model, run):
    tokens, _, cache = run
    bridge = transformer.to_transformer_lens(model)
    with torch.no_grad():
        theirs = bridge(tokens)
        assert (theirs - model(tokens)).abs().max() < ATOL
    _, their_cache = bridge.run_with_cache(tokens)
    for name in ("blocks.4.hook_resid_pre", "blocks.2.attn.hook_pattern", "blocks.6.mlp.hook_post"):
        assert torch.allclose(their_cache[name], cache[name], atol=ATOL), name
    order = tl_bridge.rotary_order(model.cfg.d_head)
    for name in ("blocks.3.attn.hook_q", "blocks.5.attn.hook_k"):  # q/k in TL's rotary order
        assert torch.allclose(their_cache[name], cache[name][..., order], atol=ATOL), name
    ours = cache.accumulated_resid(apply_ln=True)
    assert torch.allclose(their_cache.accumulated_resid(apply_ln=True), ours, atol=ATOL)


def test_converter_without_the_rotary_reorder_is_wrong(model, run, monkeypatch):
    """The regression the reorder fixes: our keys load strictly yet compute another function."""
    tokens, logits, _ = run
    monkeypatch.setattr(tl_bridge, "rotary_order", lambda d: torch.arange(d))
    with torch.no_grad():
        assert (tl_bridge.to_transformer_lens(model)(tokens) - logits).abs().max() > 1.0


@pytest.mark.parametrize("positional", ["learned", "none", "randomized"])
def test_converter_every_positional_scheme(positional):
    model = GPT(GPTConfig(vocab_size=54, d_model=32, n_layers=2, n_heads=4, d_mlp=64,
                          n_ctx=64, positional=positional), seed=1).eval()  # fmt: skip
    with torch.no_grad():  # a trained-like scale, so a wrong layout would show
        for p in model.parameters():
            p.mul_(5)
    tokens = model.to_tokens(" ".join(solved(3, 2)))
    with torch.no_grad():
        theirs, ours = transformer.to_transformer_lens(model)(tokens), model(tokens)
    assert (theirs - ours).abs().max() < ATOL < ours.std()
