// Package e2e runs sparse's real binaries as OS processes on loopback: nothing is mocked.
package e2e

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bins holds the binaries built once for every test.
var bins struct {
	dir                                        string
	wordcount, sparsectl, nimbusd, supervisord string
	sparseWorker                               string // beside supervisord, which finds it there
	kafkaWordcount                             string
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "sparse-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins.dir = dir
	race := os.Getenv("SPARSE_E2E_NORACE") == ""
	for _, b := range []struct {
		out *string
		pkg string
	}{
		{&bins.wordcount, "../../examples/wordcount"},
		{&bins.sparsectl, "../../cmd/sparsectl"},
		{&bins.nimbusd, "../../cmd/nimbusd"},
		{&bins.supervisord, "../../cmd/supervisord"},
		{&bins.sparseWorker, "../../cmd/sparse-worker"},
		{&bins.kafkaWordcount, "../../examples/kafka-wordcount"},
	} {
		*b.out = filepath.Join(dir, filepath.Base(b.pkg))
		args := []string{"build", "-o", *b.out, b.pkg}
		if race {
			args = []string{"build", "-race", "-o", *b.out, b.pkg}
		}
		build := exec.Command("go", args...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building %s failed: %v\n", b.pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddrs returns n loopback addresses with ports that were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// proc is a running binary whose output goes to files in the test's directory.
type proc struct {
	name    string
	cmd     *exec.Cmd
	stdout  string
	stderr  string
	exited  chan struct{}
	exitErr error
}

func startProc(t *testing.T, dir, name string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, stdout: filepath.Join(dir, name+".out"), stderr: filepath.Join(dir, name+".err"), exited: make(chan struct{})}
	out, err := os.OpenFile(p.stdout, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	errf, err := os.OpenFile(p.stderr, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = out, errf
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.exitErr = p.cmd.Wait()
		out.Close()
		errf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.exitErr != nil {
			t.Errorf("%s exited with %v; its log:\n%s", p.name, p.exitErr, tail(p.stderr, 30))
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop within 30s of SIGTERM", p.name)
		p.kill()
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ackedIDs reads every spout task's ack log in dir: the set of acked ids and how many
// lines there were.
func ackedIDs(t *testing.T, dir string) (map[int64]bool, int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "acked-*.log"))
	ids := map[int64]bool{}
	lines := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			id, err := strconv.ParseInt(strings.TrimSpace(sc.Text()), 10, 64)
			if err != nil {
				continue // a line cut by SIGKILL
			}
			ids[id] = true
			lines++
		}
		fh.Close()
	}
	return ids, lines
}

// waitAcked polls until n distinct ids are acked or the deadline passes.
func waitAcked(t *testing.T, dir string, n int, within time.Duration, procs ...*proc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		ids, _ := ackedIDs(t, dir)
		if len(ids) >= n {
			return
		}
		for _, p := range procs {
			select {
			case <-p.exited:
				t.Fatalf("%s exited early (%v); its log:\n%s", p.name, p.exitErr, tail(p.stderr, 40))
			default:
			}
		}
		select {
		case <-ctx.Done():
			var logs strings.Builder
			for _, p := range procs {
				fmt.Fprintf(&logs, "\n--- %s stdout:\n%s\n--- %s stderr:\n%s", p.name, tail(p.stdout, 12), p.name, tail(p.stderr, 20))
			}
			t.Fatalf("only %d of %d ids acked after %v%s", len(ids), n, within, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// finalField sums a field of the last summary line of a component in a worker's stdout.
func finalField(path, component, field string) int64 {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) < 2 || f[0] != component {
			continue
		}
		for _, kv := range f[2:] {
			if v, ok := strings.CutPrefix(kv, field+"="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
	}
	return 0
}
