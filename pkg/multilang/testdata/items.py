"""A reliable spout of "item-<i>" for i below the config "test.items"; a failed item is
emitted again, and the spout logs how many replays it made."""

from sparse_multilang import Spout


class ItemSpout(Spout):
    def initialize(self, conf, context):
        self.limit = int(conf["test.items"])
        self.next_id = 0
        self.replays = []

    def next_tuple(self):
        if self.replays:
            i = self.replays.pop(0)
            self.logger.info("replaying item-%d", i)
        elif self.next_id < self.limit:
            i = self.next_id
            self.next_id += 1
        else:
            return
        self.emit(["item-%d" % i], tup_id=i)

    def fail(self, tup_id):
        self.replays.append(tup_id)


if __name__ == "__main__":
    ItemSpout().run()
