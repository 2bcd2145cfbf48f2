"""A bolt that acks its inputs and passes them on, except that the first process to see
the marker file (env FAULT_MARKER) missing creates it and then misbehaves after
FAULT_AFTER inputs, as env FAULT says: "crash" exits with status 3, "garbage" prints
text that is not a message to stdout, "hang" stops answering anything."""

import os
import sys
import time

from sparse_multilang import Bolt


class FaultyBolt(Bolt):
    def initialize(self, conf, context):
        self.mode = os.environ["FAULT"]
        self.after = int(os.environ.get("FAULT_AFTER", "1"))
        marker = os.environ["FAULT_MARKER"]
        self.faulty = not os.path.exists(marker)
        if self.faulty:
            open(marker, "w").close()
        self.count = 0

    def process(self, tup):
        self.count += 1
        if self.faulty and self.count >= self.after:
            if self.mode == "crash":
                sys.stderr.write("faulty.py: crashing on purpose\n")
                sys.stderr.flush()
                os._exit(3)
            if self.mode == "garbage":
                os.write(1, b"this is not JSON, it is a stray print\n")
                time.sleep(3600)
            if self.mode == "hang":
                time.sleep(3600)
        self.emit(list(tup.values))


if __name__ == "__main__":
    FaultyBolt().run()
