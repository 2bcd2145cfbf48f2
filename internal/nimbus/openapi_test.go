package nimbus

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sparsestream/sparse/internal/graph"
	"github.com/sparsestream/sparse/internal/httpapi"
)

type openAPIDoc struct {
	Paths      map[string]map[string]map[string]any `yaml:"paths"`
	Components struct {
		Schemas map[string]openAPISchema `yaml:"schemas"`
	} `yaml:"components"`
}

type openAPISchema struct {
	Ref        string          `yaml:"$ref"`
	Properties map[string]any  `yaml:"properties"`
	AllOf      []openAPISchema `yaml:"allOf"`
}

// props are a schema's property names, following allOf and $ref within all.
func (s openAPISchema) props(all map[string]openAPISchema) map[string]bool {
	out := map[string]bool{}
	if s.Ref != "" {
		return all[strings.TrimPrefix(s.Ref, "#/components/schemas/")].props(all)
	}
	for k := range s.Properties {
		out[k] = true
	}
	for _, sub := range s.AllOf {
		for k := range sub.props(all) {
			out[k] = true
		}
	}
	return out
}

// TestOpenAPIMatchesRoutes keeps docs/openapi.yaml true: one operation per route with
// the route's Nimbus call, no operation without a route, and each schema naming exactly
// the JSON fields of its Go type.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPIDoc
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	seen := map[string]bool{}
	for _, rt := range restRoutes {
		key := rt.method + " " + rt.path
		seen[key] = true
		op, ok := doc.Paths[rt.path][strings.ToLower(rt.method)]
		if !ok {
			t.Errorf("docs/openapi.yaml has no %s", key)
			continue
		}
		rpc := rt.rpc[strings.LastIndex(rt.rpc, "/")+1:]
		if op["x-sparse-rpc"] != rpc {
			t.Errorf("docs/openapi.yaml: %s has x-sparse-rpc %v; the route follows the rule of %s", key, op["x-sparse-rpc"], rpc)
		}
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			if key := strings.ToUpper(m) + " " + path; !seen[key] {
				t.Errorf("docs/openapi.yaml has %s, which no route serves", key)
			}
		}
	}
	for name, v := range map[string]any{
		"Error": httpapi.Error{}, "ClusterSummary": httpapi.ClusterSummary{}, "SupervisorSummary": httpapi.SupervisorSummary{}, "NimbusSummary": httpapi.NimbusSummary{},
		"TopologyRow": httpapi.TopologyRow{}, "TopologyStatsRow": httpapi.TopologyStatsRow{}, "WindowStats": httpapi.WindowStats{}, "ComponentRow": httpapi.ComponentRow{}, "WorkerRow": httpapi.WorkerRow{},
		"TopologyPage": httpapi.TopologyPage{}, "ExecutorRow": httpapi.ExecutorRow{}, "ComponentError": httpapi.ComponentError{}, "ComponentPage": httpapi.ComponentPage{},
		"Graph": graph.Graph{}, "RebalanceOptions": httpapi.RebalanceOptions{}, "ActionResult": httpapi.ActionResult{},
		"Whoami": httpapi.Whoami{},
	} {
		schema, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("docs/openapi.yaml has no schema %s", name)
			continue
		}
		want, got := jsonFields(reflect.TypeOf(v)), schema.props(doc.Components.Schemas)
		for f := range want {
			if !got[f] {
				t.Errorf("schema %s lacks %q, a field of the JSON", name, f)
			}
		}
		for f := range got {
			if !want[f] {
				t.Errorf("schema %s has %q, which the JSON does not have", name, f)
			}
		}
	}
}

// jsonFields are a struct's JSON field names, embedded structs' included.
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for f := range t.Fields() {
		if f.Anonymous {
			for k := range jsonFields(f.Type) {
				out[k] = true
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}
