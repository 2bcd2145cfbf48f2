"""Fails each input the first time it sees its value, and passes it on the next time."""

from sparse_multilang import Bolt


class FailOnce(Bolt):
    auto_ack = False

    def initialize(self, conf, context):
        self.seen = set()

    def process(self, tup):
        value = tup.values[0]
        if value not in self.seen:
            self.seen.add(value)
            self.fail(tup)
            return
        self.emit([value])
        self.ack(tup)


if __name__ == "__main__":
    FailOnce().run()
