"""Pretraining: the loop (`train()`, a generator of events, loop.py), what a run is set up with
(setup.py), the state a resumed run needs (state.py), reading losses back (losses.py), several
processes under torchrun, out-of-memory handling, and reporting to TensorBoard or Trackio. May
import every layer below it (bert, data, analysis, hub), never the CLI, the server or bench.
"""
