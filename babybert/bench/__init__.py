"""`python -m babybert bench`: BabyBERT against the transformers recipe and the tuned peer (speed, quality), the app's
live training against the CLI, latency under load, scaling over processes, corpus size. Uses the
library and runs the app and the CLI as programs; never imports the server's helpers.
"""
