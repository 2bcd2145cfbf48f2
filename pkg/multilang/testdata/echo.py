"""Emits every input back unchanged, asks for the receiving tasks of that emit, and emits
them on the stream "tasks"."""

from sparse_multilang import Bolt


class EchoBolt(Bolt):
    def process(self, tup):
        tasks = self.emit(list(tup.values), need_task_ids=True)
        self.emit([tasks], stream="tasks")


if __name__ == "__main__":
    EchoBolt().run()
