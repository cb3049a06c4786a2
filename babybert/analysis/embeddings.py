"""The word embeddings made visible: the most frequent words of a model's vocabulary projected
to 2-D by PCA, and a word's nearest neighbours by cosine similarity over the whole vocabulary.

The matrix is the model's own `bert.embeddings.word_embeddings.weight` (one row per piece), read
at the moment of the call: the default model, the one just trained, or a pulled one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from babybert.analysis.vocabulary import CONTINUATION, UNUSED, recorded_stats
from babybert.errors import UserError

MAX_WORDS = 1000  # words drawn at most: more is a blot of labels
MAX_NEIGHBOURS = 100


def embedding_matrix(model, tokenizer) -> torch.Tensor:
    """(V, H) float32 on the CPU: a row per piece of the tokenizer (a model may have spare rows)."""
    return model.embeddings.word.weight.detach()[: len(tokenizer)].float().cpu()


def is_word(tokenizer, piece: str) -> bool:
    """A piece that is a whole word: not special, not a `##` continuation, not [unusedN], and not
    punctuation (at least one letter or digit)."""
    return (piece not in tokenizer.all_special_tokens and not piece.startswith(CONTINUATION)
            and not UNUSED.match(piece) and any(c.isalnum() for c in piece))


def frequent_words(model, tokenizer, info: dict, n: int) -> tuple[list[str], str]:
    """The `n` most frequent whole words and how their order was decided.

    From the counts training recorded (babybert.json) when present. Otherwise (and to fill up past
    the recorded top pieces) by the MLM head's output bias, highest first: that bias learns the
    log-frequency of each piece (on the default model it ranks pieces as their corpus counts do,
    Spearman 0.86). Ties, such as an untrained or absent head's zeros, keep the vocabulary order;
    single characters are skipped there, or the alphabet that opens every WordPiece vocabulary
    would fill the picture.
    """
    stats = recorded_stats(info)
    words = [p for p, _ in stats.top if is_word(tokenizer, p)] if stats is not None else []
    how = f"by their counts in {stats.source}" if stats is not None else "by the MLM head's bias (no counts recorded)"
    if len(words) < n:
        order = torch.argsort(-model.mlm_bias.detach()[: len(tokenizer)].float().cpu(), stable=True).tolist()
        seen = set(words)
        more = [p for p in tokenizer.convert_ids_to_tokens(order)
                if p not in seen and len(p) > 1 and is_word(tokenizer, p)]
        if stats is not None and more:
            how += f", then by the MLM head's bias after its top {len(words)}"
        words += more[: n - len(words)]
    return words[:n], how


# ----------------------------------------------------------------------------- PCA

@dataclass
class Projection:
    """A fitted PCA: x -> (x - mean) @ components.T."""
    mean: torch.Tensor  # (H,)
    components: torch.Tensor  # (2, H) orthonormal rows, the directions of most variance first
    explained: list[float]  # the share of the variance along each component

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x.double() - self.mean) @ self.components.T  # (N, 2)


def fit_pca(x: torch.Tensor, dims: int = 2) -> Projection:
    """PCA of the rows of `x` (N, H) by an SVD of the centred matrix, in float64.

    Each component's sign is fixed so that its largest loading is positive (sklearn's convention),
    so the same matrix gives the same picture on every call, whatever the order of its rows.
    """
    if x.dim() != 2 or x.size(0) < 2:
        raise ValueError(f"PCA needs at least 2 rows of a matrix, got shape {tuple(x.shape)}")
    x = x.double()
    mean = x.mean(0)
    _, s, vt = torch.linalg.svd(x - mean, full_matrices=False)  # s: (min(N, H),), vt: (min(N, H), H)
    vt = vt[:dims]
    biggest = vt.abs().argmax(1)  # (dims,)
    vt = vt * torch.sign(vt[torch.arange(len(vt)), biggest])[:, None]
    variance = s ** 2
    explained = (variance[:dims] / variance.sum()).tolist() if variance.sum() > 0 else [0.0] * len(vt)
    return Projection(mean, vt, explained)


# ----------------------------------------------------------------------------- neighbours

def nearest(matrix: torch.Tensor, vector: torch.Tensor, k: int, exclude=()) -> list[tuple[int, float]]:
    """The `k` rows of `matrix` (V, H) most cosine-similar to `vector` (H,): (row, similarity),
    most similar first, ties by row; rows in `exclude` are never returned."""
    m, v = matrix.double(), vector.double()
    similarity = (m @ v) / (m.norm(dim=1) * v.norm()).clamp_min(1e-12)  # (V,)
    similarity[list(exclude)] = float("-inf")
    order = torch.argsort(-similarity, stable=True)[: max(0, min(k, len(m) - len(set(exclude))))]
    return [(int(i), float(similarity[i])) for i in order]


@dataclass
class Neighbours:
    word: str  # as typed
    pieces: list[str]  # its pieces; several when the vocabulary has no single piece for it
    ids: list[int]  # their ids
    rows: list[tuple[str, float]]  # (piece, cosine similarity), most similar first

    @property
    def label(self) -> str:
        """How the plot names it: its piece, or the word as typed when it is several."""
        return self.pieces[0] if len(self.pieces) == 1 else self.word

    @property
    def note(self) -> str:
        if len(self.pieces) == 1:
            return f"'{self.pieces[0]}' is one piece of the vocabulary"
        return (f"'{self.word}' is not one piece but {len(self.pieces)}: {' '.join(self.pieces)}; "
                "the mean of their vectors stands for it")


def query_ids(tokenizer, word: str) -> list[int]:
    """The piece ids of one word: the piece itself when the vocabulary has it as typed (also
    '##s' or '[MASK]'), else the tokenizer's pieces of it (lowercased, split)."""
    if not isinstance(word, str) or not word.strip():
        raise UserError("type a word to find its neighbours")
    word = word.strip()
    vocab = tokenizer.get_vocab()
    if word in vocab:
        return [vocab[word]]
    enc = tokenizer(word, add_special_tokens=False)
    if len(set(enc.word_ids())) > 1:
        raise UserError(f"'{word}' is {len(set(enc.word_ids()))} words to this tokenizer; type a single word")
    if not enc["input_ids"] or enc["input_ids"] == [tokenizer.unk_token_id]:
        raise UserError(f"'{word}' is not in this model's vocabulary (it becomes [UNK]); try another word")
    return enc["input_ids"]


@torch.no_grad()
def neighbours(model, tokenizer, word: str, k: int = 10) -> Neighbours:
    """The `k` pieces of the whole vocabulary whose embeddings are most cosine-similar to `word`'s.

    A word of several pieces has no vector of its own: the mean of its pieces' vectors stands for
    it, and `note` says so. Special tokens, [unusedN] and the word's own pieces are left out.
    """
    if not 1 <= k <= MAX_NEIGHBOURS:
        raise UserError(f"ask for 1 to {MAX_NEIGHBOURS} neighbours, not {k}")
    ids = query_ids(tokenizer, word)
    matrix = embedding_matrix(model, tokenizer)
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(matrix))))
    never = set(ids) | set(tokenizer.all_special_ids) | {i for i, t in enumerate(tokens) if UNUSED.match(t)}
    found = nearest(matrix, matrix[ids].mean(0), k, exclude=sorted(i for i in never if i < len(matrix)))
    return Neighbours(word.strip(), tokenizer.convert_ids_to_tokens(ids), ids, [(tokens[i], s) for i, s in found])


# ----------------------------------------------------------------------------- for the app

NEIGHBOUR_COLUMNS = ["rank", "piece", "cosine similarity"]


@dataclass
class EmbeddingView:
    figure: object  # matplotlib Figure, for gr.Plot
    rows: list[list]  # NEIGHBOUR_COLUMNS, for gr.Dataframe; empty without a word
    note: str  # Markdown: which words are drawn, how they were chosen, and what the word is made of
    words: list[str]  # the words drawn, most frequent first
    points: torch.Tensor  # (n, 2) float64: their places on the two principal components
    explained: list[float]  # the share of the variance along each axis
    neighbours: Neighbours | None  # the word's, when one was given


@torch.no_grad()
def embedding_view(checkpoint, word: str = "", n: int = 100, k: int = 10) -> EmbeddingView:
    """Everything the Model tab shows about the embeddings, for a loaded Checkpoint: the `n` most
    frequent words projected by PCA, with `word` (if any) and its `k` nearest neighbours marked."""
    from babybert.analysis.plots import embedding_figure

    if not 3 <= n <= MAX_WORDS:
        raise UserError(f"draw 3 to {MAX_WORDS} words, not {n}")
    model, tokenizer = checkpoint.model, checkpoint.tokenizer
    words, how = frequent_words(model, tokenizer, checkpoint.info, n)
    if len(words) < 3:
        raise UserError("this vocabulary has fewer than 3 whole words to draw")
    matrix = embedding_matrix(model, tokenizer)
    vocab = tokenizer.get_vocab()
    shown = matrix[[vocab[w] for w in words]]  # (n, H)
    projection = fit_pca(shown)
    found = neighbours(model, tokenizer, word, k) if word and word.strip() else None
    marked = {}  # the word and its neighbours -> their points, drawn even when not among the words
    if found is not None:
        marked[found.label] = projection(matrix[found.ids].mean(0, keepdim=True))[0]
        for piece, _ in found.rows:
            marked[piece] = projection(matrix[[vocab[piece]]])[0]
    points = projection(shown)
    figure = embedding_figure(words, points, projection.explained, found and found.label, marked)
    rows = [[i, p, round(s, 3)] for i, (p, s) in enumerate(found.rows, start=1)] if found else []
    note = f"The {len(words)} most frequent words, {how}; the axes are the two directions of most variance (PCA)."
    if found is not None:
        note += f" {found.note}; its {len(found.rows)} nearest neighbours by cosine similarity over the whole vocabulary."
    return EmbeddingView(figure, rows, note, words, points, projection.explained, found)
