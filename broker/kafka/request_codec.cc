// Decoders of messages.h. Minimum element sizes passed to ArrayLength are the fewest bytes an
// element can take on the wire, so a hostile count fails before anything is reserved.
#include "kafka/codec_util.h"
#include "kafka/messages.h"

namespace broker::kafka {
using codec::Done;
using codec::ReadArray;

bool DecodeRequestHeader(Reader& in, RequestHeader& header) {
  header.api_key = in.Int16();
  header.api_version = in.Int16();
  header.correlation_id = in.Int32();
  header.client_id = in.NullableString();
  const ApiRange* api = FindApi(header.api_key);
  if (api != nullptr && IsFlexible(api->key, header.api_version)) in.SkipTaggedFields();
  return !in.failed();
}

bool DecodeApiVersionsRequest(Reader& in, int16_t version) {
  if (version >= 3) {
    in.CompactString();  // ClientSoftwareName
    in.CompactString();  // ClientSoftwareVersion
    in.SkipTaggedFields();
  }
  return Done(in);
}

bool DecodeMetadataRequest(Reader& in, int16_t version, MetadataRequest& out) {
  bool null = false;
  const int32_t n = in.ArrayLength(2, &null);
  // v0 has no null: an empty list asks for every topic. From v1 on, null means every topic and
  // an empty list none.
  if (null ? version >= 1 : (version == 0 && n == 0)) {
    out.topics.reset();
  } else {
    out.topics.emplace();
    for (int32_t i = 0; i < n && !in.failed(); ++i) out.topics->push_back(in.String());
  }
  if (version >= 4) out.allow_auto_topic_creation = in.Bool();
  return Done(in);
}

bool DecodeCreateTopicsRequest(Reader& in, int16_t version, CreateTopicsRequest& out) {
  ReadArray(in, 18, out.topics, [&in](CreateTopicsRequest::Topic& t) {
    t.name = in.String();
    t.num_partitions = in.Int32();
    t.replication_factor = in.Int16();
    const int32_t assignments = in.ArrayLength(8);
    for (int32_t a = 0; a < assignments && !in.failed(); ++a) {
      in.Int32();  // PartitionIndex
      const int32_t brokers = in.ArrayLength(4);
      for (int32_t b = 0; b < brokers && !in.failed(); ++b) in.Int32();
    }
    t.assignments = assignments;
    ReadArray(in, 4, t.configs, [&in](CreateTopicsRequest::Config& c) {
      c.name = in.String();
      c.value = in.NullableString();
    });
  });
  out.timeout_ms = in.Int32();
  if (version >= 1) out.validate_only = in.Bool();
  return Done(in);
}

bool DecodeProduceRequest(Reader& in, int16_t version, ProduceRequest& out) {
  if (version >= 3) out.transactional_id = in.NullableString();
  out.acks = in.Int16();
  out.timeout_ms = in.Int32();
  ReadArray(in, 6, out.topics, [&in](ProduceRequest::Topic& t) {
    t.name = in.String();
    ReadArray(in, 8, t.partitions, [&in](ProduceRequest::Partition& p) {
      p.index = in.Int32();
      p.records = in.NullableBytes();
    });
  });
  return Done(in);
}

bool DecodeFetchRequest(Reader& in, int16_t version, FetchRequest& out) {
  in.Int32();  // ReplicaId: consumers send -1; there are no followers here
  out.max_wait_ms = in.Int32();
  out.min_bytes = in.Int32();
  if (version >= 3) out.max_bytes = in.Int32();
  if (version >= 4) out.isolation_level = in.Int8();
  if (version >= 7) {
    in.Int32();  // SessionId: no fetch sessions; every fetch is a full one
    in.Int32();  // SessionEpoch
  }
  const size_t partition_bytes = 16 + (version >= 9 ? 4 : 0) + (version >= 5 ? 8 : 0);
  ReadArray(in, 6, out.topics, [&](FetchRequest::Topic& t) {
    t.name = in.String();
    ReadArray(in, partition_bytes, t.partitions, [&](FetchRequest::Partition& p) {
      p.index = in.Int32();
      if (version >= 9) in.Int32();  // CurrentLeaderEpoch
      p.fetch_offset = in.Int64();
      if (version >= 5) in.Int64();  // LogStartOffset (followers only)
      p.max_bytes = in.Int32();
    });
  });
  if (version >= 7) {  // ForgottenTopicsData: meaningful only within a fetch session
    const int32_t forgotten = in.ArrayLength(6);
    for (int32_t i = 0; i < forgotten && !in.failed(); ++i) {
      in.String();
      const int32_t partitions = in.ArrayLength(4);
      for (int32_t p = 0; p < partitions && !in.failed(); ++p) in.Int32();
    }
  }
  if (version >= 11) in.String();  // RackId
  return Done(in);
}

bool DecodeListOffsetsRequest(Reader& in, int16_t version, ListOffsetsRequest& out) {
  in.Int32();                   // ReplicaId
  if (version >= 2) in.Int8();  // IsolationLevel: no transactions, both levels read alike
  ReadArray(in, 6, out.topics, [&in](ListOffsetsRequest::Topic& t) {
    t.name = in.String();
    ReadArray(in, 12, t.partitions, [&in](ListOffsetsRequest::Partition& p) {
      p.index = in.Int32();
      p.timestamp = in.Int64();
    });
  });
  return Done(in);
}

bool DecodeInitProducerIdRequest(Reader& in, int16_t version, InitProducerIdRequest& out) {
  (void)version;  // v0 and v1 have the same fields
  out.transactional_id = in.NullableString();
  out.transaction_timeout_ms = in.Int32();
  return Done(in);
}

}  // namespace broker::kafka
