package cluster

import (
	"strings"
	"testing"
)

func TestKeysLayout(t *testing.T) {
	k := Keys{}
	for _, c := range []struct{ got, want string }{
		{k.Root(), "/sparse"},
		{k.LeaderPrefix(), "/sparse/leader"},
		{k.Nimbus("n1"), "/sparse/nimbus/n1"},
		{k.Supervisor("s1"), "/sparse/supervisors/s1"},
		{k.Topology("wc-1"), "/sparse/topologies/wc-1"},
		{k.Assignment("wc-1"), "/sparse/assignments/wc-1"},
		{k.Worker("wc-1", "w0"), "/sparse/workers/wc-1/w0"},
		{k.Placement("s1", "wc-1"), "/sparse/placements/s1/wc-1"},
		{k.SupervisorPlacementsPrefix("s1"), "/sparse/placements/s1/"},
		{k.TopologyWorkersPrefix("wc-1"), "/sparse/workers/wc-1/"},
		{k.Artifact(digestA, "n1"), "/sparse/artifacts/" + digestA + "/n1"},
		{k.ArtifactHoldersPrefix(digestA), "/sparse/artifacts/" + digestA + "/"},
		{k.Token(digestA), "/sparse/acl/tokens/" + digestA},
		{k.ACLBootstrap(), "/sparse/acl/bootstrap"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	for _, root := range []string{"x", "/x", "/x/", " /x// "} {
		if got := NewKeys(root).Topology("t"); got != "/x/topologies/t" {
			t.Errorf("NewKeys(%q).Topology = %q", root, got)
		}
	}
	if NewKeys("") != (Keys{}) || NewKeys("/").Root() != DefaultRoot {
		t.Error("empty roots should be the default")
	}
	// A topology's worker prefix must not cover another topology whose id extends it.
	if strings.HasPrefix(k.Worker("t10", "w"), k.TopologyWorkersPrefix("t1")) {
		t.Error("workers of t10 fall under the prefix of t1")
	}
	if strings.HasPrefix(k.Placement("s10", "t"), k.SupervisorPlacementsPrefix("s1")) {
		t.Error("placements of s10 fall under the prefix of s1")
	}
}

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "wordcount-3-1700000000", "host.example:6700", "x_y", strings.Repeat("a", 253)} {
		if err := ValidateID("id", id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"", "a/b", "a b", "a\nb", ".", "..", "\xff", strings.Repeat("a", 254)} {
		if err := ValidateID("id", id); err == nil {
			t.Errorf("%q accepted", id)
		}
	}
	if err := ValidateDigest(digestA); err != nil {
		t.Error(err)
	}
	for _, d := range []string{"", "abc", strings.ToUpper(digestA), digestA[:63] + "g"} {
		if ValidateDigest(d) == nil {
			t.Errorf("digest %q accepted", d)
		}
	}
}
