package main

import (
	"strconv"

	"github.com/spf13/pflag"

	"github.com/sparsestream/sparse/internal/nimbus"
	"github.com/sparsestream/sparse/pkg/topology"
)

// limitFlags are the flags of what one request may cost nimbusd (docs/security.md,
// "Limits"): the size of a topology, and the uploads and waits of the API.
func limitFlags(f *pflag.FlagSet, cfg *nimbus.Config) {
	d, m := topology.DefaultLimits, topology.MaxLimits
	l := &cfg.Limits
	f.IntVar(&l.TasksPerComponent, "max-tasks-per-component", d.TasksPerComponent, limitUsage("tasks of one component", m.TasksPerComponent))
	f.IntVar(&l.Tasks, "max-tasks", d.Tasks, limitUsage("tasks of a topology, acker tasks included", m.Tasks))
	f.IntVar(&l.Executors, "max-executors", d.Executors, limitUsage("executors of a topology, acker executors included", m.Executors))
	f.IntVar(&l.Workers, "max-workers", d.Workers, limitUsage("topology.workers of a topology", m.Workers))
	f.IntVar(&l.Ackers, "max-ackers", d.Ackers, limitUsage("topology.acker.executors of a topology", m.Ackers))
	f.IntVar(&l.ConfigBytes, "max-config-bytes", d.ConfigBytes, limitUsage("bytes of a topology's configuration as JSON", m.ConfigBytes))
	f.IntVar(&l.NameLength, "max-name-length", d.NameLength, limitUsage("bytes of a topology name, component id or stream id", m.NameLength))
	f.Int64Var(&cfg.MaxArtifactSize, "max-artifact-size", nimbus.DefaultMaxArtifactSize, "most bytes of a submitted artifact")
	f.IntVar(&cfg.MaxConcurrentUploads, "max-concurrent-uploads", nimbus.DefaultMaxConcurrentUploads, "most submissions receiving an artifact at once; more are refused until one ends")
	f.DurationVar(&cfg.UploadProgressTimeout, "upload-progress-timeout", nimbus.DefaultUploadProgressTimeout,
		"drop a submission, or an artifact fetch from another nimbus, that receives nothing for this long")
	f.DurationVar(&cfg.MaxWait, "max-wait", nimbus.DefaultMaxWait, "longest wait of a kill or a rebalance; a longer --wait is refused")
}

func limitUsage(what string, ceiling int) string {
	return "most " + what + " (at most " + strconv.Itoa(ceiling) + ")"
}
