"""The baseline of the PythonWordCount benchmark: the same pipeline written as a plain
multiprocessing script, as a Python user would without sparse. One sentence process
feeds 2 split processes through one queue; each split process sends every word to one of
2 count processes, chosen by the word's hash. One Queue.put per item, no acking.

Usage: python3 baseline.py WARMUP_SECONDS MEASURE_SECONDS
Prints the words counted per second during the measuring window.
"""

import multiprocessing as mp
import sys
import time

from sentences import SENTENCES

SPLITS = 2
COUNTS = 2
# Bounded queues, as the engine bounds the tuples in flight: an unbounded queue would
# let the sentence process fill the memory.
QUEUE_SIZE = 1000
# A count process publishes its total this often (words), so that reading it costs the
# pipeline nothing measurable.
PUBLISH_EVERY = 256


def sentences(out):
    i = 0
    n = len(SENTENCES)
    while True:
        out.put(SENTENCES[i % n])
        i += 1


def split(inq, outs):
    n = len(outs)
    while True:
        for word in inq.get().split():
            outs[hash(word) % n].put(word)


def count(inq, total, slot):
    counts = {}
    seen = 0
    while True:
        word = inq.get()
        counts[word] = counts.get(word, 0) + 1
        seen += 1
        if seen % PUBLISH_EVERY == 0:
            total[slot] = seen


def main():
    warmup, measure = float(sys.argv[1]), float(sys.argv[2])
    ctx = mp.get_context("fork")  # one hash seed for every process
    total = ctx.Array("q", COUNTS, lock=False)
    sq = ctx.Queue(QUEUE_SIZE)
    cqs = [ctx.Queue(QUEUE_SIZE) for _ in range(COUNTS)]
    procs = [ctx.Process(target=sentences, args=(sq,))]
    procs += [ctx.Process(target=split, args=(sq, cqs)) for _ in range(SPLITS)]
    procs += [ctx.Process(target=count, args=(cqs[i], total, i)) for i in range(COUNTS)]
    for p in procs:
        p.daemon = True
        p.start()
    try:
        time.sleep(warmup)
        n0, t0 = sum(total), time.monotonic()
        time.sleep(measure)
        n1, t1 = sum(total), time.monotonic()
    finally:
        for p in procs:
            p.kill()
    print("%.0f" % ((n1 - n0) / (t1 - t0)), flush=True)


if __name__ == "__main__":
    main()
