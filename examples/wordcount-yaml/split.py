"""Splits each sentence into words: the split bolt of the Python wordcount."""

from sparse_multilang import Bolt


class SplitBolt(Bolt):
    """Emits one tuple per word, anchored to the sentence; the sentence is acked after."""

    def process(self, tup):
        for word in tup.values[0].split():
            self.emit([word])


if __name__ == "__main__":
    SplitBolt().run()
