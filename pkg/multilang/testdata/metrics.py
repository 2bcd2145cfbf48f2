"""Sends Storm's metrics command for every input: a whole number to a counter, a gauge
and a histogram; and one malformed command, which the engine drops."""

from sparse_multilang import Bolt


class MetricsBolt(Bolt):
    def initialize(self, conf, context):
        self.seen = 0

    def process(self, tup):
        self.seen += 1
        self.metric("items", 2)
        self.metric("last_item", {"gauge": tup.values[0]})
        self.metric("item_size", {"histogram": 0.003})
        if self.seen == 1:
            self.metric("items", "many")
        self.emit(list(tup.values))


if __name__ == "__main__":
    MetricsBolt().run()
