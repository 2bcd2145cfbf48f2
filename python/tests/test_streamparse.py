"""The streamparse API: the DSL, the components, and the evaluator sparsectl runs."""

import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

from streamparse import (
    BatchingBolt,
    Bolt,
    Grouping,
    JavaBolt,
    JavaSpout,
    ShellBolt,
    ShellSpout,
    Spout,
    Stream,
    TicklessBatchingBolt,
    Topology,
    TopologyError,
)
from streamparse.dsl import topology_dict

from .support import HEARTBEAT, PidDir, frame, handshake, run, tick, tup, unframe

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class WordSpout(Spout):
    outputs = ["word"]


class CountBolt(Bolt):
    outputs = ["word", "count"]


class SplitStreams(Bolt):
    outputs = [Stream(fields=["word"], name="default"),
               Stream(fields=["word", "length"], name="long"),
               Stream(fields=["word"], name="picked", direct=True)]


class SinkBolt(Bolt):
    outputs = []


class TopologyDSLTest(unittest.TestCase):
    def test_wordcount(self):
        class WordCount(Topology):
            config = {"topology.max.spout.pending": 100}
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs={word_spout: Grouping.fields("word")}, par=2,
                                        config={"count.reset": True})

        d = topology_dict(WordCount, "wordcount")
        self.assertEqual(d["name"], "wordcount")
        self.assertEqual(d["config"], {"topology.max.spout.pending": 100})
        spout, count = d["components"]
        self.assertEqual(spout["name"], "word_spout")
        self.assertEqual(spout["kind"], "spout")
        self.assertEqual(spout["par"], 1)
        self.assertEqual(spout["python"], {"module": __name__, "class": "WordSpout"})
        self.assertEqual(spout["outputs"], [{"stream": "default", "fields": ["word"], "direct": False}])
        self.assertEqual(count["par"], 2)
        self.assertEqual(count["config"], {"count.reset": True})
        self.assertEqual(count["inputs"], [{"component": "word_spout", "stream": "default",
                                            "grouping": {"type": "fields", "fields": ["word"]}}])
        json.dumps(d)  # the evaluator prints it

    def test_named_streams_and_groupings(self):
        class Multi(Topology):
            words = WordSpout.spec(name="words-spout")
            split = SplitStreams.spec(inputs=[words], par=3)
            longs = SinkBolt.spec(inputs={split["long"]: Grouping.fields(["word", "length"])})
            picked = SinkBolt.spec(inputs={split["picked"]: Grouping.DIRECT}, par=2)
            every = SinkBolt.spec(inputs={split: Grouping.ALL, words: Grouping.GLOBAL})
            local = SinkBolt.spec(inputs={split: Grouping.LOCAL_OR_SHUFFLE})
            none = SinkBolt.spec(inputs={words: Grouping.NONE})

        comps = {c["name"]: c for c in topology_dict(Multi)["components"]}
        self.assertEqual(topology_dict(Multi)["name"], "Multi")
        self.assertIn("words-spout", comps)
        self.assertEqual(comps["split"]["inputs"][0]["grouping"], {"type": "shuffle"})
        self.assertEqual(comps["split"]["inputs"][0]["component"], "words-spout")
        self.assertEqual(len(comps["split"]["outputs"]), 3)
        self.assertTrue(comps["split"]["outputs"][2]["direct"])
        self.assertEqual(comps["longs"]["inputs"], [{"component": "split", "stream": "long",
                                                     "grouping": {"type": "fields", "fields": ["word", "length"]}}])
        self.assertEqual(comps["picked"]["inputs"][0]["grouping"], {"type": "direct"})
        self.assertEqual(sorted(i["grouping"]["type"] for i in comps["every"]["inputs"]), ["all", "global"])
        self.assertEqual(comps["local"]["inputs"][0]["grouping"], {"type": "local_or_shuffle"})
        self.assertEqual(comps["none"]["inputs"][0]["grouping"], {"type": "none"})

    def test_shell_components(self):
        class Shells(Topology):
            sentences = ShellSpout.spec(command="node", script="spout.js", outputs=["sentence"])
            split = ShellBolt.spec(command="ruby", script="split.rb", inputs=[sentences], outputs=["word"], par=2)

        comps = topology_dict(Shells)["components"]
        self.assertEqual(comps[0]["shell"], {"command": "node", "script": "spout.js", "args": []})
        self.assertEqual(comps[1]["shell"]["command"], "ruby")
        self.assertEqual(comps[1]["outputs"], [{"stream": "default", "fields": ["word"], "direct": False}])

    def test_batching_bolt_spec_gets_ticks(self):
        class Batches(BatchingBolt):
            outputs = []

        spec = Batches.spec(inputs=[WordSpout.spec()])
        self.assertEqual(spec.config["topology.tick.tuple.freq.secs"], 1)
        spec = Batches.spec(inputs=[WordSpout.spec()], config={"topology.tick.tuple.freq.secs": 5})
        self.assertEqual(spec.config["topology.tick.tuple.freq.secs"], 5)

    def test_errors(self):
        outside = WordSpout.spec()

        def unknown_input():
            class T(Topology):
                spout = WordSpout.spec()
                bolt = CountBolt.spec(inputs=[outside])

        def undeclared_field():
            class T(Topology):
                spout = WordSpout.spec()
                bolt = CountBolt.spec(inputs={spout: Grouping.fields("wrd")})

        def undeclared_stream():
            class T(Topology):
                spout = WordSpout.spec()
                bolt = CountBolt.spec(inputs=[spout["other"]])

        def direct_on_plain():
            class T(Topology):
                spout = WordSpout.spec()
                bolt = CountBolt.spec(inputs={spout: Grouping.DIRECT})

        def plain_on_direct():
            class T(Topology):
                spout = WordSpout.spec()
                split = SplitStreams.spec(inputs=[spout])
                bolt = SinkBolt.spec(inputs=[split["picked"]])

        def no_spout():
            class T(Topology):
                bolt = CountBolt.spec(inputs=[])

        def no_inputs():
            class T(Topology):
                spout = WordSpout.spec()
                bolt = CountBolt.spec()

        def same_name():
            class T(Topology):
                a = WordSpout.spec(name="x")
                b = CountBolt.spec(name="x", inputs=[a])

        cases = [
            (unknown_input, "not part of the topology"),
            (undeclared_field, "field 'wrd'"),
            (undeclared_stream, "stream 'other'"),
            (direct_on_plain, "not direct"),
            (plain_on_direct, "Grouping.DIRECT"),
            (no_spout, "no spout"),
            (no_inputs, "has no inputs"),
            (same_name, "two components are named 'x'"),
            (lambda: CountBolt.spec(par=0), "par must be a positive integer"),
            (lambda: CountBolt.spec(config=[1]), "config must be a dict"),
            (lambda: CountBolt.spec(inputs={outside: "shuffle"}), "not a Grouping"),
            (lambda: Grouping.fields(), "at least one field"),
            (lambda: Grouping.custom_object("com.example.G", []), "no JVM"),
            (lambda: JavaBolt.spec(name="j", serialized_java=b""), "sparse runs no JVM"),
            (lambda: JavaSpout.spec(), "sparse runs no JVM"),
            (lambda: ShellBolt.spec(script="x.js"), "needs a command"),
            (lambda: WordSpout.spec(inputs=[outside]), "spouts take no inputs"),
        ]
        for fn, want in cases:
            with self.assertRaises(TopologyError, msg=want) as ctx:
                fn()
            self.assertIn(want, str(ctx.exception))


def written(messages):
    """The messages after the pid."""
    return [m for m in messages if "pid" not in m]


class BoltTest(unittest.TestCase):
    def test_emit_in_streamparse_order(self):
        class Emitter(Bolt):
            def process(self, t):
                self.emit([t.values[0]], "long")  # stream is the second argument, as in streamparse
                self.emit([t.values[0]], stream="picked", direct_task=3)
                self.emit([t.values[0]], anchors=[])

        _, out = run(Emitter, [tup("a", ["w", 1])])
        emits = [m for m in written(out) if m.get("command") == "emit"]
        self.assertEqual(emits[0]["stream"], "long")
        self.assertEqual(emits[0]["anchors"], ["a"])
        self.assertEqual(emits[1]["stream"], "picked")
        self.assertEqual(emits[1]["task"], 3)
        self.assertEqual(emits[2]["anchors"], [])
        self.assertEqual(written(out)[-1], {"command": "ack", "id": "a"})

    def test_need_task_ids_and_initialize(self):
        got = {}

        class Asker(Bolt):
            def initialize(self, conf, context):
                got["conf"], got["task"] = conf.get("topology.name"), context.get("taskid")

            def process(self, t):
                got["ids"] = self.emit([1], need_task_ids=True)

        run(Asker, [tup("a", ["w", 1]), [2, 3]])
        self.assertEqual(got, {"conf": "test", "task": 2, "ids": [2, 3]})

    def test_auto_switches(self):
        class Manual(Bolt):
            auto_ack = False
            auto_fail = False

            def process(self, t):
                raise ValueError("boom")

        _, out = run(Manual, [tup("a", ["w", 1])])
        commands = [m.get("command") for m in written(out)]
        self.assertIn("error", commands)
        self.assertNotIn("ack", commands)
        self.assertNotIn("fail", commands)


class BatchingBoltTest(unittest.TestCase):
    def test_groups_and_ticks(self):
        batches = []

        class Batcher(BatchingBolt):
            ticks_between_batches = 2

            def group_key(self, t):
                return t["sentence"]

            def process_batch(self, key, tups):
                batches.append((key, [t.id for t in tups]))
                self.emit([key, len(tups)])

        _, out = run(Batcher, [tup("1", ["a", 1]), tup("2", ["b", 2]), tup("3", ["a", 3]), tick(),
                               HEARTBEAT, tup("4", ["b", 4]), tick(), tup("5", ["a", 5]), tick()])
        self.assertEqual(sorted(batches), [("a", ["1", "3"]), ("b", ["2", "4"])])
        msgs = written(out)
        emits = [m for m in msgs if m.get("command") == "emit"]
        self.assertEqual(sorted(e["anchors"] for e in emits), [["1", "3"], ["2", "4"]])
        acks = [m["id"] for m in msgs if m.get("command") == "ack"]
        self.assertEqual(sorted(acks), ["1", "2", "3", "4"])  # "5" waits for the next batch
        # Nothing is acked before the second tick.
        first_ack = next(i for i, m in enumerate(msgs) if m.get("command") == "ack")
        self.assertGreater(first_ack, next(i for i, m in enumerate(msgs) if m.get("command") == "sync"))

    def test_secs_between_batches(self):
        batches = []

        class Batcher(BatchingBolt):
            secs_between_batches = 3

            def process_batch(self, key, tups):
                batches.append([t.id for t in tups])

        run(Batcher, [tup("1", ["a", 1]), tick(2), tup("2", ["a", 1]), tick(2), tup("3", ["a", 1]), tick(2)])
        self.assertEqual(batches, [["1", "2"]])

    def test_failed_batch_is_failed(self):
        class Broken(BatchingBolt):
            def process_batch(self, key, tups):
                raise RuntimeError("no")

        _, out = run(Broken, [tup("1", ["a", 1]), tup("2", ["a", 1]), tick()])
        fails = sorted(m["id"] for m in written(out) if m.get("command") == "fail")
        self.assertEqual(fails, ["1", "2"])


class TicklessBatchingBoltTest(unittest.TestCase):
    def test_batches_on_a_timer(self):
        batches = []

        class Timed(TicklessBatchingBolt):
            secs_between_batches = 0.2

            def group_key(self, t):
                return t["sentence"]

            def process_batch(self, key, tups):
                batches.append((time.monotonic(), key, sorted(t.id for t in tups)))
                self.emit([key, len(tups)])

        with PidDir() as pid_dir:
            r, w = os.pipe()
            rf, wf = os.fdopen(r, "rb"), os.fdopen(w, "wb")
            out = io.BytesIO()
            bolt = Timed(rf, out, serializer="json")
            th = threading.Thread(target=bolt.run)
            started = time.monotonic()
            th.start()
            wf.write(frame([handshake(pid_dir), tup("1", ["a", 1]), tup("2", ["b", 1]), tup("3", ["a", 1])]))
            wf.flush()
            deadline = time.monotonic() + 5
            while len(batches) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            wf.write(frame([tup("4", ["a", 1])]))
            wf.flush()
            while len(batches) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            wf.close()
            th.join(5)
            self.assertFalse(th.is_alive())
        self.assertEqual(sorted((k, ids) for _, k, ids in batches[:2]), [("a", ["1", "3"]), ("b", ["2"])])
        self.assertEqual(batches[2][1:], ("a", ["4"]))
        # No batch before the first period; a batch per period after.
        self.assertGreaterEqual(batches[0][0] - started, 0.15)
        self.assertGreaterEqual(batches[2][0] - batches[0][0], 0.15)
        msgs = written(unframe(out.getvalue()))
        self.assertEqual(sorted(m["id"] for m in msgs if m.get("command") == "ack"), ["1", "2", "3", "4"])
        anchors = sorted(m["anchors"] for m in msgs if m.get("command") == "emit")
        self.assertEqual(anchors, [["1", "3"], ["2"], ["4"]])


class SpoutTest(unittest.TestCase):
    def test_multi_stream_spout(self):
        class Multi(Spout):
            outputs = [Stream(["n"]), Stream(["n"], name="odd"), Stream(["n"], name="direct", direct=True)]

            def next_tuple(self):
                self.emit([1], tup_id=1)
                self.emit([2], stream="odd")
                self.emit([3], stream="direct", direct_task=7)

        _, out = run(Multi, [{"command": "next"}])
        emits = [m for m in written(out) if m.get("command") == "emit"]
        self.assertEqual(emits[0]["id"], 1)
        self.assertEqual(emits[1]["stream"], "odd")
        self.assertEqual((emits[2]["stream"], emits[2]["task"]), ("direct", 7))


def python_env(src):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([src, PYTHON_DIR])
    return env


class EvaluatorTest(unittest.TestCase):
    def project(self, topology_text):
        d = tempfile.mkdtemp(prefix="sparse-streamparse-test-")
        self.addCleanup(__import__("shutil").rmtree, d, True)
        os.makedirs(os.path.join(d, "src", "bolts"))
        os.makedirs(os.path.join(d, "topologies"))
        with open(os.path.join(d, "src", "bolts", "__init__.py"), "w") as f:
            f.write("")
        with open(os.path.join(d, "src", "bolts", "words.py"), "w") as f:
            f.write(textwrap.dedent("""
                from streamparse import Bolt, Spout

                class WordSpout(Spout):
                    outputs = ["word"]

                class CountBolt(Bolt):
                    outputs = ["word", "count"]
            """))
        with open(os.path.join(d, "topologies", "wc.py"), "w") as f:
            f.write(textwrap.dedent(topology_text))
        return d

    def describe(self, d):
        return subprocess.run([sys.executable, "-m", "streamparse.describe", os.path.join(d, "topologies", "wc.py"), "wc"],
                              env=python_env(os.path.join(d, "src")), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=30)

    def test_prints_json(self):
        d = self.project("""
            from streamparse import Grouping, Topology
            from bolts.words import CountBolt, WordSpout
            print("noise")

            class WordCount(Topology):
                spout = WordSpout.spec()
                count = CountBolt.spec(inputs={spout: Grouping.fields("word")}, par=2)
        """)
        p = self.describe(d)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("noise", p.stderr)
        data = json.loads(p.stdout)
        self.assertEqual(data["name"], "wc")
        self.assertEqual(data["components"][1]["python"], {"module": "bolts.words", "class": "CountBolt"})

    def test_error_has_file_and_line(self):
        d = self.project("""
            from streamparse import Grouping, Topology
            from bolts.words import CountBolt, WordSpout

            class WordCount(Topology):
                spout = WordSpout.spec()
                count = CountBolt.spec(inputs={spout: Grouping.fields("wrd")}, par=2)
        """)
        p = self.describe(d)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "")
        self.assertIn("wc.py\", line 5", p.stderr)
        self.assertIn("TopologyError", p.stderr)
        self.assertIn("field 'wrd'", p.stderr)

    def test_class_in_topology_file(self):
        d = self.project("""
            from streamparse import Spout, Topology

            class Inline(Spout):
                outputs = ["x"]

            class T(Topology):
                spout = Inline.spec()
        """)
        p = self.describe(d)
        self.assertEqual(p.returncode, 1)
        self.assertIn("move it to a module under src/", p.stderr)

    def test_run_loads_the_class(self):
        d = self.project("")
        with PidDir() as pid_dir:
            data = frame([handshake(pid_dir), tup("a", ["w", 1])])
            p = subprocess.run([sys.executable, "-m", "streamparse.run", "bolts.words.CountBolt"],
                               cwd=os.path.join(d, "src"), env=python_env(""), input=data,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        msgs = unframe(p.stdout)
        # CountBolt has no process: the error is reported and the tuple failed.
        self.assertIn({"command": "fail", "id": "a"}, msgs, p.stderr)


if __name__ == "__main__":
    unittest.main()
