"""The split bolt of the PythonWordCount benchmark: one tuple per word, anchored to the
sentence, which is acked after."""

from sparse_multilang import Bolt


class SplitBolt(Bolt):
    def process(self, tup):
        for word in tup.values[0].split():
            self.emit([word])


if __name__ == "__main__":
    SplitBolt().run()
