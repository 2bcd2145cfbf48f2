"""Splits each Kafka record's value into words. The kafka-spout emits the fields
topic, partition, offset, key, value: the line is the last one."""

from sparse_multilang import Bolt


class SplitBolt(Bolt):
    """Emits one tuple per word, anchored to the record; the record is acked after."""

    def process(self, tup):
        for word in (tup.values[4] or "").lower().split():
            self.emit([word])


if __name__ == "__main__":
    SplitBolt().run()
