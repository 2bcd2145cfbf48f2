// Package nimbus is sparse's master, run by nimbusd: the gRPC Nimbus API, the
// content-addressed artifact store, leader election and, on the leader, the scheduling
// loop.
//
// Every nimbus serves the API, keeps a copy of every artifact in use (replicating from
// whichever nimbus holds one) and answers the read-only calls (List, Describe,
// ListSupervisors, Leader, FetchArtifact) from etcd. Only the leader changes state: a
// standby answers Submit, Kill, Activate, Deactivate and Rebalance with
// FAILED_PRECONDITION "not the leader; the leader is nimbus <id> at <address>" and an
// ErrorInfo detail (reason NOT_LEADER, metadata leader_id and leader_address). A nimbus
// campaigns only once it holds every artifact of the topologies that are not killed, and
// every write of a leader is fenced by its leadership (internal/cluster), so that a deposed
// leader cannot overwrite its successor's work.
//
// The leader's scheduling loop reads a snapshot of etcd (supervisors, topologies,
// assignments, worker heartbeats), finishes the kills and rebalances whose wait is over,
// marks the slots of workers that stopped heartbeating unhealthy, calls
// scheduler.Schedule and writes back the assignments that changed with compare-and-swap,
// each new placement under a version from the topology's counter in etcd. It runs on every change of
// supervisors, topologies and heartbeats, and every ScheduleEvery.
//
// What a placement depends on is in etcd: Rebalance bumps the topology record's
// generation with its new request, and each assignment record keeps the workers asked
// for, the generation and the executor overrides (as the workers' parallelism) it was
// placed for, so that a new leader places a pending rebalance once and leaves a placed
// one alone; a rebalance waiting for its tuples in flight is in the topology record too,
// and the assignment versions handed out in a counter per topology, so that no leader
// reuses one. State kept only in the leader's memory, and rebuilt (or lost, harmlessly)
// when another nimbus takes over: the scheduling reasons (a standby derives them by
// running the scheduler on its own snapshot), when each assignment version was first
// seen (the start of its workers' grace period), when each worker last heartbeat, and
// the slots kept out of use after a worker failed in them.
package nimbus
