package worker

import (
	"reflect"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestFlagsRoundTrip: the command line a supervisor writes with Args parses back, through
// the flags a worker registers, into the same Flags.
func TestFlagsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		f    Flags
	}{
		{"supervised", Flags{Assignment: "/d/assignment.json", ID: "s1:6700", ConfigFile: "/d/config.json",
			HeartbeatFile: "/d/heartbeat", SupervisedFile: "/d/supervised", OrphanTimeout: 90 * time.Second,
			StartInactive: true, MetricsAddr: "127.0.0.1:9100", LogFormat: "json"}},
		{"supervised, no orphan timeout", Flags{Assignment: "a.json", ID: "w1", SupervisedFile: "s"}},
		{"by hand", Flags{Assignment: "a.json", ID: "w1"}},
		{"reporting to nimbus", Flags{Assignment: "a.json", ID: "w1", Nimbus: []string{"10.0.0.1:6627", "10.0.0.2:6627"}, ReportEvery: 2 * time.Second}},
		{"spaces and dashes", Flags{Assignment: "my dir/--a.json", ID: "-w"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.f.Args()
			if args[0] != Subcommand {
				t.Fatalf("args %q do not start with %q", args, Subcommand)
			}
			var got Flags
			cmd := &cobra.Command{Use: Subcommand}
			got.Register(cmd)
			if err := cmd.ParseFlags(args[1:]); err != nil {
				t.Fatalf("parsing %q: %v", args, err)
			}
			if err := cmd.ValidateRequiredFlags(); err != nil {
				t.Fatalf("parsing %q: %v", args, err)
			}
			if !reflect.DeepEqual(got, tc.f) {
				t.Errorf("%q parsed as\n%+v\nwant %+v", args, got, tc.f)
			}
		})
	}
}

// TestFlagsRequired: a command line without the assignment or the worker id is refused.
func TestFlagsRequired(t *testing.T) {
	var f Flags
	cmd := &cobra.Command{Use: Subcommand}
	f.Register(cmd)
	if err := cmd.ParseFlags([]string{"--id", "w1"}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.ValidateRequiredFlags(); err == nil {
		t.Error("a command line without --assignment was accepted")
	}
}
