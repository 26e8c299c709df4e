// The one place where rocksdb::Status becomes broker::Status.
#pragma once

#include <string_view>

#include <rocksdb/status.h>

#include "broker/status.h"

namespace broker::storage {

// `what` names the operation for the message, e.g. "append to topic 'orders'".
// No space -> kResourceExhausted; corruption -> kDataLoss; a held lock -> kFailedPrecondition;
// other I/O errors -> kUnavailable; anything else -> kInternal.
Status FromRocks(const rocksdb::Status& status, std::string_view what);

}  // namespace broker::storage
