"""The sentences of the PythonWordCount benchmark and its baseline: 6.4 words each on
average (32 words in all)."""

SENTENCES = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
]
