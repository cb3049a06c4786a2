"""WordPiece tokenizer trained on the user's corpus with `tokenizers`, wrapped as a transformers
`BertTokenizerFast` so that `AutoTokenizer.from_pretrained(checkpoint)` loads it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertTokenizerFast

from babybert.errors import UserError, first_line

log = logging.getLogger(__name__)

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # ids 0..4 in our vocabularies


def train_tokenizer(sentences: Iterable[str], vocab_size: int = 4096, lowercase: bool = True,
                    max_length: int = 128) -> BertTokenizerFast:
    """Learn a WordPiece vocabulary of at most `vocab_size` pieces from `sentences`.

    A tiny corpus yields fewer pieces than asked (WordPiece stops when nothing is left to merge).
    The alphabet is capped so a corpus full of rare characters (CJK, emoji) cannot crowd out the
    word pieces; characters outside it become [UNK]. Training is deterministic: `tokenizers`
    numbers its '##x' pieces in hash-map order, which breaks ties between equally frequent merges
    differently on every run (huggingface/tokenizers#1794), so we number them up front.
    """
    sentences = list(sentences)
    normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=None if lowercase else False)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    # every non-space character of the normalized text ends up in some word (the pre-tokenizer
    # only splits at spaces and around punctuation), so count them in one pass
    chars = Counter()
    for start in range(0, len(sentences), 1000):  # in parts: normalizing holds ~40 bytes a character
        chars.update(normalizer.normalize_str("\n".join(sentences[start:start + 1000])))
    for c in [c for c in chars if c.isspace()]:
        del chars[c]
    limit = max(16, min(1000, vocab_size // 4))
    alphabet = [c for c, _ in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS + ["##" + c for c in sorted(alphabet)],  # fixed ids for the '##x' pieces
        initial_alphabet=alphabet,
        limit_alphabet=len(alphabet),
        show_progress=False,
    )
    learner = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    learner.normalizer, learner.pre_tokenizer = normalizer, pre_tokenizer
    learner.train_from_iterator(sentences, trainer)
    # rebuild from the learned vocabulary so that only BERT's five tokens are special
    tok = Tokenizer(models.WordPiece(vocab=learner.get_vocab(), unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(SPECIAL_TOKENS)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tokenizer = BertTokenizerFast(tokenizer_object=tok, do_lower_case=lowercase, model_max_length=max_length,
                                  unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                                  cls_token="[CLS]", mask_token="[MASK]")
    log.info("trained a WordPiece vocabulary of %d pieces (asked for %d)", len(tokenizer), vocab_size)
    return tokenizer


def save_tokenizer(tokenizer: BertTokenizerFast, out_dir: str | Path) -> None:
    """`tokenizer.json` + `tokenizer_config.json`, and a classic `vocab.txt` for older loaders."""
    out_dir = Path(out_dir)
    tokenizer.save_pretrained(out_dir)
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    assert [i for _, i in vocab] == list(range(len(vocab))), "vocabulary ids must be contiguous"
    (out_dir / "vocab.txt").write_text("".join(token + "\n" for token, _ in vocab), encoding="utf-8")


def load_tokenizer(path: str | Path) -> BertTokenizerFast:
    """Load from `tokenizer.json` or a classic `vocab.txt` directory; never runs remote code."""
    path = Path(path)
    if not (path / "tokenizer.json").is_file() and not (path / "vocab.txt").is_file():
        raise UserError(f"{path} has no tokenizer: expected tokenizer.json or vocab.txt")
    try:
        tokenizer = BertTokenizerFast.from_pretrained(str(path), trust_remote_code=False)
    except Exception as e:  # a broken file: tokenizers raises a bare Exception, transformers JSON, key and OS errors
        raise UserError(f"the tokenizer in {path} cannot be read ({type(e).__name__}: {first_line(e)}); "
                        "download or save it again") from e
    if tokenizer.mask_token_id is None or tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        raise UserError(f"the tokenizer in {path} lacks BERT's [CLS]/[SEP]/[MASK] tokens")
    return tokenizer
