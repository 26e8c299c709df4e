// Human renderings of one record, shared by `dlq peek`, `msg show` and `tail`.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>

#include "broker/v1/common.pb.h"
#include "output/payload.h"
#include "output/table.h"

namespace brokerctl {

struct RecordTextOptions {
  BytesFormat format = BytesFormat::kAuto;
  // Payload bytes shown at most (0 = all). Default 4 KiB.
  size_t max_bytes = 4096;
};

// `fields` (the caller's own lines, e.g. a dead letter's reason), then the record's timestamp
// (with age), key and headers (values made safe), aligned as one block, then the payload; every
// line starts with `indent`. Partition and offset are left to the caller.
void PrintRecordDetail(std::ostream& out, const broker::v1::Record& record,
                       const RecordTextOptions& options, const std::string& indent,
                       KeyValues fields = {});

// "P:OFFSET  TIMESTAMP  key=K  PAYLOAD" on one line, payload cut to `max_payload_chars`.
std::string RecordOneLine(const broker::v1::Record& record, size_t max_payload_chars);

}  // namespace brokerctl
