"""The count bolt of the PythonWordCount benchmark: counts words and emits nothing."""

from sparse_multilang import Bolt


class CountBolt(Bolt):
    def initialize(self, conf, context):
        self.counts = {}

    def process(self, tup):
        word = tup.values[0]
        self.counts[word] = self.counts.get(word, 0) + 1


if __name__ == "__main__":
    CountBolt().run()
