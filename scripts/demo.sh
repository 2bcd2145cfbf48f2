#!/usr/bin/env bash
# The demo of `make demo`: a one-node cluster (nimbusd with its embedded etcd, and one
# supervisord with 4 worker slots) runs the wordcount example on 2 workers for a while,
# shows its progress, and shuts everything down. The ports can be moved with the
# environment variables below if they are taken.
set -euo pipefail

BIN=${BIN:-bin}
NIMBUS=${NIMBUS:-127.0.0.1:16627}
ETCD=${ETCD:-127.0.0.1:12379}
ETCD_PEER=${ETCD_PEER:-127.0.0.1:12380}
SLOT_BASE=${SLOT_BASE:-16700}
LOGS=${LOGS:-127.0.0.1:16800}
HTTP=${HTTP:-127.0.0.1:16080}
METRICS=${METRICS:-127.0.0.1:16900}
SECONDS_TO_RUN=${SECONDS_TO_RUN:-20}

work=$(mktemp -d "${TMPDIR:-/tmp}/sparse-demo.XXXXXX")
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

ctl() { "$BIN/sparsectl" --nimbus "$NIMBUS" "$@"; }

echo "== starting nimbusd (embedded etcd at $ETCD) and one supervisord with 4 slots; logs in $work"
"$BIN/nimbusd" --id demo-nimbus --listen "$NIMBUS" --data-dir "$work/nimbus" \
	--etcd-listen "$ETCD" --etcd-peer-listen "$ETCD_PEER" --http "$HTTP" --metrics-addr "$METRICS" >"$work/nimbusd.log" 2>&1 &
pids+=($!)
"$BIN/supervisord" --id demo-supervisor --data-dir "$work/supervisor" --etcd-endpoints "$ETCD" \
	--slot-count 4 --slot-base "$SLOT_BASE" --logs-addr "$LOGS" >"$work/supervisord.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
	if ctl supervisors 2>/dev/null | grep -q demo-supervisor; then break; fi
	sleep 0.2
done
ctl supervisors
echo "== where to look while it runs"
echo "  web UI:                          http://$HTTP/ui/"
echo "  REST API (Storm's UI API):       http://$HTTP/api/v1/cluster/summary"
echo "  Prometheus service discovery:    http://$HTTP/api/v1/prometheus/sd"
echo "  nimbusd's metrics:               http://$METRICS/metrics (workers: slot port + 1000)"
echo "  the workers' logs:               $BIN/sparsectl --nimbus $NIMBUS logs wordcount -f (served by the supervisor at $LOGS)"
echo "  the topology's figures:          $BIN/sparsectl --nimbus $NIMBUS stats wordcount"

echo "== submitting examples/wordcount on 2 workers"
ctl submit "$BIN/wordcount" --name wordcount --workers 2 --wait-active

for ((t = 5; t <= SECONDS_TO_RUN; t += 5)); do
	sleep 5
	echo "== after ${t}s"
	ctl list
	# Each worker prints a summary line per component every 5 seconds.
	for log in "$work"/supervisor/workers/*/*/worker.log; do
		grep -E '^sentences +spout' "$log" | tail -n 1 | sed "s|^|  $(basename "$(dirname "$log")"): |" || true
	done
done

echo "== where everything runs"
ctl describe wordcount
echo "== its figures on the leading nimbus (sparsectl stats wordcount)"
ctl stats wordcount
echo "== the workers' logs, served by the supervisor at $LOGS (sparsectl logs wordcount [-f])"
ctl logs wordcount --lines 8
echo "== killing the topology and stopping the cluster"
ctl kill wordcount --wait=2s
