package cluster

import (
	"slices"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapLogger makes a zap logger (what etcd logs through) that forwards entries at min or
// above to an hclog logger (what sparse logs through). A nil hclog logger gives a logger
// that discards everything.
func zapLogger(l hclog.Logger, min zapcore.Level) *zap.Logger {
	if l == nil {
		return zap.NewNop()
	}
	return zap.New(&hclogCore{log: l, min: min})
}

type hclogCore struct {
	log    hclog.Logger
	min    zapcore.Level
	fields []zapcore.Field
	// mute, when set and true, drops everything (a server shutting down).
	mute *atomic.Bool
}

func (c *hclogCore) Enabled(l zapcore.Level) bool {
	return l >= c.min && (c.mute == nil || !c.mute.Load())
}

func (c *hclogCore) With(fs []zapcore.Field) zapcore.Core {
	return &hclogCore{log: c.log, min: c.min, fields: append(slices.Clip(c.fields), fs...), mute: c.mute}
}

func (c *hclogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *hclogCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fs {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	args := make([]any, 0, 2*len(keys)+2)
	if e.LoggerName != "" {
		args = append(args, "component", e.LoggerName)
	}
	for _, k := range keys {
		args = append(args, k, enc.Fields[k])
	}
	c.log.Log(hclogLevel(e.Level), e.Message, args...)
	return nil
}

func (c *hclogCore) Sync() error { return nil }

func hclogLevel(l zapcore.Level) hclog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return hclog.Debug
	case l == zapcore.InfoLevel:
		return hclog.Info
	case l == zapcore.WarnLevel:
		return hclog.Warn
	default:
		return hclog.Error
	}
}
