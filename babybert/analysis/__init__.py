"""What a model learned: held-out evaluation, fill-mask and next-sentence predictions,
vocabulary and embedding views, plots, and the comparison of runs. May import `babybert.bert` and
`babybert.data`.
"""
