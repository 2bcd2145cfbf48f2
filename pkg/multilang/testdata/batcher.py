"""Counts its inputs per value in batches of one tick and emits [value, count]."""

from sparse_multilang import BatchingBolt


class Batcher(BatchingBolt):
    def group_key(self, tup):
        return tup.values[0]

    def process_batch(self, key, tups):
        self.emit([key, len(tups)])


if __name__ == "__main__":
    Batcher().run()
