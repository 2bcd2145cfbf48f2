package worker

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/logging"
	"github.com/sparsestream/sparse/internal/tlsconf"
)

// Subcommand is the subcommand of a topology binary (and of the generic worker) that
// runs one worker process.
const Subcommand = "worker"

// Flags is the command line a supervisor starts a worker with, after Subcommand: the
// contract between the two sides, written once. Register parses it; Args writes it.
type Flags struct {
	// Assignment is the assignment file (see Load), and ID this worker's id in it.
	Assignment string
	ID         string
	// ConfigFile is a JSON object of topology config (see LoadConfig).
	ConfigFile string
	// HeartbeatFile is touched every second while the worker runs.
	HeartbeatFile string
	// SupervisedFile and OrphanTimeout: see Options.
	SupervisedFile string
	OrphanTimeout  time.Duration
	// MetricsAddr serves Prometheus /metrics on host:port (empty: none).
	MetricsAddr string
	// StartInactive keeps the spouts paused until the supervisor activates them.
	StartInactive bool
	// TLSDir holds the worker's TLS files, written by its supervisor (see
	// tlsconf.WorkerFiles): the key material never appears on a command line.
	TLSDir string
	// Insecure lets the worker listen off loopback without TLS.
	Insecure bool
	// MetricsTLSDir holds the certificate and key (tlsconf.WorkerMetricsCertFile and
	// WorkerMetricsKeyFile, written by the supervisor) that /metrics is served over
	// HTTPS with; read again on SIGHUP.
	MetricsTLSDir string
	// Nimbus are nimbus API addresses the worker reports its executors' statistics to
	// (the leader among them; see Options.Nimbus), every ReportEvery.
	Nimbus      []string
	ReportEvery time.Duration
	// LogFormat is the worker's --log-format (text or json; empty: text).
	LogFormat string
}

// The flag names of Flags.
const (
	flagAssignment     = "assignment"
	flagID             = "id"
	flagConfigFile     = "config-file"
	flagHeartbeatFile  = "heartbeat-file"
	flagMetricsAddr    = "metrics-addr"
	flagSupervisedFile = "supervised-file"
	flagOrphanTimeout  = "orphan-timeout"
	flagStartInactive  = "start-inactive"
	flagTLSDir         = "tls-dir"
	flagInsecure       = "insecure"
	flagMetricsTLSDir  = "metrics-tls-dir"
	flagNimbus         = "nimbus"
	flagReportEvery    = "report-every"
	flagLogFormat      = "log-format"
)

// Register adds the flags to a command; --assignment and --id are required.
func (f *Flags) Register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.Assignment, flagAssignment, "", "assignment JSON file (required)")
	fs.StringVar(&f.ID, flagID, "", "this worker's id in the assignment (required)")
	fs.StringVar(&f.ConfigFile, flagConfigFile, "", "JSON object of topology config; -o options override it")
	fs.StringVar(&f.HeartbeatFile, flagHeartbeatFile, "", "file touched every second while the worker runs, removed when it stops (for a supervisor)")
	fs.StringVar(&f.MetricsAddr, flagMetricsAddr, "", "serve Prometheus /metrics on this host:port (default: none)")
	fs.StringVar(&f.SupervisedFile, flagSupervisedFile, "", "file the supervisor touches while it looks after this worker (with --orphan-timeout)")
	fs.DurationVar(&f.OrphanTimeout, flagOrphanTimeout, 0, "stop when --supervised-file has not been touched this long (0: never)")
	fs.BoolVar(&f.StartInactive, flagStartInactive, false, "keep the spouts paused until the supervisor activates them through WorkerAdmin.SetActive")
	fs.StringVar(&f.TLSDir, flagTLSDir, "", "directory of this worker's "+tlsconf.WorkerCAFile+", "+tlsconf.WorkerCertFile+" and "+tlsconf.WorkerKeyFile+" (written by the supervisor): serve and dial peers with mutual TLS")
	fs.BoolVar(&f.Insecure, flagInsecure, false, "allow listening on a non-loopback address without TLS")
	fs.StringVar(&f.MetricsTLSDir, flagMetricsTLSDir, "", "directory of the "+tlsconf.WorkerMetricsCertFile+" and "+tlsconf.WorkerMetricsKeyFile+" (written by the supervisor) to serve /metrics over HTTPS with")
	fs.StringSliceVar(&f.Nimbus, flagNimbus, nil, "nimbus API addresses (host:port, comma-separated) to report executor statistics to; the worker follows the leader (default: none, no reports)")
	fs.DurationVar(&f.ReportEvery, flagReportEvery, 0, "how often to report statistics to nimbus (default 5s)")
	fs.StringVar(&f.LogFormat, flagLogFormat, "", "log format: text (the default), or "+logging.FormatJSON+" (one object a line, for log shippers)")
	_ = cmd.MarkFlagRequired(flagAssignment)
	_ = cmd.MarkFlagRequired(flagID)
}

// Args is the command line that Register parses back into f: Subcommand and the flags
// that are set.
func (f *Flags) Args() []string {
	args := []string{Subcommand}
	add := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	add(flagAssignment, f.Assignment)
	add(flagID, f.ID)
	add(flagConfigFile, f.ConfigFile)
	add(flagHeartbeatFile, f.HeartbeatFile)
	add(flagSupervisedFile, f.SupervisedFile)
	if f.SupervisedFile != "" || f.OrphanTimeout != 0 {
		add(flagOrphanTimeout, f.OrphanTimeout.String())
	}
	if f.StartInactive {
		args = append(args, "--"+flagStartInactive)
	}
	add(flagMetricsAddr, f.MetricsAddr)
	add(flagTLSDir, f.TLSDir)
	add(flagMetricsTLSDir, f.MetricsTLSDir)
	if f.Insecure {
		args = append(args, "--"+flagInsecure)
	}
	add(flagNimbus, strings.Join(f.Nimbus, ","))
	if f.ReportEvery != 0 {
		add(flagReportEvery, f.ReportEvery.String())
	}
	add(flagLogFormat, f.LogFormat)
	return args
}
