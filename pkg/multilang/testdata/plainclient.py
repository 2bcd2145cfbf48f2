"""A multi-lang bolt written against Storm's protocol alone, as Storm's own clients are
(no sparse_multilang): it answers the handshake with just its pid, so the engine must
never send it a batch. It emits every input back, with "plain", anchored to it, acks it, and answers
heartbeats; anything it does not know makes it exit with an error."""

import json
import os
import sys


def read():
    lines = []
    while True:
        line = sys.stdin.readline()
        if not line:
            sys.exit(0)
        if line == "end\n":
            return json.loads("".join(lines))
        lines.append(line)


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\nend\n")
    sys.stdout.flush()


hello = read()
open(os.path.join(hello["pidDir"], str(os.getpid())), "w").close()
send({"pid": os.getpid()})
while True:
    msg = read()
    if not isinstance(msg, dict) or "command" in msg or "tuple" not in msg:
        sys.stderr.write("a plain client got a message it does not know: %r\n" % (msg,))
        sys.exit(2)
    if msg["task"] == -1 and msg["stream"] == "__heartbeat":
        send({"command": "sync"})
        continue
    send({"command": "emit", "anchors": [msg["id"]], "tuple": msg["tuple"] + ["plain"], "need_task_ids": False})
    send({"command": "ack", "id": msg["id"]})
