"""The word embeddings made visible: PCA on planted structure, nearest neighbours against a
brute-force cosine ranking, and the view the Model tab draws."""

import math
import random

import numpy as np
import pytest
import torch

from babybert.bert.checkpoint import Checkpoint
from babybert.analysis.embeddings import embedding_view, fit_pca, frequent_words, nearest, neighbours
from babybert.analysis.vocabulary import recorded_stats
from babybert.errors import UserError


def two_clusters(n: int = 40, dims: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows around +5 and -5 times a random unit direction, with noise of 0.3 per dimension."""
    g = torch.Generator().manual_seed(seed)
    direction = torch.randn(dims, generator=g)
    direction /= direction.norm()
    side = torch.tensor([1.0] * (n // 2) + [-1.0] * (n - n // 2))
    return side[:, None] * 5 * direction + 0.3 * torch.randn(n, dims, generator=g), side


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pca_separates_planted_clusters_on_its_first_axis(seed):
    x, side = two_clusters(seed=seed)
    points = fit_pca(x)(x)
    first = points[:, 0]
    assert (torch.sign(first) == torch.sign(first[0]) * side).all()  # each cluster on its own side of 0
    assert first.var() > 50 * points[:, 1].var()


@pytest.mark.parametrize("shape", [(30, 8), (5, 16), (200, 3)])
def test_pca_axes_carry_the_largest_variances(shape):
    """The variance along each axis equals the covariance matrix's largest eigenvalues (numpy's
    eigh, a second route), the first the larger; the axes are orthonormal."""
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(3)) * torch.linspace(0.5, 3, shape[1])
    projection = fit_pca(x)
    points = projection(x)
    eigen = np.sort(np.linalg.eigvalsh(np.cov(x.double().numpy(), rowvar=False)))[::-1]
    np.testing.assert_allclose(points.var(0).numpy(), eigen[:2], rtol=1e-8)
    np.testing.assert_allclose(projection.explained, eigen[:2] / eigen.sum(), rtol=1e-8)
    assert projection.explained[0] >= projection.explained[1]
    torch.testing.assert_close(projection.components @ projection.components.T, torch.eye(2, dtype=torch.float64))


def test_pca_picture_does_not_flip():
    """The same rows give the same axes in any order, and negated rows the same axes too (so their
    points are mirrored): the sign comes from the loadings, not from the rows' order or chance."""
    x, _ = two_clusters(seed=4)
    a = fit_pca(x)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(fit_pca(x[perm]).components, a.components)
    torch.testing.assert_close(fit_pca(-x).components, a.components)
    torch.testing.assert_close(fit_pca(x)(x), a(x))
    for component in a.components:
        assert component[component.abs().argmax()] > 0
    with pytest.raises(ValueError, match="at least 2 rows"):
        fit_pca(x[:1])


def brute_force_ranking(rows: list[list[float]], vector: list[float], exclude: set[int]) -> list[tuple[int, float]]:
    def cosine(a, b):
        return sum(p * q for p, q in zip(a, b)) / math.sqrt(sum(p * p for p in a) * sum(q * q for q in b))
    scored = [(i, cosine(row, vector)) for i, row in enumerate(rows) if i not in exclude]
    return sorted(scored, key=lambda t: (-t[1], t[0]))


@pytest.mark.parametrize("seed, k", [(0, 1), (1, 10), (2, 60)])
def test_nearest_is_a_brute_force_cosine_ranking(seed, k):
    rng = random.Random(seed)
    rows = [[rng.gauss(0, 1) for _ in range(6)] for _ in range(50)]
    rows[7] = [2 * v for v in rows[3]]  # the same direction, another length: similarity 1 with row 3
    vector = rows[3]
    exclude = {3, rng.randrange(50)}
    found = nearest(torch.tensor(rows, dtype=torch.float64), torch.tensor(vector, dtype=torch.float64), k, sorted(exclude))
    expected = brute_force_ranking(rows, vector, exclude)[:k]
    assert [i for i, _ in found] == [i for i, _ in expected]
    assert [s for _, s in found] == pytest.approx([s for _, s in expected], abs=1e-9)
    if 7 not in exclude:
        assert found[0] == (7, pytest.approx(1.0))


@pytest.fixture
def planted(trained):
    """A copy of the tiny trained model whose 'moo' embedding points as 'cow's does (x3)."""
    from babybert.bert.model import BabyBert
    model = BabyBert(trained.model.config)
    model.load_state_dict(trained.model.state_dict())
    vocab = trained.tokenizer.get_vocab()
    with torch.no_grad():
        weight = model.embeddings.word.weight
        weight[vocab["moo"]] = 3 * weight[vocab["cow"]]
    return Checkpoint(model, trained.tokenizer, trained.info)


def test_neighbours_find_a_planted_twin(planted):
    tok = planted.tokenizer
    found = neighbours(planted.model, tok, "COW", k=5)
    assert found.pieces == ["cow"] and found.rows[0] == ("moo", pytest.approx(1.0))
    assert len(found.rows) == 5 and "one piece" in found.note
    assert not {p for p, _ in found.rows} & {"cow", *tok.all_special_tokens}
    matrix = planted.model.embeddings.word.weight.detach()[: len(tok)].tolist()
    exclude = {tok.convert_tokens_to_ids("cow"), *tok.all_special_ids}
    expected = brute_force_ranking(matrix, matrix[tok.convert_tokens_to_ids("cow")], exclude)[:5]
    assert [(p, pytest.approx(s)) for p, s in found.rows] == [(tok.convert_ids_to_tokens(i), s) for i, s in expected]


def test_a_word_of_several_pieces_is_the_mean_of_them(planted):
    tok = planted.tokenizer
    word = "cowmoo"  # not in the animal vocabulary: several pieces
    ids = tok(word, add_special_tokens=False)["input_ids"]
    assert len(ids) > 1
    target = next(i for i in range(len(tok)) if i not in ids and i not in tok.all_special_ids)
    with torch.no_grad():
        weight = planted.model.embeddings.word.weight
        weight[target] = weight[ids].mean(0) * 0.5
    found = neighbours(planted.model, tok, word, k=3)
    assert found.pieces == tok.convert_ids_to_tokens(ids) and found.ids == ids
    assert found.rows[0] == (tok.convert_ids_to_tokens(target), pytest.approx(1.0))
    assert " ".join(found.pieces) in found.note and "mean" in found.note


@pytest.mark.parametrize("word, message", [("", "type a word"), ("the cow", "2 words"), ("±", "not in this model's vocabulary")])
def test_neighbours_refuse_what_is_not_one_word(trained, word, message):
    with pytest.raises(UserError, match=message):
        neighbours(trained.model, trained.tokenizer, word)


def test_frequent_words_from_recorded_counts_or_the_mlm_bias(trained):
    tok, model = trained.tokenizer, trained.model
    counted = [p for p, _ in recorded_stats(trained.info).top if p.isalpha()]  # the animal corpus: letters or '.'
    words, how = frequent_words(model, tok, trained.info, 10)
    assert words == counted[:10] and "training split" in how

    bias = torch.randperm(model.mlm_bias.numel(), generator=torch.Generator().manual_seed(0)).float()
    with torch.no_grad():
        saved = model.mlm_bias.clone()
        model.mlm_bias.copy_(bias)
    try:
        words, how = frequent_words(model, tok, {}, 10)
    finally:
        with torch.no_grad():
            model.mlm_bias.copy_(saved)
    by_bias = [tok.convert_ids_to_tokens(i) for i in torch.argsort(-bias[: len(tok)]).tolist()]
    assert words == [p for p in by_bias if p.isalnum() and len(p) > 1 and p not in tok.all_special_tokens][:10]
    assert "bias" in how


def test_embedding_view_marks_the_word_and_its_neighbours(planted):
    view = embedding_view(planted, "cow", n=12, k=4)
    assert len(view.words) == 12 and view.points.shape == (12, 2)
    found = neighbours(planted.model, planted.tokenizer, "cow", k=4)
    assert view.rows == [[i, p, round(s, 3)] for i, (p, s) in enumerate(found.rows, start=1)]
    ax = view.figure.axes[0]
    colours = {t.get_text(): t.get_color() for t in ax.texts}
    assert colours["cow"] == "#d62728" and all(colours[p] == "#1f77b4" for p, _ in found.rows)
    assert sum(c == "#7a8494" for c in colours.values()) == len(set(view.words) - {"cow", *(p for p, _ in found.rows)})
    assert "PC 1" in ax.get_xlabel() and "cow" in view.note

    plain = embedding_view(planted, "", n=12)
    assert plain.rows == [] and plain.neighbours is None and len(plain.figure.axes[0].texts) == 12
    torch.testing.assert_close(plain.points, view.points)
    with pytest.raises(UserError, match="draw 3 to"):
        embedding_view(planted, "", n=2)
