package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/executor/execmetrics"
	"github.com/sparsestream/sparse/internal/logging"
	"github.com/sparsestream/sparse/internal/metrics"
	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/internal/worker"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/transport"
)

// WorkerFlags are the worker subcommand's own flags, beside RunFlags: the command line a
// supervisor starts a worker with.
type WorkerFlags = worker.Flags

func workerCommand(b specFunc) *cobra.Command {
	var f RunFlags
	var wf WorkerFlags
	cmd := &cobra.Command{
		Use:   worker.Subcommand,
		Short: "Run this worker's share of the topology, talking to its peer workers",
		Long: `Run one worker process of the topology. The assignment file says which tasks each
worker runs and where it listens; every worker of the topology must be given the same
assignment and the same config (--config-file and -o options). Make one with the assign
subcommand, or let a supervisor (supervisord) start its workers.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := b()
			if err != nil {
				return err
			}
			return RunWorker(cmd.Context(), spec, f, wf, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.Register(cmd)
	wf.Register(cmd)
	return cmd
}

// RunWorker runs one worker process of spec until it is interrupted (SIGINT, SIGTERM),
// --time passes, or it fails.
func RunWorker(ctx context.Context, spec *topology.Spec, f RunFlags, wf WorkerFlags, out, logOut io.Writer) error {
	conf := topology.Config{}
	if wf.ConfigFile != "" {
		c, err := worker.LoadConfig(wf.ConfigFile)
		if err != nil {
			return err
		}
		conf = c
	}
	overrides, err := f.Overrides()
	if err != nil {
		return err
	}
	conf = conf.Merge(overrides)
	a, err := worker.Load(wf.Assignment)
	if err != nil {
		return err
	}
	levels, log, err := logging.NewLevels(spec.Name, f.LogLevel, wf.LogFormat, logOut, "topology", a.TopologyID, "worker", wf.ID)
	if err != nil {
		return err
	}
	o := worker.Options{Spec: spec, Config: conf, Assignment: a, WorkerID: wf.ID, Logger: log,
		StatsEvery: f.StatsEvery, Out: out, StartInactive: wf.StartInactive, HeartbeatFile: wf.HeartbeatFile,
		SupervisedFile: wf.SupervisedFile, OrphanTimeout: wf.OrphanTimeout, Insecure: wf.Insecure,
		Nimbus: wf.Nimbus, ReportEvery: wf.ReportEvery, Levels: levels}
	if wf.TLSDir != "" {
		if o.TLS, err = tlsconf.Load(tlsconf.WorkerFiles(wf.TLSDir), log); err != nil {
			return fmt.Errorf("the worker's TLS files: %w", err)
		}
	}
	w, err := worker.New(o)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.TLS != nil {
		o.TLS.ReloadOnSignal(ctx) // after new files are written into its directory
	}
	if f.Time > 0 {
		var cancel func()
		ctx, cancel = context.WithTimeout(ctx, f.Time)
		defer cancel()
	}
	if wf.MetricsAddr != "" {
		var metricsTLS *tls.Config
		if wf.MetricsTLSDir != "" {
			metricsTLS, err = tlsconf.MetricsConfig(ctx, filepath.Join(wf.MetricsTLSDir, tlsconf.WorkerMetricsCertFile),
				filepath.Join(wf.MetricsTLSDir, tlsconf.WorkerMetricsKeyFile), log)
			if err != nil {
				return fmt.Errorf("the worker's metrics certificate (--metrics-tls-dir): %w", err)
			}
		}
		serveWorkerMetrics(ctx, wf.MetricsAddr, a.TopologyID, wf.ID, w, log, metricsTLS)
	}
	return w.Run(ctx)
}

func assignCommand(b specFunc) *cobra.Command {
	var workers, options []string
	var topologyID string
	var version int64
	cmd := &cobra.Command{
		Use:   "assign --worker id=host:port [--worker ...]",
		Short: "Print a static assignment spreading every component over the given workers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := b()
			if err != nil {
				return err
			}
			f := RunFlags{Options: options}
			conf, err := f.Overrides()
			if err != nil {
				return err
			}
			var eps []scheduler.WorkerSlot
			for _, w := range workers {
				id, addr, ok := strings.Cut(w, "=")
				if !ok || id == "" || addr == "" {
					return fmt.Errorf("--worker %q is not id=host:port; write for example --worker w1=127.0.0.1:7001", w)
				}
				eps = append(eps, worker.Static(id, addr))
			}
			if len(eps) == 0 {
				return fmt.Errorf("no workers; pass --worker id=host:port once per worker")
			}
			if topologyID == "" {
				topologyID = spec.Name
			}
			conf = spec.Config.Merge(conf)
			if _, set := conf[topology.ConfWorkers]; !set {
				conf[topology.ConfWorkers] = int64(len(eps))
			}
			a := worker.Spread(topologyID, version, topology.NewLayout(spec, conf.AckerTasks()), eps)
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(a)
		},
	}
	cmd.Flags().StringArrayVar(&workers, "worker", nil, "a worker as id=host:port (repeatable)")
	cmd.Flags().StringArrayVarP(&options, "option", "o", nil, "the -o options the workers will run with (they decide the number of ackers)")
	cmd.Flags().StringVar(&topologyID, "topology-id", "", "the topology id (default: the topology's name)")
	cmd.Flags().Int64Var(&version, "version", 1, "the assignment version")
	return cmd
}

// serveWorkerMetrics serves the worker's Prometheus /metrics (and /healthz) on addr
// until ctx ends (over HTTPS with tc): its executors, its transport and its queues. A
// port that cannot be bound is logged, not fatal: the worker's tuples matter more than
// its metrics.
func serveWorkerMetrics(ctx context.Context, addr, topologyID, workerID string, w *worker.Worker, log hclog.Logger, tc *tls.Config) {
	reg := metrics.NewRegistry()
	rt := w.Runtime()
	reg.MustRegister(
		execmetrics.NewRuntimeCollector(topologyID, rt.Stats),
		transport.NewCollector(topologyID, workerID, w.Transport),
		execmetrics.NewTransferQueueCollector(topologyID, workerID, rt.Outbound),
		execmetrics.NewReceiveQueueCollector(topologyID, rt.QueueDepths),
		execmetrics.NewUserCollector(topologyID, rt.UserMetrics()),
		metrics.Dynamic(), // what connectors (the Kafka spout and bolt) add once their tasks open
	)
	if _, err := metrics.ServeTLS(ctx, addr, reg, log, tc); err != nil {
		log.Error("the worker runs without /metrics", "error", err)
	}
}
