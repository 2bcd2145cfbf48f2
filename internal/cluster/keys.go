package cluster

import (
	"fmt"
	"strings"
	"unicode"
)

// DefaultRoot is the key prefix under which sparse keeps its state when none is given.
const DefaultRoot = "/sparse"

// Keys builds every etcd key sparse uses. It is a value: copy it freely. The zero value
// uses DefaultRoot.
type Keys struct {
	root string
}

// NewKeys returns the key layout under root. An empty root means DefaultRoot; a missing
// leading slash is added and trailing slashes are dropped, so "sparse", "/sparse" and
// "/sparse/" are the same layout. Tests and clusters that share one etcd use distinct
// roots.
func NewKeys(root string) Keys {
	root = strings.TrimRight(strings.TrimSpace(root), "/")
	if root == "" {
		return Keys{}
	}
	if !strings.HasPrefix(root, "/") {
		root = "/" + root
	}
	return Keys{root: root}
}

// Root is the prefix every key starts with, without a trailing slash.
func (k Keys) Root() string {
	if k.root == "" {
		return DefaultRoot
	}
	return k.root
}

// The kind folders under the root.
const (
	dirLeader      = "leader"
	dirNimbus      = "nimbus"
	dirSupervisors = "supervisors"
	dirTopologies  = "topologies"
	dirAssignments = "assignments"
	dirWorkers     = "workers"
	dirArtifacts   = "artifacts"
	dirVersions    = "assignment-versions"
	dirPlacements  = "placements"
	dirTokens      = "acl/tokens"
	dirBootstrap   = "bootstrap"
)

func (k Keys) dir(name string) string { return k.Root() + "/" + name + "/" }

// LeaderPrefix is the election prefix that nimbus candidates campaign on. The
// concurrency package adds "/<lease>" for each candidate.
func (k Keys) LeaderPrefix() string { return k.Root() + "/" + dirLeader }

// NimbusPrefix holds one key per live nimbus.
func (k Keys) NimbusPrefix() string { return k.dir(dirNimbus) }

// Nimbus is the key of one nimbus instance.
func (k Keys) Nimbus(id string) string { return k.NimbusPrefix() + id }

// SupervisorsPrefix holds one key per live supervisor.
func (k Keys) SupervisorsPrefix() string { return k.dir(dirSupervisors) }

// Supervisor is the key of one supervisor.
func (k Keys) Supervisor(id string) string { return k.SupervisorsPrefix() + id }

// TopologiesPrefix holds one key per submitted topology.
func (k Keys) TopologiesPrefix() string { return k.dir(dirTopologies) }

// Topology is the key of one topology.
func (k Keys) Topology(id string) string { return k.TopologiesPrefix() + id }

// AssignmentsPrefix holds one key per scheduled topology.
func (k Keys) AssignmentsPrefix() string { return k.dir(dirAssignments) }

// Assignment is the key of one topology's assignment.
func (k Keys) Assignment(topologyID string) string { return k.AssignmentsPrefix() + topologyID }

// AssignmentVersionsPrefix holds one counter per topology: the last assignment version
// handed out (see Store.NextAssignmentVersion).
func (k Keys) AssignmentVersionsPrefix() string { return k.dir(dirVersions) }

// AssignmentVersion is the key of one topology's assignment version counter.
func (k Keys) AssignmentVersion(topologyID string) string {
	return k.AssignmentVersionsPrefix() + topologyID
}

// PlacementsPrefix holds the per-supervisor index of the assignments: one key per
// supervisor and topology that places workers on it (see PlacementRecord).
func (k Keys) PlacementsPrefix() string { return k.dir(dirPlacements) }

// SupervisorPlacementsPrefix holds one key per assignment that places workers on this
// supervisor: what the supervisor watches. It ends with a slash, so supervisor "s1"
// does not match the placements of "s10".
func (k Keys) SupervisorPlacementsPrefix(supervisorID string) string {
	return k.PlacementsPrefix() + supervisorID + "/"
}

// Placement is the index key saying that a topology's assignment places workers on a
// supervisor.
func (k Keys) Placement(supervisorID, topologyID string) string {
	return k.SupervisorPlacementsPrefix(supervisorID) + topologyID
}

// PlacementsIndexed is the key that says a leader has written the placements index
// (SyncPlacements): from then on every leader keeps it, and supervisors rely on it.
// Its value is JSON: {"indexed_at": time}.
func (k Keys) PlacementsIndexed() string { return k.Root() + "/placements-indexed" }

// WorkersPrefix holds the heartbeats of every worker of every topology.
func (k Keys) WorkersPrefix() string { return k.dir(dirWorkers) }

// TopologyWorkersPrefix holds the heartbeats of one topology's workers. It ends with a
// slash, so topology "t1" does not match the workers of "t10".
func (k Keys) TopologyWorkersPrefix(topologyID string) string {
	return k.WorkersPrefix() + topologyID + "/"
}

// Worker is the heartbeat key of one worker.
func (k Keys) Worker(topologyID, workerID string) string {
	return k.TopologyWorkersPrefix(topologyID) + workerID
}

// ArtifactsPrefix holds, per artifact digest, one key per nimbus holding a copy.
func (k Keys) ArtifactsPrefix() string { return k.dir(dirArtifacts) }

// ArtifactHoldersPrefix holds one key per nimbus that has the artifact with this digest.
func (k Keys) ArtifactHoldersPrefix(digest string) string {
	return k.ArtifactsPrefix() + digest + "/"
}

// Artifact is the key saying that a nimbus holds an artifact.
func (k Keys) Artifact(digest, nimbusID string) string {
	return k.ArtifactHoldersPrefix(digest) + nimbusID
}

// TokensPrefix holds one key per API token, named by the sha256 of its secret.
func (k Keys) TokensPrefix() string { return k.dir(dirTokens) }

// Token is the key of the token whose secret has this sha256 (lowercase hex).
func (k Keys) Token(secretSHA256 string) string { return k.TokensPrefix() + secretSHA256 }

// ACLBootstrap is the key that says the first admin token was made.
func (k Keys) ACLBootstrap() string { return k.Root() + "/acl/" + dirBootstrap }

// maxIDLen keeps ids usable in keys, file names and host names.
const maxIDLen = 253

// ValidateID checks that an id can be one segment of a key: not empty, at most 253
// bytes, no slash, no space or control character, not "." or "..". what names the kind
// of id in the error ("topology id", "worker id", ...).
func ValidateID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("the %s is empty", what)
	case len(id) > maxIDLen:
		return fmt.Errorf("the %s %.40q... is %d bytes long; at most %d are allowed", what, id, len(id), maxIDLen)
	case id == "." || id == "..":
		return fmt.Errorf("the %s %q is not allowed", what, id)
	}
	for _, r := range id {
		if r == '/' || r == unicode.ReplacementChar || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("the %s %q contains %q; use letters, digits and punctuation other than '/'", what, id, r)
		}
	}
	return nil
}

// ValidateDigest checks that a digest is a sha256 in lowercase hex, as artifact keys use.
func ValidateDigest(d string) error {
	if len(d) != 64 {
		return fmt.Errorf("artifact digest %.70q is not a sha256 in hex (64 characters)", d)
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("artifact digest %q is not a sha256 in lowercase hex", d)
		}
	}
	return nil
}

// splitID returns what follows prefix in key, and whether key is under prefix with a
// non-empty rest.
func splitID(key, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	return rest, ok && rest != ""
}
