"""Text -> training batches: reading and checking a corpus, streaming a file of any size, the
on-disk token store, batches with next-sentence pairs and MLM masks, and the sentence splitter
for rows of datasets. May import `babybert.bert` (the tokenizer), never anything above.
"""
