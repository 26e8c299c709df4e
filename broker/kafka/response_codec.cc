// Encoders of messages.h. Every response here uses response header v0 (the correlation id alone):
// ApiVersions always does, and no other supported version is flexible.
#include "kafka/codec_util.h"
#include "kafka/messages.h"

namespace broker::kafka {
using codec::Begin;
using codec::Finish;
using codec::WriteArray;

std::string EncodeApiVersionsResponse(int32_t correlation_id, int16_t version, int16_t error) {
  Writer w = Begin(correlation_id);
  const bool flexible = version >= 3;
  w.Int16(error);
  if (flexible) {
    w.UnsignedVarint(static_cast<uint32_t>(kSupportedApis.size() + 1));
  } else {
    w.Int32(static_cast<int32_t>(kSupportedApis.size()));
  }
  for (const ApiRange& api : kSupportedApis) {
    w.Int16(static_cast<int16_t>(api.key));
    w.Int16(api.min_version);
    w.Int16(api.max_version);
    if (flexible) w.EmptyTaggedFields();
  }
  if (version >= 1) w.Int32(0);  // ThrottleTimeMs
  if (flexible) w.EmptyTaggedFields();
  return Finish(w);
}

std::string EncodeMetadataResponse(int32_t correlation_id, int16_t version,
                                   const MetadataResponse& r) {
  Writer w = Begin(correlation_id);
  if (version >= 3) w.Int32(0);  // ThrottleTimeMs
  WriteArray(w, r.brokers, [&](const MetadataResponse::Broker& b) {
    w.Int32(b.node_id);
    w.String(b.host);
    w.Int32(b.port);
    if (version >= 1) w.NullableString(std::nullopt);  // Rack
  });
  if (version >= 2) w.NullableString(r.cluster_id);
  if (version >= 1) w.Int32(r.controller_id);
  WriteArray(w, r.topics, [&](const MetadataResponse::Topic& t) {
    w.Int16(t.error);
    w.String(t.name);
    if (version >= 1) w.Bool(false);  // IsInternal
    WriteArray(w, t.partitions, [&](const MetadataResponse::Partition& p) {
      w.Int16(p.error);
      w.Int32(p.index);
      w.Int32(p.leader);
      const std::vector<int32_t> nodes = {p.leader};  // replicas and in-sync replicas
      WriteArray(w, nodes, [&](int32_t n) { w.Int32(n); });
      WriteArray(w, nodes, [&](int32_t n) { w.Int32(n); });
      if (version >= 5) w.Int32(0);  // OfflineReplicas: none
    });
  });
  return Finish(w);
}

std::string EncodeCreateTopicsResponse(int32_t correlation_id, int16_t version,
                                       const CreateTopicsResponse& r) {
  Writer w = Begin(correlation_id);
  if (version >= 2) w.Int32(0);  // ThrottleTimeMs
  WriteArray(w, r.topics, [&](const CreateTopicsResponse::Topic& t) {
    w.String(t.name);
    w.Int16(t.error);
    if (version >= 1) w.NullableString(t.error_message);
  });
  return Finish(w);
}

std::string EncodeProduceResponse(int32_t correlation_id, int16_t version,
                                  const ProduceResponse& r) {
  Writer w = Begin(correlation_id);
  WriteArray(w, r.topics, [&](const ProduceResponse::Topic& t) {
    w.String(t.name);
    WriteArray(w, t.partitions, [&](const ProduceResponse::Partition& p) {
      w.Int32(p.index);
      w.Int16(p.error);
      w.Int64(p.base_offset);
      // LogAppendTimeMs: -1, as Kafka answers for a topic without LogAppendTime configured; the
      // engine does not report the append time of a publish. Fetch serves the real time.
      w.Int64(-1);
      if (version >= 5) w.Int64(p.log_start_offset);
    });
  });
  w.Int32(0);  // ThrottleTimeMs (v1+)
  return Finish(w);
}

std::string EncodeFetchResponse(int32_t correlation_id, int16_t version, const FetchResponse& r) {
  Writer w = Begin(correlation_id);
  w.Int32(0);  // ThrottleTimeMs (v1+)
  if (version >= 7) {
    w.Int16(0);  // ErrorCode
    w.Int32(0);  // SessionId: no session
  }
  WriteArray(w, r.topics, [&](const FetchResponse::Topic& t) {
    w.String(t.name);
    WriteArray(w, t.partitions, [&](const FetchResponse::Partition& p) {
      w.Int32(p.index);
      w.Int16(p.error);
      w.Int64(p.high_watermark);
      w.Int64(p.high_watermark);  // LastStableOffset: no transactions
      if (version >= 5) w.Int64(p.log_start_offset);
      w.Int32(-1);                     // AbortedTransactions: null
      if (version >= 11) w.Int32(-1);  // PreferredReadReplica: none
      w.NullableBytes(std::string_view(p.records));
    });
  });
  return Finish(w);
}

std::string EncodeListOffsetsResponse(int32_t correlation_id, int16_t version,
                                      const ListOffsetsResponse& r) {
  Writer w = Begin(correlation_id);
  if (version >= 2) w.Int32(0);  // ThrottleTimeMs
  WriteArray(w, r.topics, [&](const ListOffsetsResponse::Topic& t) {
    w.String(t.name);
    WriteArray(w, t.partitions, [&](const ListOffsetsResponse::Partition& p) {
      w.Int32(p.index);
      w.Int16(p.error);
      w.Int64(p.timestamp);
      w.Int64(p.offset);
    });
  });
  return Finish(w);
}

std::string EncodeInitProducerIdResponse(int32_t correlation_id, int16_t version, int16_t error,
                                         int64_t producer_id, int16_t producer_epoch) {
  (void)version;  // v0 and v1 have the same fields
  Writer w = Begin(correlation_id);
  w.Int32(0);  // ThrottleTimeMs
  w.Int16(error);
  w.Int64(producer_id);
  w.Int16(producer_epoch);
  return Finish(w);
}

}  // namespace broker::kafka
