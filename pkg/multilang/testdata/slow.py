"""Takes SLOW_MS milliseconds over each input, then passes it on (and acks it): a slow but
healthy bolt. Its inputs are pipelined, so the engine's heartbeat waits behind every input
already written to its stdin."""

import os
import time

from sparse_multilang import Bolt


class SlowBolt(Bolt):
    def initialize(self, conf, context):
        self.delay = int(os.environ.get("SLOW_MS", "10")) / 1000.0

    def process(self, tup):
        time.sleep(self.delay)
        self.emit([tup.values[0]])


if __name__ == "__main__":
    SlowBolt().run()
