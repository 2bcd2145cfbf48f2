"""The sentence spout of the PythonWordCount benchmark: emits sentences round robin,
bench.sentences.per.next of them per "next", with ids when bench.reliable is set (a
failed one is emitted again), at most bench.rate sentences/s when that is set."""

import time

from sparse_multilang import Spout

from sentences import SENTENCES


class SentenceSpout(Spout):
    def initialize(self, conf, context):
        self.per_next = max(1, int(conf.get("bench.sentences.per.next", 1)))
        self.reliable = bool(conf.get("bench.reliable", True))
        self.rate = float(conf.get("bench.rate", 0) or 0)
        self.start = time.monotonic()
        self.sent = 0
        self.replays = []

    def next_tuple(self):
        n = self.per_next
        if self.rate > 0:
            due = int((time.monotonic() - self.start) * self.rate) - self.sent
            n = max(0, min(n, due))
        for _ in range(n):
            if self.replays:
                i = self.replays.pop()
            else:
                i = self.sent
            self.sent += 1
            self.emit([SENTENCES[i % len(SENTENCES)]], tup_id=i if self.reliable else None)

    def fail(self, tup_id):
        self.replays.append(tup_id)


if __name__ == "__main__":
    SentenceSpout().run()
