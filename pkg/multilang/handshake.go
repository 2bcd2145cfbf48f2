package multilang

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/topology"
)

// handshakeMessage is the first message a subprocess reads: the configuration, the
// directory where it must create a file named by its pid, and the topology context in
// the shape Storm gives it.
func handshakeMessage(ctx *topology.Context, pidDir string, offerBatch bool, log hclog.Logger) map[string]any {
	conf := plainConfig(ctx, log)
	if offerBatch {
		conf[BatchOfferKey] = int64(BatchVersion)
	}
	return map[string]any{
		"conf":    conf,
		"pidDir":  pidDir,
		"context": stormContext(ctx),
	}
}

// plainConfig turns the task's configuration into plain JSON-like values that both
// serializers can encode. A value that is not representable (a Go func, a channel) is
// left out and logged.
func plainConfig(ctx *topology.Context, log hclog.Logger) map[string]any {
	out := make(map[string]any, len(ctx.Config)+1)
	for k, v := range ctx.Config {
		b, err := json.Marshal(v)
		if err != nil {
			log.Debug("config value not passed to the subprocess", "key", k, "error", err)
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // integers stay integers
		var plain any
		if err := dec.Decode(&plain); err != nil {
			continue
		}
		out[k] = topology.NormalizeJSON(plain)
	}
	if _, ok := out["topology.name"]; !ok {
		name := ctx.TopologyID
		if l := ctx.Layout(); l != nil && l.Spec != nil && l.Spec.Name != "" {
			name = l.Spec.Name
		}
		out["topology.name"] = name
	}
	return out
}

// stormContext builds the "context" of the handshake: task->component, taskid,
// componentid, streams, stream->outputfields, stream->target->grouping,
// source->stream->grouping and source->stream->fields.
func stormContext(ctx *topology.Context) map[string]any {
	c := map[string]any{
		"taskid":      int64(ctx.TaskID),
		"componentid": ctx.ComponentID,
	}
	l := ctx.Layout()
	if l == nil || l.Spec == nil {
		c["task->component"] = map[string]any{strconv.Itoa(int(ctx.TaskID)): ctx.ComponentID}
		return c
	}
	taskComp := make(map[string]any, l.NumTasks())
	for t := 1; t <= l.NumTasks(); t++ {
		taskComp[strconv.Itoa(t)] = l.TaskComponent(int32(t))
	}
	c["task->component"] = taskComp

	me := l.Spec.Component(ctx.ComponentID)
	streams := []any{}
	outFields := map[string]any{}
	targets := map[string]any{}
	if me != nil {
		for _, st := range me.Streams {
			streams = append(streams, st.ID)
			outFields[st.ID] = stringList(st.Fields)
			targets[st.ID] = map[string]any{}
		}
		for _, other := range l.Spec.Components {
			for _, in := range other.Inputs {
				if in.Component != me.ID {
					continue
				}
				if m, ok := targets[in.Stream].(map[string]any); ok {
					m[other.ID] = stormGrouping(in.Grouping)
				}
			}
		}
	}
	c["streams"] = streams
	c["stream->outputfields"] = outFields
	c["stream->target->grouping"] = targets

	sourceGrouping := map[string]any{}
	sourceFields := map[string]any{}
	if me != nil {
		for _, in := range me.Inputs {
			g, _ := sourceGrouping[in.Component].(map[string]any)
			if g == nil {
				g = map[string]any{}
				sourceGrouping[in.Component] = g
			}
			g[in.Stream] = stormGrouping(in.Grouping)
			f, _ := sourceFields[in.Component].(map[string]any)
			if f == nil {
				f = map[string]any{}
				sourceFields[in.Component] = f
			}
			f[in.Stream] = stringList(l.Fields(in.Component, in.Stream).Names())
		}
	}
	c["source->stream->grouping"] = sourceGrouping
	c["source->stream->fields"] = sourceFields
	return c
}

// stormGrouping renders a grouping as Storm's context does: {"type": "FIELDS", "fields":
// [...]}. Storm expresses a global grouping as a fields grouping on no fields.
func stormGrouping(g grouping.Spec) map[string]any {
	switch g.Type {
	case grouping.Global:
		return map[string]any{"type": "FIELDS", "fields": []any{}}
	case grouping.Fields, grouping.PartialKey:
		return map[string]any{"type": strings.ToUpper(string(g.Type)), "fields": stringList(g.Fields)}
	case grouping.Custom:
		return map[string]any{"type": "CUSTOM", "name": g.CustomName}
	}
	return map[string]any{"type": strings.ToUpper(string(g.Type))}
}

func stringList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
