"""The BERT and its on-disk format: the model (parameter names those of transformers'
`BertForPreTraining`), the WordPiece tokenizer, the checkpoint folder (config.json,
model.safetensors, tokenizer files, babybert.json) and its model card. Imports only
`babybert.config`, `babybert.errors` and `babybert.paths` from the project.
"""
