"""Emits each input with whether the batch extension is on: [value, batching]."""

from sparse_multilang import Bolt


class Probe(Bolt):
    def process(self, tup):
        self.emit([tup.values[0], self._batch])


if __name__ == "__main__":
    Probe().run()
