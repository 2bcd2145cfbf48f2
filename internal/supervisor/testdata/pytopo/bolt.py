"""A bolt that hangs in its first tuple, so that it never reads its stdin again and
the end of it cannot stop it: only a signal can, which is what the tests check."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "python"))
from sparse_multilang import Bolt  # noqa: E402


class Sink(Bolt):
    def process(self, tup):
        # Tell the test (in the working directory, the worker's) that it hangs now.
        open("hung-%d" % os.getpid(), "w").close()
        time.sleep(3600)


if __name__ == "__main__":
    Sink().run()
