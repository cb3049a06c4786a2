"""The from-scratch model: config validation, transformers equivalence both ways, attention, dropout."""

import pytest
import torch
from transformers import BertConfig, BertForPreTraining, pipeline

from babybert import BabyBert, ModelConfig, load_checkpoint, save_checkpoint
from babybert.bert.checkpoint import to_hf_state_dict
from babybert.bert.model import Embeddings, read_positions

from .conftest import TINY_MODEL


@pytest.mark.parametrize("change, message", [
    (dict(hidden_size=30, num_attention_heads=4), "divisible"),
    (dict(hidden_size=0), "hidden_size must be at least 1"),
    (dict(num_hidden_layers=-1), "num_hidden_layers must be at least 1"),
    (dict(intermediate_size=2.5), "intermediate_size must be a whole number"),
    (dict(max_position_embeddings=4), "at least 8"),
])
def test_invalid_configs_are_rejected(change, message):
    with pytest.raises(ValueError, match=message):
        BabyBert(ModelConfig(**{**vars(TINY_MODEL), **change}))


def _inputs(vocab_size: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab_size, (3, 12), generator=g)
    ids[:, 0], ids[:, 11] = 2, 3
    types = torch.zeros_like(ids)
    types[:, 6:] = 1
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0  # one padded row
    return ids, types, mask


def test_our_checkpoint_loads_in_transformers_with_same_logits(checkpoint_dir):
    ours = load_checkpoint(checkpoint_dir).model
    theirs, info = BertForPreTraining.from_pretrained(checkpoint_dir, output_loading_info=True)
    assert info["missing_keys"] == set() or not info["missing_keys"]
    assert not info["unexpected_keys"] and not info["mismatched_keys"]
    theirs.eval()
    ids, types, mask = _inputs(ours.config.vocab_size)
    with torch.no_grad():
        a = ours(ids, types, mask)
        b = theirs(input_ids=ids, token_type_ids=types, attention_mask=mask)
    real = mask.bool()
    assert (a.mlm_logits - b.prediction_logits)[real].abs().max() <= 1e-4
    assert (a.nsp_logits - b.seq_relationship_logits).abs().max() <= 1e-4


def test_transformers_model_loads_in_ours_with_same_logits(tmp_path, trained):
    config = BertConfig(vocab_size=len(trained.tokenizer), hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=96, max_position_embeddings=40)
    torch.manual_seed(3)
    theirs = BertForPreTraining(config).eval()
    with torch.no_grad():  # a non-zero bias so a missed mapping would show
        theirs.cls.predictions.bias.normal_()
    theirs.save_pretrained(tmp_path)
    trained.tokenizer.save_pretrained(tmp_path)
    ours = load_checkpoint(tmp_path).model
    assert ours.config.num_hidden_layers == 3 and ours.config.hidden_size == 48
    ids, types, mask = _inputs(config.vocab_size, seed=1)
    with torch.no_grad():
        a = ours(ids, types, mask)
        b = theirs(input_ids=ids, token_type_ids=types, attention_mask=mask)
    assert (a.mlm_logits - b.prediction_logits)[mask.bool()].abs().max() <= 1e-4
    assert (a.nsp_logits - b.seq_relationship_logits).abs().max() <= 1e-4


def test_fill_mask_pipeline_runs_on_our_checkpoint(checkpoint_dir):
    fill = pipeline("fill-mask", model=str(checkpoint_dir), device="cpu")
    out = fill("every morning the cow says [MASK].")
    assert len(out) == 5 and abs(sum(o["score"] for o in out)) <= 1.0 + 1e-6
    assert out == sorted(out, key=lambda o: -o["score"])
    assert "moo" in [o["token_str"] for o in out]  # the tiny model has learned the sound


def test_masked_positions_only_gives_the_same_logits():
    torch.manual_seed(0)
    model = BabyBert(TINY_MODEL).eval()
    ids, types, mask = _inputs(TINY_MODEL.vocab_size)
    mlm_mask = torch.zeros_like(ids, dtype=torch.bool)
    mlm_mask[0, 3], mlm_mask[2, 7] = True, True
    with torch.no_grad():
        full = model(ids, types, mask).mlm_logits
        sparse = model(ids, types, mask, mlm_mask=mlm_mask).mlm_logits
    assert sparse.shape == (2, TINY_MODEL.vocab_size)
    torch.testing.assert_close(sparse, full[mlm_mask])


@pytest.mark.parametrize("multiple", [1, 4, 64])
def test_masked_rows_padded_to_a_multiple_give_the_same_logits_and_gradients(multiple):
    """Padding the masked rows (so bf16 kernels meet few shapes) changes nothing a step sees."""
    torch.manual_seed(0)
    model = BabyBert(TINY_MODEL).train()
    ids, types, mask = _inputs(TINY_MODEL.vocab_size)
    mlm_mask = torch.rand(ids.shape, generator=torch.Generator().manual_seed(1)) < 0.3
    grads = []
    for rows in (1, multiple):
        out = model(ids, types, mask, mlm_mask=mlm_mask, rows_multiple=rows)
        assert out.mlm_logits.shape == (int(mlm_mask.sum()), TINY_MODEL.vocab_size)
        out.mlm_logits.logsumexp(-1).sum().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
        model.zero_grad()
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], msg=name)


def test_last_layer_at_read_positions_only_gives_the_full_models_logits_and_gradients():
    """The last layer runs only at [CLS] and the masked positions: the logits, NSP logits and every
    gradient equal the full computation's, for rows with many, one or no masked positions."""
    torch.manual_seed(0)
    model = BabyBert(TINY_MODEL).eval()  # (no dropout, whose draws differ with the shape; gradients still flow)
    ids, types, mask = _inputs(TINY_MODEL.vocab_size)
    mlm_mask = torch.rand(ids.shape, generator=torch.Generator().manual_seed(2)) < 0.3
    mlm_mask &= mask.bool()
    mlm_mask[:, 0] = False
    mlm_mask[1] = False  # a row with nothing masked
    mlm_mask[2, :] = False
    mlm_mask[2, 4] = True
    runs = []
    for sparse in (False, True):
        out = model(ids, types, mask, mlm_mask=mlm_mask if sparse else None)
        logits = out.mlm_logits if sparse else out.mlm_logits[mlm_mask]
        (logits.logsumexp(-1).sum() + out.nsp_logits.square().sum()).backward()
        runs.append((logits.detach(), out.nsp_logits.detach(),
                     {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
        model.zero_grad()
    (full, full_nsp, full_grads), (part, part_nsp, part_grads) = runs
    torch.testing.assert_close(part, full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(part_nsp, full_nsp, atol=1e-5, rtol=1e-5)
    assert part_grads.keys() == full_grads.keys()
    for name in full_grads:
        torch.testing.assert_close(part_grads[name], full_grads[name], atol=1e-5, rtol=1e-4, msg=name)


def test_the_last_layers_feed_forward_sees_only_the_read_positions():
    torch.manual_seed(0)
    model = BabyBert(TINY_MODEL).eval()
    ids, types, mask = _inputs(TINY_MODEL.vocab_size)
    mlm_mask = torch.zeros_like(ids, dtype=torch.bool)
    mlm_mask[0, 3] = mlm_mask[2, 7] = mlm_mask[2, 2] = True
    seen = []
    model.layers[-1].ffn_in.register_forward_hook(lambda module, args, out: seen.append(args[0].shape))
    model.layers[0].ffn_in.register_forward_hook(lambda module, args, out: seen.append(args[0].shape))
    with torch.no_grad():
        model(ids, types, mask, mlm_mask=mlm_mask)
    B, T = ids.shape
    assert seen[0] == (B, T, TINY_MODEL.hidden_size)  # the first layer: every position (each is a key)
    assert seen[1] == (B, 4, TINY_MODEL.hidden_size)  # the last: [CLS] + at most 2 masked, padded to 4


def test_read_positions_put_cls_first_then_each_rows_masked_positions_in_order():
    mlm_mask = torch.rand(5, 40, generator=torch.Generator().manual_seed(0)) < 0.35
    mlm_mask[:, 0] = False
    mlm_mask[3] = False
    at = read_positions(mlm_mask)
    K = at.size(1)
    assert K % 8 == 0 and K >= int(mlm_mask.sum(1).max()) + 1 > 8  # above 8: padded to a multiple of 8
    for row, positions in zip(mlm_mask, at.tolist()):
        read = [0] + row.nonzero()[:, 0].tolist()
        assert positions[:len(read)] == read
        assert len(set(positions)) == K  # padding repeats no position: each is some unread one
    assert read_positions(torch.ones(2, 12, dtype=torch.bool)).size(1) == 12  # never more than T
    one_each = torch.zeros(5, 9, dtype=torch.bool)
    one_each[torch.arange(5), torch.arange(1, 6)] = True  # as in a PLL pass
    assert read_positions(one_each).tolist() == [[0, p] for p in range(1, 6)]  # up to 8: a power of two
    one_each[:, 7] = True
    assert read_positions(one_each).size(1) == 4


def test_attention_under_cpu_bf16_autocast_runs_in_float32_and_agrees():
    torch.manual_seed(0)
    model = BabyBert(TINY_MODEL).eval()
    ids, types, mask = _inputs(TINY_MODEL.vocab_size)
    with torch.no_grad():
        exact = model(ids, types, mask).mlm_logits
        with torch.autocast("cpu", torch.bfloat16):
            fast = model(ids, types, mask).mlm_logits
    assert fast.dtype == torch.bfloat16
    torch.testing.assert_close(fast.float(), exact, atol=0.1, rtol=0.05)  # bf16 keeps ~3 significant digits


def test_attention_weights_match_the_fast_path_and_ignore_padding():
    torch.manual_seed(0)
    model = BabyBert(TINY_MODEL).eval()
    ids, types, mask = _inputs(TINY_MODEL.vocab_size)
    with torch.no_grad():
        fast = model(ids, types, mask)
        explicit = model(ids, types, mask, output_attentions=True)
    torch.testing.assert_close(fast.mlm_logits, explicit.mlm_logits, atol=1e-5, rtol=1e-5)
    assert len(explicit.attentions) == TINY_MODEL.num_hidden_layers
    att = explicit.attentions[0]
    assert att.shape == (3, TINY_MODEL.num_attention_heads, 12, 12)
    torch.testing.assert_close(att.sum(-1), torch.ones(att.shape[:-1]))
    assert att[1, :, :, 9:].abs().max() == 0  # nobody attends to padding


def test_dropout_draws_a_fresh_independent_mask_at_the_expected_share_and_scale():
    """Hidden dropout (here the embeddings'): in training a share p of the values is zeroed and the
    rest scaled by 1/(1-p); each call draws a new mask, independent of the last (both drop the same
    value at rate p*p); the masks come from torch's seeded generator (which a resumed run restores);
    in evaluation, and at p = 0, nothing changes."""
    config = ModelConfig(**{**vars(TINY_MODEL), "hidden_size": 128, "hidden_dropout_prob": 0.1})
    torch.manual_seed(0)
    embeddings = Embeddings(config)
    ids = torch.randint(5, config.vocab_size, (64, 32))
    types = torch.zeros_like(ids)
    with torch.no_grad():
        clean = embeddings.eval()(ids, types)  # (64, 32, 128)
        embeddings.train()
        torch.manual_seed(1)
        first, second = embeddings(ids, types), embeddings(ids, types)
        torch.manual_seed(1)
        again = embeddings(ids, types)
    assert clean.ne(0).all()
    dropped, dropped_next = first == 0, second == 0
    assert 0.09 < dropped.float().mean() < 0.11 and 0.09 < dropped_next.float().mean() < 0.11
    torch.testing.assert_close(first[~dropped], clean[~dropped] / 0.9)
    assert not torch.equal(dropped, dropped_next)
    assert 0.009 < (dropped & dropped_next).float().mean() < 0.011  # independent draws: p * p
    assert torch.equal(first, again)
    embeddings.dropout_p = 0.0
    with torch.no_grad():
        assert torch.equal(embeddings(ids, types), clean)


def test_saved_weights_use_transformers_names(trained):
    names = set(to_hf_state_dict(trained.model))
    assert "bert.encoder.layer.1.attention.self.query.weight" in names
    assert "cls.predictions.bias" in names and "cls.seq_relationship.weight" in names
    assert not any(n.startswith(("layers.", "embeddings.")) for n in names)


def test_parameter_counts_add_up(trained):
    assert sum(trained.model.parameter_counts().values()) == trained.model.num_parameters()


def test_save_then_load_round_trip_is_exact(tmp_path, trained):
    save_checkpoint(tmp_path / "copy", trained.model, trained.tokenizer, {"note": "copy"})
    loaded = load_checkpoint(tmp_path / "copy")
    for (n, a), (_, b) in zip(trained.model.state_dict().items(), loaded.model.state_dict().items()):
        assert torch.equal(a.cpu(), b), n
    assert loaded.info["note"] == "copy"
