"""Pretraining: the loop (`train()`, a generator of events), the state a resumed run needs, several
processes under torchrun, out-of-memory handling, and reporting to TensorBoard or Trackio. May
import every layer below it (bert, data, analysis, hub), never the CLI, the server or bench.
"""
