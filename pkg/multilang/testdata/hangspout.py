"""A reliable spout of "item-<i>" for i below the config "test.items". The first process
to find the marker file (env FAULT_MARKER) missing creates it and stops answering on its
fifth "next"."""

import os
import time

from sparse_multilang import Spout


class HangSpout(Spout):
    def initialize(self, conf, context):
        self.limit = int(conf["test.items"])
        marker = os.environ["FAULT_MARKER"]
        self.faulty = not os.path.exists(marker)
        if self.faulty:
            open(marker, "w").close()
        self.calls = 0
        self.next_id = 0
        self.replays = []

    def next_tuple(self):
        self.calls += 1
        if self.faulty and self.calls == 5:
            time.sleep(3600)
        if self.replays:
            i = self.replays.pop(0)
        elif self.next_id < self.limit:
            i = self.next_id
            self.next_id += 1
        else:
            return
        self.emit(["item-%d" % i], tup_id=i)

    def fail(self, tup_id):
        self.replays.append(tup_id)


if __name__ == "__main__":
    HangSpout().run()
