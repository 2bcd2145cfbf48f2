package kafka

import (
	"cmp"
	"regexp"
	"slices"
)

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func comparePartitions(a, b TopicPartition) int {
	if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// assignPartitions returns the share of task index of n: the partitions sorted by topic
// and number, dealt round robin (partition k of the sorted list goes to task k mod n), as
// Storm's round-robin manual partitioner does. Every task computes the same split from
// the same metadata, with no group coordinator, so a worker's restart moves nothing.
func assignPartitions(all []TopicPartition, index, n int) []TopicPartition {
	if n < 1 || index < 0 || index >= n {
		return nil
	}
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, comparePartitions)
	sorted = slices.Compact(sorted)
	var mine []TopicPartition
	for k, tp := range sorted {
		if k%n == index {
			mine = append(mine, tp)
		}
	}
	return mine
}

// startPosition is where a newly assigned partition is read from.
type startPosition struct {
	// offset >= 0: that offset (the committed one); otherwise start at the partition's
	// beginning (earliest) or end.
	offset   int64
	earliest bool
}

// startFor applies the first poll strategy to a partition's committed offset (-1: none)
// and the topology id stored with that commit. earliest and latest apply when the
// topology is deployed: a commit by the same topology (a restarted worker, a rebalance)
// is resumed from, so that they do not replay or skip on every restart.
func startFor(s FirstPoll, committed int64, committedBy, topologyID string) startPosition {
	has := committed >= 0
	switch s {
	case Earliest:
		if has && committedBy == topologyID {
			return startPosition{offset: committed}
		}
		return startPosition{offset: -1, earliest: true}
	case Latest:
		if has && committedBy == topologyID {
			return startPosition{offset: committed}
		}
		return startPosition{offset: -1}
	case UncommittedLatest:
		if has {
			return startPosition{offset: committed}
		}
		return startPosition{offset: -1}
	default: // UncommittedEarliest
		if has {
			return startPosition{offset: committed}
		}
		return startPosition{offset: -1, earliest: true}
	}
}

// idSuffix is what nimbus appends to a topology's name to make its id: the submission's
// unix time, and a counter when that id was taken.
var idSuffix = regexp.MustCompile(`-[0-9]{9,}(-[0-9]+)?$`)

// topologyName returns the name of the topology with id: the name under which it was
// submitted, which a resubmission keeps. In local mode the id is the name.
func topologyName(id string) string {
	if n := idSuffix.ReplaceAllString(id, ""); n != "" {
		return n
	}
	return id
}
