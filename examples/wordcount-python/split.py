"""Splits each sentence into words: the split bolt of the Python wordcount."""

import os
import sys

try:
    from sparse_multilang import Bolt
except ImportError:  # run from a source checkout without PYTHONPATH
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    from sparse_multilang import Bolt


class SplitBolt(Bolt):
    """Emits one tuple per word, anchored to the sentence; the sentence is acked after."""

    def process(self, tup):
        for word in tup.values[0].split():
            self.emit([word])


if __name__ == "__main__":
    SplitBolt().run()
