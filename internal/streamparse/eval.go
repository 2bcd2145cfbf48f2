package streamparse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// EvalOptions say how a topology file is evaluated.
type EvalOptions struct {
	// Python is the interpreter (default python3 on PATH): a topology's virtualenv when
	// its modules import what is installed there.
	Python string
	// ClientDir holds the bundled Python client (streamparse and sparse_multilang).
	ClientDir string
	// Timeout bounds the evaluation (default one minute).
	Timeout time.Duration
}

// maxStderr bounds the evaluator's error output kept for the message.
const maxStderr = 64 << 10

// Evaluate evaluates topology NAME of the project in a Python subprocess, with the
// project's src folder and the bundled client on PYTHONPATH, and decodes the topology it
// prints. A Python error in the file comes back with its traceback.
func (p *Project) Evaluate(ctx context.Context, name string, o EvalOptions) (*Topology, error) {
	name, file, err := p.Resolve(name)
	if err != nil {
		return nil, err
	}
	python := o.Python
	if python == "" {
		python = PythonCommand
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-m", "streamparse.describe", file, name)
	cmd.Dir = p.Dir
	pythonPath := []string{p.SrcDir(), o.ClientDir}
	if cur := os.Getenv("PYTHONPATH"); cur != "" {
		pythonPath = append(pythonPath, cur)
	}
	// The bundled client comes after src (the project's own code wins, as in
	// streamparse) and before anything installed: an installed streamparse would need a JVM.
	cmd.Env = append(os.Environ(), "PYTHONPATH="+strings.Join(pythonPath, string(os.PathListSeparator)), "PYTHONDONTWRITEBYTECODE=1")
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: maxStderr}
	cmd.Stdout, cmd.Stderr = &limitedWriter{w: &stdout, n: MaxJSONBytes + 1}, stderr
	err = cmd.Run()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("evaluating %s took longer than %s; does the topology file (or a module it imports) wait for something at import time?", p.rel(file), timeout)
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return nil, fmt.Errorf("evaluating %s failed:\n%s", p.rel(file), strings.TrimRight(stderr.String(), "\n"))
		}
		return nil, fmt.Errorf("evaluating %s: starting %s: %w; install Python 3 or pass the interpreter to use", p.rel(file), python, err)
	}
	t, err := Decode(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("evaluating %s: %w", p.rel(file), err)
	}
	return t, nil
}

func (p *Project) rel(path string) string {
	if r, ok := strings.CutPrefix(path, p.Dir+string(os.PathSeparator)); ok {
		return r
	}
	return path
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
	cut bool
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
		t.cut = true
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	if t.cut {
		return "...\n" + string(t.buf)
	}
	return string(t.buf)
}

// limitedWriter keeps at most n bytes and drops the rest (Decode then refuses them).
type limitedWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}
