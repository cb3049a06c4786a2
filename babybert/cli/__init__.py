"""The command line, `python -m babybert COMMAND`: one parser function and one function per command,
on top of the library (cli/parser.py, cli/train.py, cli/commands.py). Nothing in the library
imports it.

A user's mistake (a `UserError`) prints one line on stderr and exits with status 2. Anything else
is a bug: its traceback is printed, with a line saying so, and the exit status is 1.
"""

from __future__ import annotations

import logging
import sys
import traceback

from babybert.cli.parser import EXIT_USAGE, build_parser
from babybert.errors import UserError

EXIT_BUG = 1
EXIT_INTERRUPTED = 130


def command_table() -> dict:
    import babybert.cli.commands as c
    from babybert.cli.train import cmd_train

    return {"train": cmd_train, "fill-mask": c.cmd_fill_mask, "nsp": c.cmd_nsp, "tokenize": c.cmd_tokenize,
            "embeddings": c.cmd_embeddings, "eval": c.cmd_eval, "minimal-pairs": c.cmd_minimal_pairs, "push": c.cmd_push, "pull": c.cmd_pull,
            "runs": c.cmd_runs, "deploy-space": c.cmd_deploy_space, "bench": c.cmd_bench}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import transformers
    transformers.logging.set_verbosity_error()
    try:
        return command_table()[args.command](args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (MemoryError, RuntimeError) as e:
        from babybert.training.memory import MEMORY_ADVICE, out_of_memory
        if not out_of_memory(e):
            return bug()
        print(f"error: out of memory; {MEMORY_ADVICE}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:
        return bug()


def bug() -> int:
    """The traceback of an error that is not the user's, and a line that says so."""
    traceback.print_exc()
    print("error: this is a bug in BabyBERT, not a mistake of yours: please report it with the traceback above",
          file=sys.stderr)
    return EXIT_BUG


__all__ = ["main", "build_parser", "EXIT_USAGE", "EXIT_BUG"]
