package flagfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type flags struct {
	listen    string
	endpoints []string
	acl       bool
	ttl       time.Duration
	slots     int
}

func newFlags() (*pflag.FlagSet, *flags) {
	var f flags
	fs := pflag.NewFlagSet("nimbusd", pflag.ContinueOnError)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:6627", "")
	fs.StringSliceVar(&f.endpoints, "etcd-endpoints", nil, "")
	fs.BoolVar(&f.acl, "acl", false, "")
	fs.DurationVar(&f.ttl, "leader-ttl", 10*time.Second, "")
	fs.IntVar(&f.slots, "slot-count", 4, "")
	return fs, &f
}

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApply(t *testing.T) {
	fs, f := newFlags()
	if err := fs.Parse([]string{"--slot-count", "8"}); err != nil {
		t.Fatal(err)
	}
	path := write(t, `# nimbusd
listen: 10.0.0.1:6627
etcd-endpoints: [https://e1:2379, https://e2:2379]
acl: true
leader-ttl: 15s
slot-count: 2   # the command line's 8 wins
`)
	if err := Apply(fs, path); err != nil {
		t.Fatal(err)
	}
	if f.listen != "10.0.0.1:6627" || strings.Join(f.endpoints, " ") != "https://e1:2379 https://e2:2379" || !f.acl || f.ttl != 15*time.Second || f.slots != 8 {
		t.Fatalf("applied: %+v", *f)
	}
}

func TestApplyRefusals(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"unknown key", "listn: x\n", `line 1: "listn" is not a flag of this command (did you mean listen?)`},
		{"bad duration", "leader-ttl: soon\n", "line 1: leader-ttl: invalid argument"},
		{"bad bool", "acl: maybe\n", `acl: "maybe" is not true or false`},
		{"bad int", "slot-count: many\n", "slot-count: invalid argument"},
		{"not a mapping", "- listen\n", "must be a mapping of flag names"},
		{"nested", "listen:\n  host: x\n", "not a mapping"},
		{"duplicate", "acl: true\nacl: false\n", `line 2: "acl" is set again (first on line 1)`},
		{"null", "listen:\n", "no value"},
		{"config in config", "config: other.yaml\n", "cannot name another config file"},
		{"two documents", "acl: true\n---\nacl: false\n", "a second YAML document"},
		{"not yaml", "listen: [x\n", "not YAML"},
		{"comma in a list item", "etcd-endpoints: ['a,b']\n", "holds a comma"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, _ := newFlags()
			err := Apply(fs, write(t, c.text))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--config") {
				t.Fatalf("Apply = %v; want an error naming --config and saying %q", err, c.want)
			}
		})
	}
	fs, _ := newFlags()
	if err := Apply(fs, filepath.Join(t.TempDir(), "gone.yaml")); err == nil || !strings.Contains(err.Error(), "reading --config") {
		t.Fatalf("a missing file: %v", err)
	}
}

func TestEmpty(t *testing.T) {
	for _, text := range []string{"", "# nothing\n", "~\n"} {
		fs, f := newFlags()
		if err := Apply(fs, write(t, text)); err != nil || f.listen != "127.0.0.1:6627" {
			t.Fatalf("%q: %v, %+v", text, err, *f)
		}
	}
}

// TestRegister: --config on a cobra command is applied before it runs, under the
// command line.
func TestRegister(t *testing.T) {
	var listen string
	var ran bool
	cmd := &cobra.Command{Use: "d", RunE: func(*cobra.Command, []string) error { ran = true; return nil }}
	cmd.Flags().StringVar(&listen, "listen", "a", "")
	Register(cmd)
	path := write(t, "listen: from-file\n")
	cmd.SetArgs([]string{"--config", path})
	if err := cmd.Execute(); err != nil || !ran || listen != "from-file" {
		t.Fatalf("Execute = %v, ran %v, listen %q", err, ran, listen)
	}
	cmd.SetArgs([]string{"--config", path, "--listen", "from-flag"})
	if err := cmd.Execute(); err != nil || listen != "from-flag" {
		t.Fatalf("Execute = %v, listen %q", err, listen)
	}
}

// FuzzParse: no file makes Parse panic, and what it accepts applies or is refused
// with an error.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"listen: x\n", "a: [1, 2]\n", "- x\n", "a: &x 1\nb: *x\n", "", "a:\n  b: c\n", "? [a]\n: b\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		settings, err := Parse(data)
		if err != nil {
			return
		}
		fs, _ := newFlags()
		for _, s := range settings {
			_ = s.apply(fs)
		}
	})
}
