"""Answers the handshake, then never reads its stdin again and does not exit when it is
closed: the engine must kill it."""

import json
import os
import sys
import time

lines = []
for line in sys.stdin:
    if line.strip() == "end":
        break
    lines.append(line)
handshake = json.loads("".join(lines))
open(os.path.join(handshake["pidDir"], str(os.getpid())), "w").close()
sys.stdout.write(json.dumps({"pid": os.getpid()}) + "\nend\n")
sys.stdout.flush()
time.sleep(3600)
