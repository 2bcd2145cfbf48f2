// Package ctl is the client side of sparsectl's cluster commands: where the nimbus
// addresses come from (flags, the SPARSE_NIMBUS environment variable, or a config file
// with named environments), talking to the leading nimbus over gRPC (trying every
// address, following a standby to the leader), turning a topology binary's `describe`
// output into the protobuf spec that Submit uploads, and printing what nimbus answers as
// tables for people or JSON for programs.
//
// The cobra commands in cmd/sparsectl only parse flags and call into this package.
package ctl
