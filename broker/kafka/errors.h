// Kafka's error codes (org.apache.kafka.common.protocol.Errors) that this listener answers, and the
// one translation of engine statuses into them.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>

#include "broker/status.h"

namespace broker::kafka {

enum class ErrorCode : int16_t {
  kUnknownServerError = -1,
  kNone = 0,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kRequestTimedOut = 7,
  kCoordinatorLoadInProgress = 14,
  kMessageTooLarge = 10,
  kOffsetMetadataTooLarge = 12,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kInvalidTopic = 17,
  kRecordListTooLarge = 18,
  kInvalidRequiredAcks = 21,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kTopicAuthorizationFailed = 29,
  kUnsupportedVersion = 35,
  kTopicAlreadyExists = 36,
  kInvalidPartitions = 37,
  kInvalidReplicationFactor = 38,
  kInvalidReplicaAssignment = 39,
  kInvalidConfig = 40,
  kInvalidRequest = 42,
  kUnsupportedForMessageFormat = 43,
  kOutOfOrderSequenceNumber = 45,
  kDuplicateSequenceNumber = 46,
  kInvalidProducerEpoch = 47,
  kKafkaStorageError = 56,
  kSaslAuthenticationFailed = 58,
  kUnknownProducerId = 59,
  kUnsupportedCompressionType = 76,
  kMemberIdRequired = 79,
  kInvalidRecord = 87,
};

inline int16_t Wire(ErrorCode e) { return static_cast<int16_t>(e); }

// The Kafka error for an engine status. `topic_level` picks the answer to kInvalidArgument: a bad
// topic (INVALID_TOPIC_EXCEPTION) for topic operations, a bad record (INVALID_RECORD) for appends.
ErrorCode ToKafkaError(const Status& status, bool topic_level);

// The Kafka error for a failed move of a group's position (Broker::ResetGroup) by an OffsetCommit.
// kFailedPrecondition is the engine saying "not now": with native members subscribed (they hold
// the group: INCONSISTENT_GROUP_PROTOCOL, as JoinGroup answers), or while a dead-letter write of
// the group is in progress (COORDINATOR_LOAD_IN_PROGRESS, which Kafka clients retry after a
// backoff; INCONSISTENT_GROUP_PROTOCOL would fail the consumer).
ErrorCode ResetError(const Status& status, bool native_members);

}  // namespace broker::kafka
