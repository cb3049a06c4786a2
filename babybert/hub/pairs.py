"""Minimal pairs from a Hub dataset: `nyu-mll/blimp` (all 67 phenomena, one config each) or
`nyu-mll/blimp:adjunct_island` (one). The files are found the way `babybert.hub.dataset` finds a
corpus's (the card's configs, `datasets`' file rules), downloaded through huggingface_hub with
`endpoint=` into the Hugging Face cache, and read by `babybert.analysis.grammar`.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi, hf_hub_download
from tqdm.auto import tqdm

from babybert.analysis.grammar import MinimalPair, file_rows, first_of_each, pair_from_row
from babybert.hub.dataset import _card_configs, _in, dataset_errors, parse_spec, split_files
from babybert.hub.repos import HubError, _timeout


def pairs_from_dataset(spec: str, *, max_pairs: int | None = None, split: str = "train", endpoint: str | None = None,
                       token: str | None = None, revision: str | None = None, cache_dir: str | Path | None = None,
                       progress: bool = True) -> list[MinimalPair]:
    """The pairs of every config of `spec` (OWNER/NAME), or of one (OWNER/NAME:CONFIG); with
    `max_pairs`, the first that many of each phenomenon (only the files needed are downloaded)."""
    repo_id, config = parse_spec((spec or "").strip())
    first_of_each([], max_pairs)  # a bad --max-pairs is told before anything is downloaded
    api = HfApi(endpoint=endpoint, token=token)
    download = dict(repo_id=repo_id, repo_type="dataset", endpoint=endpoint, token=token, etag_timeout=_timeout(),
                    cache_dir=cache_dir)
    with dataset_errors(repo_id, endpoint, revision):
        info = api.dataset_info(repo_id, revision=revision, timeout=_timeout())
        files = [s.rfilename for s in info.siblings or []]
        download["revision"] = info.sha  # every file from the same commit
        configs = _card_configs({k: v for k, v in download.items() if k != "cache_dir"}) if "README.md" in files else []
        names = [config] if config else [c["config_name"] for c in configs] or [None]
        pairs: list[MinimalPair] = []
        for name in tqdm(names, desc=f"reading {repo_id}", unit="config", disable=not progress or len(names) < 2):
            name, splits = split_files(repo_id, files, name, configs)
            if split not in splits:
                raise HubError(f"{repo_id} has no split {split!r}{_in(name)}; it has: {', '.join(splits)}")
            rows = []
            for file in splits[split]:
                rows += file_rows(Path(hf_hub_download(filename=file, **download)))
                if max_pairs is not None and len(rows) >= max_pairs:
                    break  # --max-pairs: the later shards are not needed
            phenomenon = name if name and name != "default" else "pairs"
            pairs += [pair_from_row(r, f"row {i + 1} of {repo_id}{_in(name)}", phenomenon) for i, r in enumerate(rows)]
    if not pairs:
        raise HubError(f"{repo_id} holds no minimal pairs; each row needs the fields 'sentence_good' and 'sentence_bad'")
    return first_of_each(pairs, max_pairs)
