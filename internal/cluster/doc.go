// Package cluster is the one place that knows how sparse keeps its cluster state in
// etcd: the key layout, the JSON records stored under it, typed get/put/list/watch,
// leases for live daemons and workers, nimbus leader election, and an embedded etcd for
// single-node clusters and tests.
//
// Layout, under a configurable root (default "/sparse"):
//
//	<root>/leader/<lease>                     nimbus leader election (concurrency.Election)
//	<root>/nimbus/<nimbus-id>                 NimbusRecord, under the nimbus's lease
//	<root>/supervisors/<supervisor-id>        SupervisorRecord, under the supervisor's lease
//	<root>/topologies/<topology-id>           TopologyRecord
//	<root>/assignments/<topology-id>          AssignmentRecord, written with compare-and-swap
//	<root>/placements/<supervisor-id>/<topology-id>
//	                                          PlacementRecord: the assignment places workers on
//	                                          that supervisor (written with the assignment)
//	<root>/placements-indexed                 {"indexed_at": time}: a leader has written the index
//	<root>/workers/<topology-id>/<worker-id>  WorkerHeartbeat, under the worker's lease
//	<root>/artifacts/<sha256>/<nimbus-id>     ArtifactHolder: which nimbus holds which artifact
//
// Every value is JSON. Reading checks it (the id inside matches the key, enumerations
// hold known values, numbers are in range), so a damaged or foreign value under one of
// these keys is an error naming the key, never a panic or a silently wrong record.
//
// The placements are an index kept by PutAssignment and DeleteAssignment in the same
// transaction as the assignment, so that a supervisor watches its own folder
// (WatchSupervisorAssignments) instead of every assignment: an assignment write reaches
// the few supervisors it concerns, not all of them. The leading nimbus repairs the index
// with SyncPlacements at the start of its term and after a failed write; a supervisor
// never writes it. A supervisor follows the records of its topologies alone too
// (WatchTopologySet).
package cluster
