package cluster

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/pkg/scheduler"
)

// FuzzDecode feeds arbitrary bytes, under arbitrary ids, to every record decoder: each
// must return a record that validates and matches its key, or an *InvalidRecordError
// naming the key. Never a panic.
func FuzzDecode(f *testing.F) {
	seed := func(v any) []byte { b, _ := json.Marshal(v); return b }
	f.Add("wc-1", seed(sampleTopology("wc-1")))
	f.Add("s1", seed(&SupervisorRecord{ID: "s1", Host: "h", Slots: []int{6700}}))
	f.Add("wc-1", seed(&AssignmentRecord{TopologyID: "wc-1", Version: 2, Workers: []scheduler.WorkerSlot{{Name: "w", Supervisor: "s", Host: "a", Port: 1, Executors: [][]int32{{1}}}}}))
	f.Add("wc-1", seed(&AssignmentRecord{TopologyID: "wc-1", Version: 2, RequestedWorkers: 2, Generation: 1, Parallelism: map[string]int{"c": 2}}))
	f.Add("t/w", seed(&WorkerHeartbeat{TopologyID: "t", WorkerID: "w", Port: 1, PID: 2, Time: time.Unix(0, 0).UTC()}))
	f.Add("s1/wc-1", seed(&PlacementRecord{Supervisor: "s1", TopologyID: "wc-1", Version: 3}))
	f.Add("n1", seed(&NimbusRecord{ID: "n1", Address: "a:1"}))
	f.Add(digestA+"/n1", seed(&ArtifactHolder{Digest: digestA, NimbusID: "n1", Size: 1}))
	f.Add("x", []byte(`{"id":"x","status":"active","spec":{"components":[null]}}`))
	f.Add("x", []byte(`{"id":"x","name":"n","status":"active","spec":{"components":[{"inputs":[{"grouping":{"type":7}}]}]},"config":{"a":[1,{"b":null}]}}`))
	f.Add(digestA, seed(&TokenRecord{SecretSHA256: digestA, Accessor: "a1", Name: "ci", Role: RoleDeployer}))
	f.Add("bootstrap", seed(&ACLBootstrapRecord{Accessor: "a1", Name: "boot"}))
	f.Add("x", []byte(`null`))
	f.Add("x", []byte(`[]`))
	f.Add("", []byte(`{}`))
	f.Add("x", []byte("\xff\xfe"))

	k := NewKeys("/fuzz")
	f.Fuzz(func(t *testing.T, id string, value []byte) {
		check := func(key string, rec any, err error, validate func() error) {
			if err != nil {
				var ire *InvalidRecordError
				if !errors.As(err, &ire) || ire.Key != key || !strings.Contains(err.Error(), key) {
					t.Fatalf("error for %q does not name the key: %v", key, err)
				}
				return
			}
			if rec == nil {
				t.Fatalf("no record and no error for %q", key)
			}
			if err := validate(); err != nil {
				t.Fatalf("decoded an invalid record under %q: %v", key, err)
			}
		}
		key := k.Topology(id)
		tr, err := k.DecodeTopology(key, value)
		check(key, tr, err, func() error { return errors.Join(tr.Validate(), sameID("id", tr.ID, id)) })
		key = k.Supervisor(id)
		sr, err := k.DecodeSupervisor(key, value)
		check(key, sr, err, func() error { return errors.Join(sr.Validate(), sameID("id", sr.ID, id)) })
		key = k.Assignment(id)
		ar, err := k.DecodeAssignment(key, value)
		check(key, ar, err, func() error { return errors.Join(ar.Validate(), sameID("topology_id", ar.TopologyID, id)) })
		key = k.Nimbus(id)
		nr, err := k.DecodeNimbus(key, value)
		check(key, nr, err, func() error { return errors.Join(nr.Validate(), sameID("id", nr.ID, id)) })
		key = k.WorkersPrefix() + id
		wr, err := k.DecodeWorker(key, value)
		check(key, wr, err, func() error {
			return errors.Join(wr.Validate(), sameID("key", k.Worker(wr.TopologyID, wr.WorkerID), key))
		})
		key = k.PlacementsPrefix() + id
		pr, err := k.DecodePlacement(key, value)
		check(key, pr, err, func() error {
			return errors.Join(pr.Validate(), sameID("key", k.Placement(pr.Supervisor, pr.TopologyID), key))
		})
		key = k.ArtifactsPrefix() + id
		hr, err := k.DecodeArtifactHolder(key, value)
		check(key, hr, err, func() error {
			return errors.Join(hr.Validate(), sameID("key", k.Artifact(hr.Digest, hr.NimbusID), key))
		})
		key = k.TokensPrefix() + id
		tk, err := k.DecodeToken(key, value)
		check(key, tk, err, func() error { return errors.Join(tk.Validate(), sameID("key", k.Token(tk.SecretSHA256), key)) })
		key = k.Root() + "/acl/" + id
		br, err := k.DecodeACLBootstrap(key, value)
		check(key, br, err, func() error { return errors.Join(br.Validate(), sameID("key", k.ACLBootstrap(), key)) })
		if _, err := decodeLeader("/fuzz/leader/1", value); err != nil && !strings.Contains(err.Error(), "/fuzz/leader/1") {
			t.Fatalf("leader error does not name the key: %v", err)
		}
		// A key outside the folder is refused whatever the value.
		if _, err := k.DecodeTopology(k.Supervisor(id), value); err == nil {
			t.Fatal("decoded a topology from a supervisor key")
		}
	})
}
