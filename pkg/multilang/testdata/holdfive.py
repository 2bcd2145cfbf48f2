"""Holds its inputs and answers them five at a time, newest first: the engine must keep
writing inputs without waiting for answers, and apply the answers when they come, with
no tick tuples to prompt it."""

from sparse_multilang import Bolt


class HoldFive(Bolt):
    auto_ack = False
    auto_anchor = False

    def initialize(self, conf, context):
        self.held = []

    def process(self, tup):
        self.held.append(tup)
        if len(self.held) == 5:
            for t in reversed(self.held):
                self.emit([t.values[0]], anchors=[t])
                self.ack(t)
            self.held = []


if __name__ == "__main__":
    HoldFive().run()
