"""BabyBERT: pretrain a tiny BERT from scratch on your own text, watch it learn, play with it."""

__version__ = "0.1.0"

import os  # noqa: E402

# oneDNN (PyTorch's CPU kernels) compiles a kernel for every matrix shape it meets and caches up to
# 1,024 of them. Training on the CPU pads its batches to few shapes (training/setup.py, buckets): a
# few hundred kernels, which bf16 needs cached (uncached, each product costs ~1 ms more). 512 bounds
# the memory the cache takes wherever shapes vary more, as in the app's fill-mask.
# Set before any kernel runs; a value the user set is kept.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "512")

from babybert.config import ModelConfig, TrainConfig  # noqa: E402
from babybert.errors import UserError  # noqa: E402
from babybert.bert.checkpoint import Checkpoint, load_checkpoint, save_checkpoint  # noqa: E402
from babybert.bert.model import BabyBert  # noqa: E402
from babybert.data.corpus import parse_corpus, read_corpus, split_corpus  # noqa: E402
from babybert.analysis.evaluate import Metrics, evaluate  # noqa: E402
from babybert.analysis.predict import Candidate, attention, fill_mask, next_sentence  # noqa: E402
from babybert.training.events import Done, Eval, Probes, Progress, Sample, Start  # noqa: E402
from babybert.training.loop import train  # noqa: E402

__all__ = [
    "ModelConfig", "TrainConfig", "BabyBert", "Checkpoint", "load_checkpoint", "save_checkpoint",
    "parse_corpus", "read_corpus", "split_corpus", "Metrics", "evaluate", "Candidate", "attention",
    "fill_mask", "next_sentence", "train", "Start", "Progress", "Eval", "Sample", "Probes", "Done", "UserError",
]
