"""The commands besides train: each reads its arguments, calls the library, prints the result
(a table for people, or with --json one line for programs)."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict

from babybert.cli.output import describe_metrics
from babybert.errors import UserError


def cmd_fill_mask(args) -> int:
    from babybert.bert.checkpoint import load_checkpoint
    from babybert.analysis.predict import fill_mask

    ckpt = load_checkpoint(args.checkpoint)
    results = fill_mask(ckpt.model, ckpt.tokenizer, args.text, args.top_k)
    if args.json:
        print(json.dumps([[asdict(c) for c in mask] for mask in results]))
        return 0
    for i, mask in enumerate(results, start=1):
        print(f"[MASK] {i}:" if len(results) > 1 else "[MASK]:")
        for c in mask:
            print(f"  {c.token:<16} {c.score:6.1%}  {'█' * round(c.score * 30)}")
    return 0


def cmd_nsp(args) -> int:
    from babybert.bert.checkpoint import load_checkpoint
    from babybert.analysis.predict import next_sentence

    ckpt = load_checkpoint(args.checkpoint)
    p = next_sentence(ckpt.model, ckpt.tokenizer, args.text_a, args.text_b)
    if args.json:
        print(json.dumps({"is_next": p}))
    else:
        verdict = "B follows A" if p >= 0.5 else "B does not follow A"
        print(f"IsNext probability: {p:.1%}  ->  {verdict}")
    return 0


def cmd_tokenize(args) -> int:
    from babybert.data import stream
    from babybert.bert.checkpoint import load_checkpoint
    from babybert.analysis.vocabulary import pieces, recorded_stats, split_words, text_stats

    ckpt = load_checkpoint(args.checkpoint)
    found = pieces(ckpt.tokenizer, args.text)
    stats = None
    if args.corpus is not None:
        lines = (sentence for _, sentence in stream.sentences(stream.check_file(args.corpus)))
        stats = text_stats(ckpt.tokenizer, lines, source=args.corpus.name)
    elif args.stats:
        stats = recorded_stats(ckpt.info) or text_stats(ckpt.tokenizer, args.text, source="the text (no counts recorded)")
    if args.json:
        print(json.dumps({"pieces": [asdict(p) for p in found], "stats": stats and stats.to_dict()}))
        return 0
    print(f"{'#':>3}  {'piece':<16} {'id':>6}  word")
    for i, p in enumerate(found):
        word = "" if p.word is None else f"{p.word + 1}" + ("  (continues it)" if p.continuation else "")
        print(f"{i:>3}  {p.piece:<16} {p.id:>6}  {word}".rstrip())
    split = split_words(found)
    print(f"{sum(p.word is not None for p in found)} pieces for {len({p.word for p in found} - {None})} words; "
          + (f"split: {', '.join(' '.join(w) for w in split)}" if split else "none split"))
    if stats is not None:
        share = f"{stats.split_share:.1%}" if stats.split_share is not None else "-"
        print(f"\nvocabulary: {stats.size:,} pieces\ncounted in {stats.source}: {stats.pieces:,} pieces, {stats.words:,} "
              f"words, {share} of words split into several pieces\nmost frequent pieces:")
        for rank, (piece, count) in enumerate(stats.top[:args.top], start=1):
            print(f"{rank:>5}  {piece:<16} {count:>10,}  {count / stats.pieces:6.1%}")
    return 0


def cmd_embeddings(args) -> int:
    from babybert.bert.checkpoint import load_checkpoint
    from babybert.analysis.embeddings import embedding_view

    ckpt = load_checkpoint(args.checkpoint)
    view = embedding_view(ckpt, args.word or "", args.words, args.neighbours)
    if args.out is not None:
        try:
            view.figure.savefig(args.out)
        except OSError as e:
            raise UserError(f"cannot write the plot to {args.out}: {e.strerror or e}") from e
        print(f"wrote {args.out}", file=sys.stderr)
    found = view.neighbours
    if args.json:
        print(json.dumps({"words": view.words, "points": view.points.tolist(), "explained": view.explained,
                          "word": found and {"word": found.word, "pieces": found.pieces,
                                             "neighbours": [{"piece": p, "similarity": s} for p, s in found.rows]}}))
        return 0
    print(view.note)
    if found is not None:
        for rank, (piece, similarity) in enumerate(found.rows, start=1):
            print(f"{rank:>4}  {piece:<16} {similarity:6.3f}  {'█' * max(0, round(similarity * 30))}")
    elif args.out is None:
        print(", ".join(view.words))
    return 0


def cmd_eval(args) -> int:
    from babybert.analysis.evaluate import evaluate
    from babybert.bert.checkpoint import load_checkpoint
    from babybert.cli.train import dataset_corpus
    from babybert.data.store import read_documents

    ckpt = load_checkpoint(args.checkpoint)
    dataset = dataset_corpus(args, tell=not args.json)
    corpus, name = (dataset.path, dataset.name) if dataset else (args.corpus, args.corpus.name)
    train_config = ckpt.info.get("train_config") or {}
    holdout = train_config.get("holdout", 0.1) if args.documents == "held-out" else None
    docs = read_documents(corpus, holdout, args.max_sentences)  # as a stream: the corpus may be large
    if not docs:
        raise UserError(f"{name} has no sentences to evaluate on")
    tasks = tuple(train_config.get("tasks", ("mlm", "nsp")))
    metrics = evaluate(ckpt.model, ckpt.tokenizer, docs, seed=args.seed, tasks=tasks, max_sentences=args.max_sentences)
    if args.json:
        print(json.dumps(metrics.to_dict()))
    else:
        print(f"{args.documents} documents of {name}: {describe_metrics(metrics)}")
    return 0


def load_pairs(spec: str, max_pairs: int | None, endpoint: str | None = None, token: str | None = None,
               progress: bool = True):
    """Minimal pairs from a local file or a Hub dataset (OWNER/NAME[:CONFIG])."""
    from babybert.analysis.grammar import is_pairs_file, read_pairs
    from babybert.hub.pairs import pairs_from_dataset

    if is_pairs_file(spec):
        return read_pairs(spec, max_pairs)
    return pairs_from_dataset(spec, max_pairs=max_pairs, endpoint=endpoint, token=token, progress=progress)


def cmd_minimal_pairs(args) -> int:
    from babybert.analysis.grammar import score_pairs
    from babybert.bert.checkpoint import load_checkpoint
    from babybert.training.setup import use_bf16

    ckpt = load_checkpoint(args.checkpoint)
    bf16 = use_bf16(args.precision, next(ckpt.model.parameters()).device)
    pairs = load_pairs(args.pairs, args.max_pairs, args.endpoint, args.token, progress=not args.json)
    results = score_pairs(ckpt.model, ckpt.tokenizer, pairs, args.metric, progress=not args.json, bf16=bf16)
    if args.json:
        print(json.dumps(results.to_dict()))
        return 0
    phenomena = len(results.by_phenomenon)
    print(f"{len(pairs):,} minimal pairs ({phenomena} phenomen{'on' if phenomena == 1 else 'a'}) from {args.pairs}, "
          f"judged by pseudo-log-likelihood ({args.metric}, {'bf16' if bf16 else 'fp32'}):")
    rows = [(name, acc) for name, acc in results.by_field.items()] + [("overall", results.overall)]
    width = max(len(name) for name, _ in rows)
    print(f"  {'field':<{width}}  {'pairs':>7}  accuracy  95% interval")
    for name, acc in rows:
        low, high = acc.interval
        print(f"  {name:<{width}}  {acc.pairs:>7,}  {acc.value:8.1%}  {low:.1%}-{high:.1%}")
    print("  chance: 50.0%")
    return 0


def cmd_runs(args) -> int:
    from babybert.analysis.runs import Run, table, write_csv
    from babybert.bert.checkpoint import INFO, read_json

    runs = []
    for path in args.checkpoints:
        if not (path / INFO).is_file():
            raise UserError(f"{path} is not a checkpoint trained by BabyBERT (no {INFO} in it): runs compares the "
                             "folders that `babybert train --out` wrote")
        runs.append(Run.from_info(read_json(path / INFO), name=path.name))
    headers, rows = table(runs)
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    for line in (headers, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())
    if args.csv:
        write_csv(runs, args.csv)
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0


def cmd_bench(args) -> int:
    from babybert.bench.throughput import DEFAULT_CORPUS, print_peer_report, print_report, run_bench, run_peer_race
    from babybert.bench.app import APP, print_app_report, run_app_bench

    if args.quick:
        from babybert.bench.throughput import run_quick
        report = run_quick(args.corpus)
        if args.json:
            print(json.dumps(report))  # one line, the last of stdout
        else:
            print("\n".join(f"{k:<26} {v}" for k, v in report.items()))
        return 0
    reports = {}
    if args.only == "quality":
        from babybert.bench.quality import print_quality_report, run_quality_bench
        corpus = args.corpus or DEFAULT_CORPUS
        pairs = load_pairs(args.pairs, args.max_pairs, progress=not args.json) if args.pairs else None
        reports["quality"] = report = run_quality_bench(corpus, args.budgets, pairs=pairs,
                                                        log=lambda line: print(line, file=sys.stderr, flush=True))
        if not args.json:
            print(print_quality_report(report), flush=True)
    if args.only in (None, "throughput"):
        reports["throughput"] = report = run_bench(corpus=args.corpus, steps=args.steps, rounds=args.rounds)
        if not args.json:
            print(print_report(report), flush=True)
        reports["throughput_peer"] = report = run_peer_race(corpus=args.corpus, steps=args.steps, rounds=args.rounds)
        if not args.json:
            print(print_peer_report(report), flush=True)
    if args.only == "app" or (args.only is None and APP.is_file()):  # the app ships with the source, not the package
        if not APP.is_file():
            raise UserError(f"the app benchmark needs the source checkout: {APP} is missing")
        reports["app"] = report = run_app_bench(args.app_budget, args.app_rounds, args.corpus)
        if not args.json:
            print(print_app_report(report))
    if args.only == "load":
        from babybert.bench.app import print_load_report, run_load_bench
        if not APP.is_file():
            raise UserError(f"the load benchmark needs the source checkout: {APP} is missing")
        reports["load"] = report = run_load_bench(args.app_budget, args.corpus)
        if not args.json:
            print(print_load_report(report))
    if args.only == "scaling":
        from babybert.bench.scaling import print_scaling_report, run_scaling_bench
        reports["scaling"] = report = run_scaling_bench(args.corpus, budget=args.app_budget)
        if not args.json:
            print(print_scaling_report(report))
    if args.only == "corpus":
        from babybert.bench.corpus import print_corpus_report, run_corpus_bench
        reports["corpus"] = report = run_corpus_bench(args.corpus, budget=args.app_budget,
                                                      log=lambda line: print(line, file=sys.stderr, flush=True))
        if not args.json:
            print(print_corpus_report(report))
    if args.json:
        print(json.dumps(reports, indent=2))
    return 0


def cmd_push(args) -> int:
    from babybert.hub.repos import push

    result = push(args.checkpoint, args.repo_id, token=args.token, private=args.private, endpoint=args.endpoint,
                  commit_message=args.message)
    print(f"pushed {args.checkpoint} to {result.url} (commit {result.commit_id[:7]})", file=sys.stderr)
    print(result.url)
    return 0


def cmd_pull(args) -> int:
    from babybert.hub.repos import pull

    ckpt = pull(args.repo_id, revision=args.revision, endpoint=args.endpoint, token=args.token, out=args.out)
    cfg = ckpt.model.config
    print(f"pulled {args.repo_id}{'@' + args.revision if args.revision else ''} into {args.out}: "
          f"{ckpt.model.num_parameters():,} parameters, {cfg.num_hidden_layers} layers x {cfg.hidden_size} hidden, "
          f"vocabulary {len(ckpt.tokenizer):,}\n"
          f"try it:  python -m babybert fill-mask {shlex.quote(str(args.out))} \"your sentence with a [MASK] .\"",
          file=sys.stderr)
    return 0


def cmd_deploy_space(args) -> int:
    from babybert.hub.space import deploy_space, space_files

    result = deploy_space(args.space_id, token=args.token, private=args.private, endpoint=args.endpoint)
    print(f"uploaded {len(space_files())} files to {result.url} (commit {result.commit_id[:7]}); "
          "the Space builds and starts in a few minutes", file=sys.stderr)
    print(result.url)
    return 0
