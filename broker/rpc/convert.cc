#include "rpc/convert.h"

namespace broker::rpc {

int64_t Micros(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint FromMicros(int64_t us) { return TimePoint(std::chrono::microseconds(us)); }

void ToProto(const Headers& in, google::protobuf::RepeatedPtrField<v1::Header>& out) {
  out.Reserve(static_cast<int>(in.size()));
  for (const auto& [name, value] : in) {
    v1::Header* h = out.Add();
    h->set_name(name);
    h->set_value(value);
  }
}

Headers FromProto(const google::protobuf::RepeatedPtrField<v1::Header>& in) {
  Headers out;
  out.reserve(static_cast<size_t>(in.size()));
  for (const auto& h : in) out.emplace_back(h.name(), h.value());
  return out;
}

void ToProto(const Record& in, v1::Record& out) {
  out.set_partition(in.partition.value());
  out.set_offset(in.offset.value());
  out.set_timestamp_us(Micros(in.timestamp));
  if (in.key) out.set_key(*in.key);
  out.set_payload(in.payload);
  ToProto(in.headers, *out.mutable_headers());
}

Record FromProto(const v1::Record& in) {
  Record out;
  out.partition = PartitionId(in.partition());
  out.offset = Offset(in.offset());
  out.timestamp = FromMicros(in.timestamp_us());
  if (in.has_key()) out.key = in.key();
  out.payload = in.payload();
  out.headers = FromProto(in.headers());
  return out;
}

void ToProto(const Message& in, v1::OutgoingMessage& out) {
  if (in.key) out.set_key(*in.key);
  out.set_payload(in.payload);
  ToProto(in.headers, *out.mutable_headers());
  out.set_idempotency_key(in.idempotency_key);
}

Message FromProto(const v1::OutgoingMessage& in) {
  Message out;
  if (in.has_key()) out.key = in.key();
  out.payload = in.payload();
  out.headers = FromProto(in.headers());
  out.idempotency_key = in.idempotency_key();
  return out;
}

Message FromProto(v1::OutgoingMessage&& in) {
  Message out;
  if (in.has_key()) out.key = std::move(*in.mutable_key());
  out.payload = std::move(*in.mutable_payload());
  out.headers = FromProto(in.headers());
  out.idempotency_key = std::move(*in.mutable_idempotency_key());
  return out;
}

void ToProto(const GroupConfig& in, v1::GroupConfig& out) {
  out.set_start(in.start == StartPosition::kLatest ? v1::START_POSITION_LATEST
                                                   : v1::START_POSITION_EARLIEST);
  switch (in.ordering) {
    case Ordering::kNone: out.set_ordering(v1::ORDERING_NONE); break;
    case Ordering::kPerKey: out.set_ordering(v1::ORDERING_PER_KEY); break;
    case Ordering::kPerPartition: out.set_ordering(v1::ORDERING_PER_PARTITION); break;
  }
  out.set_ack_timeout_ms(in.ack_timeout.count());
  out.set_max_deliveries(in.max_deliveries);
  out.set_backoff_initial_ms(in.backoff.initial.count());
  out.set_backoff_multiplier(in.backoff.multiplier);
  out.set_backoff_max_ms(in.backoff.max.count());
  out.set_backoff_jitter(in.backoff.jitter);
  out.set_backoff_jitter_disabled(in.backoff.jitter == 0);
  out.set_serves_requests(in.serves_requests);
}

GroupConfig FromProto(const v1::GroupConfig& in) {
  GroupConfig out;  // zero fields keep the defaults
  out.start = in.start() == v1::START_POSITION_LATEST ? StartPosition::kLatest
                                                      : StartPosition::kEarliest;
  switch (in.ordering()) {
    case v1::ORDERING_PER_KEY: out.ordering = Ordering::kPerKey; break;
    case v1::ORDERING_PER_PARTITION: out.ordering = Ordering::kPerPartition; break;
    default: out.ordering = Ordering::kNone; break;  // proto3 enums are open: unknown = none
  }
  if (in.ack_timeout_ms() != 0) out.ack_timeout = std::chrono::milliseconds(in.ack_timeout_ms());
  if (in.max_deliveries() != 0) out.max_deliveries = in.max_deliveries();
  out.serves_requests = in.serves_requests();
  if (in.backoff_initial_ms() != 0) {
    out.backoff.initial = std::chrono::milliseconds(in.backoff_initial_ms());
  }
  if (in.backoff_multiplier() != 0) out.backoff.multiplier = in.backoff_multiplier();
  if (in.backoff_max_ms() != 0) out.backoff.max = std::chrono::milliseconds(in.backoff_max_ms());
  if (in.backoff_jitter() != 0) out.backoff.jitter = in.backoff_jitter();
  if (in.backoff_jitter_disabled()) out.backoff.jitter = 0;
  return out;
}

void ToProto(const TopicConfig& in, v1::TopicConfig& out) {
  out.set_partitions(in.partitions);
  out.set_retention_age_ms(in.retention_age.count());
  out.set_retention_bytes(in.retention_bytes);
  out.set_max_message_bytes(in.max_message_bytes);
  switch (in.retention) {
    case RetentionPolicy::kLimits:
      out.set_retention(v1::RETENTION_POLICY_LIMITS);
      break;
    case RetentionPolicy::kInterest:
      out.set_retention(v1::RETENTION_POLICY_INTEREST);
      break;
  }
  out.set_max_bytes(in.max_bytes);
}

Result<TopicConfig> FromProto(const v1::TopicConfig& in) {
  TopicConfig out;
  if (in.partitions() != 0) out.partitions = in.partitions();
  out.retention_age = std::chrono::milliseconds(in.retention_age_ms());
  out.retention_bytes = in.retention_bytes();
  out.max_message_bytes = in.max_message_bytes();
  // An open proto3 enum: any number may arrive, not only the two named ones.
  if (in.retention() == v1::RETENTION_POLICY_INTEREST) {
    out.retention = RetentionPolicy::kInterest;
  } else if (in.retention() != v1::RETENTION_POLICY_LIMITS) {
    return Status::InvalidArgument("unknown retention policy " +
                                   std::to_string(static_cast<int>(in.retention())) +
                                   "; expected limits (0) or interest (1)");
  }
  out.max_bytes = in.max_bytes();
  return out;
}

void ToProto(const TopicInfo& in, v1::TopicInfo& out) {
  out.set_name(in.name);
  ToProto(in.config, *out.mutable_config());
  out.set_created_at_us(Micros(in.created_at));
  for (const PartitionInfo& p : in.partitions) {
    v1::PartitionInfo* o = out.add_partitions();
    o->set_partition(p.partition.value());
    o->set_first_offset(p.first_offset.value());
    o->set_end_offset(p.end_offset.value());
    o->set_bytes(p.bytes);
    o->set_records(p.records);
  }
}

void ToProto(const PartitionLag& in, v1::PartitionLag& out) {
  out.set_partition(in.partition.value());
  out.set_end_offset(in.end_offset.value());
  out.set_ack_floor(in.ack_floor.value());
  out.set_backlog(in.backlog);
  out.set_in_flight(in.in_flight);
  out.set_delayed(in.delayed);
  out.set_unsettled(in.unsettled);
  out.set_oldest_unsettled_age_us(in.oldest_unsettled_age.count());
  out.set_expired(in.expired);
}

void ToProto(const GroupInfo& in, v1::GroupInfo& out) {
  out.set_topic(in.topic);
  out.set_group(in.group);
  ToProto(in.config, *out.mutable_config());
  out.set_created_at_us(Micros(in.created_at));
  out.set_dlq_topic(in.dlq_topic);
  for (const MemberInfo& m : in.members) {
    v1::MemberInfo* o = out.add_members();
    o->set_name(m.name);
    o->set_max_in_flight(m.max_in_flight);
    o->set_leased(m.leased);
    for (PartitionId p : m.owned_partitions) o->add_owned_partitions(p.value());
  }
  for (const PartitionLag& lag : in.partitions) ToProto(lag, *out.add_partitions());
  ToProto(in.total, *out.mutable_total());
  out.set_dlq_depth(in.dlq_depth);
  out.set_dlq_oldest_age_us(in.dlq_oldest_age.count());
}

void ToProto(const MessageGroupState& in, v1::MessageGroupState& out) {
  out.set_group(in.group);
  out.set_status(std::string(MessageStatusName(in.status)));
  out.set_attempts(in.attempts);
  out.set_leased_by(in.leased_by);
  out.set_lease_expires_us(Micros(in.lease_expires_at));
  out.set_delayed_until_us(Micros(in.delayed_until));
  out.set_last_error(in.last_error);
}

void ToProto(const DeadLetter& in, v1::DeadLetter& out) {
  ToProto(in.record, *out.mutable_record());
  out.set_original_partition(in.original_partition.value());
  out.set_original_offset(in.original_offset.value());
  out.set_reason(in.reason);
  out.set_last_error(in.last_error);
  out.set_attempts(in.attempts);
  out.set_dead_at_us(Micros(in.dead_at));
}

DeadLetterFilter FromProto(const v1::DeadLetterFilter& in) {
  DeadLetterFilter out;
  out.reason = in.reason();
  out.error_contains = in.error_contains();
  out.older_than = std::chrono::milliseconds(in.older_than_ms());
  out.limit = in.limit();
  return out;
}

void ToProto(const DeadLetterFilter& in, v1::DeadLetterFilter& out) {
  out.set_reason(in.reason);
  out.set_error_contains(in.error_contains);
  out.set_older_than_ms(in.older_than.count());
  out.set_limit(in.limit);
}

}  // namespace broker::rpc
