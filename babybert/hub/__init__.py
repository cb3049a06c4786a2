"""The Hugging Face Hub: push and pull checkpoints, published tokenizers, corpora from Hub datasets,
and deploying this project as a Space. Every call goes through `huggingface_hub` with `endpoint=`.
May import `babybert.bert`, `babybert.data` and `babybert.analysis`.
"""
