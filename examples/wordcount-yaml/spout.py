"""A reliable spout of sentences for the Python wordcount. Each sentence has an id; a
failed one is emitted again. With several tasks, task i of n emits the ids i, i+n, ...
The config "wordcount.sentences" limits how many ids are emitted in all (0: no limit)."""

from sparse_multilang import Spout

SENTENCES = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
]


class SentenceSpout(Spout):
    def initialize(self, conf, context):
        tasks = sorted(int(t) for t, c in context["task->component"].items() if c == context["componentid"])
        self.next_id = tasks.index(context["taskid"])
        self.step = len(tasks)
        self.limit = int(conf.get("wordcount.sentences", 0) or 0)
        self.replays = []

    def next_tuple(self):
        if self.replays:
            tup_id = self.replays.pop()
        elif self.limit == 0 or self.next_id < self.limit:
            tup_id = self.next_id
            self.next_id += self.step
        else:
            return
        self.emit([SENTENCES[tup_id % len(SENTENCES)]], tup_id=tup_id)

    def fail(self, tup_id):
        self.replays.append(tup_id)


if __name__ == "__main__":
    SentenceSpout().run()
