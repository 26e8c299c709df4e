#include "kafka/errors.h"

namespace broker::kafka {

// Every engine code listed, no default: a new code breaks the build until it is mapped.
ErrorCode ToKafkaError(const Status& status, bool topic_level) {
  switch (status.code()) {
    case StatusCode::kOk:
      return ErrorCode::kNone;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return topic_level ? ErrorCode::kInvalidTopic : ErrorCode::kInvalidRecord;
    case StatusCode::kNotFound:
      return ErrorCode::kUnknownTopicOrPartition;
    case StatusCode::kAlreadyExists:
      return ErrorCode::kTopicAlreadyExists;
    case StatusCode::kPermissionDenied:
      return ErrorCode::kTopicAuthorizationFailed;
    case StatusCode::kUnauthenticated:
      return ErrorCode::kSaslAuthenticationFailed;
    case StatusCode::kDeadlineExceeded:
      return ErrorCode::kRequestTimedOut;
    // A full disk, the interest-retention cap or a stopped writer: Kafka's retriable storage
    // error, so clients retry as they would against a broker with a failing log directory.
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable:
    case StatusCode::kDataLoss:
      return ErrorCode::kKafkaStorageError;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kUnimplemented:
      return ErrorCode::kInvalidRequest;
    case StatusCode::kCancelled:
    case StatusCode::kUnknown:
    case StatusCode::kAborted:
    case StatusCode::kInternal:
    case StatusCode::kNoResponders:
      return ErrorCode::kUnknownServerError;
  }
  return ErrorCode::kUnknownServerError;
}

ErrorCode ResetError(const Status& status, bool native_members) {
  if (status.code() != StatusCode::kFailedPrecondition) return ToKafkaError(status, true);
  return native_members ? ErrorCode::kInconsistentGroupProtocol
                        : ErrorCode::kCoordinatorLoadInProgress;
}

}  // namespace broker::kafka
