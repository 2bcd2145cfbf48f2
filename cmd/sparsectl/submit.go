package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/ctl"
)

func submitCmd() *cobra.Command {
	var (
		conn        ctl.ConnFlags
		name        string
		workers     int
		options     []string
		waitActive  bool
		waitTimeout time.Duration
		asJSON      bool
		resources   string
		pf          projectFlags
	)
	cmd := &cobra.Command{
		Use:   "submit [<topology-binary-or-spec>]",
		Short: "Upload a topology binary or spec to the cluster and start it",
		Long: `Submit a topology to the cluster. sparsectl runs "<binary> describe" to read the
topology, checks it with the overrides, and uploads the binary to the leading nimbus,
which stores it and schedules the topology's workers on the supervisors. The binary
must be built for the cluster's OS and architecture. Prints the topology id.

A spec (a topology.yaml, or a folder holding one) is checked the same way and uploaded
as a bundle: the spec and every file of its resources folder (--resources, default the
spec's folder) in one archive, which supervisors run with the generic worker.

In a streamparse project folder (a config.json with topology_specs), with no argument
or with the folder as the argument, it submits topologies/NAME.py (-n NAME; optional
when there is one) as a bundle of the project's src folder and the topology's
requirements (virtualenvs/NAME.txt), and finds nimbus in config.json's envs (-e ENV).`,
		Example: `  sparsectl submit ./wordcount --workers 2 -o topology.max.spout.pending=1000
  sparsectl submit ./wordcount --name wc-test --env prod --wait-active
  sparsectl submit examples/wordcount-yaml/topology.yaml --workers 2
  cd wordcount && sparsectl submit -n wordcount -e prod   # a streamparse project`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			projectDir, isProject := projectArg(args)
			if !isProject && len(args) == 0 {
				return errNoArgument("submit")
			}
			options = append(options, pf.overrides(cmd)...)
			if !isProject && (pf.wheelhouse != "" || pf.downloadWheels) {
				return fmt.Errorf("--wheelhouse and --download-wheels are for streamparse projects")
			}
			if pf.wheelhouse != "" && pf.downloadWheels {
				return fmt.Errorf("give either --wheelhouse or --download-wheels, not both")
			}
			if isProject {
				if resources != "" {
					return fmt.Errorf("--resources is for specs; a streamparse project's resources are its src folder")
				}
				useProjectConfig(&conn, projectDir, cmd.ErrOrStderr(), pf.verbose)
			}
			overrides, err := ctl.ParseOverrides(options)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("workers") && workers < 1 {
				return fmt.Errorf("--workers %d: give a number of workers of at least 1", workers)
			}
			c, err := conn.Client()
			if err != nil {
				return err
			}
			defer c.Close()
			pctx, pcancel := conn.Context(cmd.Context(), 0) // describing the binary is bounded by --timeout too
			var sub *ctl.Submission
			var cleanup func()
			if isProject {
				sub, cleanup, err = prepareProjectSubmit(pctx, projectDir, &pf, ctl.SubmitOptions{Name: name, Workers: workers, Overrides: overrides}, cmd.ErrOrStderr())
			} else {
				sub, cleanup, err = prepareSubmit(pctx, args[0], resources, ctl.SubmitOptions{Binary: args[0], Name: name, Workers: workers, Overrides: overrides})
			}
			pcancel()
			if err != nil {
				return err
			}
			defer cleanup()
			// Allow a second per MiB for the upload on top of --timeout.
			ctx, cancel := conn.Context(cmd.Context(), time.Duration(sub.Header.GetArtifactSize()/ctl.ChunkSize)*time.Second)
			defer cancel()
			progress := ctl.NewProgress(cmd.ErrOrStderr())
			sub.Progress = progress.Upload(sub.Header.GetName())
			res, err := c.Submit(ctx, sub)
			progress.Done()
			if err != nil {
				return fmt.Errorf("submitting %s: %w", sub.Header.GetName(), err)
			}
			if !asJSON {
				if err := ctl.WriteSubmit(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			}
			if waitActive {
				wctx, wcancel := context.WithTimeout(cmd.Context(), waitTimeout)
				defer wcancel()
				if !asJSON {
					if _, err := fmt.Fprintf(cmd.OutOrStdout(), "waiting for %s to run (up to %s)...\n", res.TopologyID, waitTimeout); err != nil {
						return err
					}
				}
				d, err := c.WaitActive(wctx, res.TopologyID, 500*time.Millisecond)
				if err != nil {
					return fmt.Errorf("%w (waited %s; see sparsectl describe %s)", err, waitTimeout, res.TopologyID)
				}
				if !asJSON {
					_, err := fmt.Fprintf(cmd.OutOrStdout(), "topology %s is active with %s\n", res.TopologyID, ctl.Count(len(d.GetWorkers()), "worker"))
					return err
				}
			}
			if asJSON {
				return ctl.WriteJSON(cmd.OutOrStdout(), res)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&name, "name", "n", "", "the topology's name in the cluster (default: the name the binary describes); in a streamparse project, the topology to submit, topologies/NAME.py")
	f.IntVar(&workers, "workers", 0, "number of worker processes (sets topology.workers; default: the topology's config, else 1)")
	f.StringArrayVarP(&options, "option", "o", nil, "override a topology config value, key=value (repeatable), e.g. -o topology.message.timeout.secs=60")
	f.BoolVar(&waitActive, "wait-active", false, "after submitting, wait until the topology is active and all its workers are alive")
	f.DurationVar(&waitTimeout, "wait-timeout", 2*time.Minute, "how long --wait-active waits")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	conn.Register(f)
	registerResources(cmd, &resources)
	f.IntVar(&pf.ackers, "ackers", 0, "number of acker executors (sets topology.acker.executors)")
	f.BoolVar(&pf.debug, "debug", false, "sets topology.debug=true (components log at debug level)")
	f.StringVar(&pf.wheelhouse, "wheelhouse", "", "streamparse project: ship the wheels (*.whl) of this folder in the bundle; supervisors install the requirements from them with no index")
	f.StringVar(&pf.pipIndex, "pip-index", "", "streamparse project: the package index (or proxy) to build the local virtualenv and --download-wheels from")
	f.BoolVar(&pf.downloadWheels, "download-wheels", false, "streamparse project: build the wheels of the requirements here (pip wheel, from this machine's index) and ship them in the bundle, for nodes without an index; they must share this machine's Python and platform")
	f.BoolVar(&pf.noVenv, "no-venv", false, "streamparse project: evaluate the topology file with python3 as it is, not in the topology's local virtualenv")
	f.BoolVarP(&pf.verbose, "verbose", "v", false, "streamparse project: print the spec the topology becomes and the config.json keys sparse ignores")
	return cmd
}
