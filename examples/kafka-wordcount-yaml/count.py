"""Counts words: the count bolt of the Python wordcount. A fields grouping on "word"
sends every occurrence of a word to the same task, so each task's counts are final."""

from sparse_multilang import Bolt


class CountBolt(Bolt):
    """Keeps a running count per word and emits [word, count]."""

    def initialize(self, conf, context):
        self.counts = {}

    def process(self, tup):
        word = tup.values[0]
        self.counts[word] = self.counts.get(word, 0) + 1
        self.emit([word, self.counts[word]])


if __name__ == "__main__":
    CountBolt().run()
