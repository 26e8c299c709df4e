#include "metrics.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include "prometheus_text.h"

namespace brokerd {
namespace {

using Labels = PrometheusText::Labels;

double Seconds(std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1e6; }

void RenderWritePath(const broker::WriteStats& stats, PrometheusText& out) {
  out.Family("broker_messages_appended_total", "counter",
             "Messages appended to the log since brokerd started (dead letters included, "
             "duplicates excluded).");
  out.Sample("broker_messages_appended_total", {}, stats.messages);
  out.Family("broker_publish_requests_total", "counter",
             "Publish requests committed since brokerd started (a batch is one).");
  out.Sample("broker_publish_requests_total", {}, stats.publish_calls);
  out.Family(
      "broker_publish_duplicates_total", "counter",
      "Published messages answered from the idempotency (dedupe) window, appending nothing.");
  out.Sample("broker_publish_duplicates_total", {}, stats.duplicates);
  out.Family("broker_log_commits_total", "counter",
             "RocksDB writes of the log writer (one group commit covers many publishes).");
  out.Sample("broker_log_commits_total", {}, stats.commits);
  out.Family("broker_log_synced_commits_total", "counter",
             "Log writer commits that were fsynced (durability sync).");
  out.Sample("broker_log_synced_commits_total", {}, stats.synced_commits);

  std::vector<double> bounds;
  for (uint64_t micros : broker::SyncLatencyHistogram::kBoundsMicros) {
    bounds.push_back(static_cast<double>(micros) / 1e6);
  }
  const auto& counts = stats.sync_latency.counts;
  out.Family("broker_log_sync_duration_seconds", "histogram",
             "Duration of each fsynced log commit (RocksDB write plus WAL fsync).");
  out.Histogram("broker_log_sync_duration_seconds", {}, bounds,
                std::vector<uint64_t>(counts.begin(), counts.end()),
                static_cast<double>(stats.sync_latency.sum_micros) / 1e6);
}

void RenderDisk(const std::string& data_dir, PrometheusText& out) {
  out.Family("broker_data_dir_size_bytes", "gauge",
             "Sum of the sizes of the files in the data directory (RocksDB: SST files, WAL, "
             "manifest).");
  out.Sample("broker_data_dir_size_bytes", {}, DirectorySizeBytes(data_dir));
  std::error_code ec;
  const std::filesystem::space_info space = std::filesystem::space(data_dir, ec);
  if (ec) return;
  out.Family("broker_data_dir_filesystem_size_bytes", "gauge",
             "Size of the filesystem holding the data directory.");
  out.Sample("broker_data_dir_filesystem_size_bytes", {}, static_cast<uint64_t>(space.capacity));
  out.Family("broker_data_dir_filesystem_available_bytes", "gauge",
             "Bytes available to brokerd on the filesystem holding the data directory.");
  out.Sample("broker_data_dir_filesystem_available_bytes", {},
             static_cast<uint64_t>(space.available));
}

void RenderTopics(const std::vector<broker::TopicInfo>& topics, PrometheusText& out) {
  out.Family("broker_topics", "gauge", "Topics, dead-letter topics included.");
  out.Sample("broker_topics", {}, static_cast<uint64_t>(topics.size()));
  out.Family("broker_topic_partitions", "gauge", "Partitions of the topic.");
  for (const broker::TopicInfo& t : topics) {
    out.Sample("broker_topic_partitions", {{"topic", t.name}},
               static_cast<uint64_t>(t.config.partitions));
  }
  out.Family("broker_topic_max_bytes", "gauge",
             "Interest retention cap of the topic's stored bytes (topics with a cap only).");
  for (const broker::TopicInfo& t : topics) {
    if (t.config.retention == broker::RetentionPolicy::kInterest && t.config.max_bytes != 0) {
      out.Sample("broker_topic_max_bytes", {{"topic", t.name}}, t.config.max_bytes);
    }
  }
  struct PartitionFamily {
    const char* name;
    const char* help;
    uint64_t (*value)(const broker::PartitionInfo&);
  };
  const PartitionFamily families[] = {
      {"broker_partition_first_offset", "Offset of the partition's first retained record.",
       [](const broker::PartitionInfo& p) { return p.first_offset.value(); }},
      {"broker_partition_end_offset",
       "The partition's next offset: records ever appended to it (rate() of it is the publish "
       "rate).",
       [](const broker::PartitionInfo& p) { return p.end_offset.value(); }},
      {"broker_partition_records", "Records retained in the partition.",
       [](const broker::PartitionInfo& p) { return p.records; }},
      {"broker_partition_size_bytes", "Stored bytes of the partition's retained records.",
       [](const broker::PartitionInfo& p) { return p.bytes; }},
  };
  for (const PartitionFamily& family : families) {
    out.Family(family.name, "gauge", family.help);
    for (const broker::TopicInfo& t : topics) {
      for (const broker::PartitionInfo& p : t.partitions) {
        out.Sample(family.name,
                   {{"topic", t.name}, {"partition", std::to_string(p.partition.value())}},
                   family.value(p));
      }
    }
  }
}

void RenderGroupCounters(const std::vector<broker::GroupInfo>& groups, PrometheusText& out) {
  struct CounterFamily {
    const char* name;
    const char* help;
    uint64_t broker::DeliveryCounters::*field;
  };
  const CounterFamily families[] = {
      {"broker_group_deliveries_total",
       "Messages leased to members of the group (first deliveries and redeliveries).",
       &broker::DeliveryCounters::delivered},
      {"broker_group_redeliveries_total", "Deliveries after a message's first attempt.",
       &broker::DeliveryCounters::redelivered},
      {"broker_group_acks_total", "Acks accepted.", &broker::DeliveryCounters::acked},
      {"broker_group_nacks_total", "Nacks accepted (each schedules a redelivery).",
       &broker::DeliveryCounters::nacked},
      {"broker_group_lease_expiries_total",
       "Leases that ran out before the member settled the message (counted as a nack).",
       &broker::DeliveryCounters::lease_expired},
      {"broker_group_rejects_total", "Rejects accepted (each dead-letters its message at once).",
       &broker::DeliveryCounters::rejected},
      {"broker_group_dead_letters_total",
       "Messages moved to the group's dead-letter topic (max deliveries reached or rejected).",
       &broker::DeliveryCounters::dead_lettered},
      {"broker_group_expired_requests_total",
       "Requests past their deadline that the group (a request responder) settled without "
       "delivering them.",
       &broker::DeliveryCounters::expired_requests},
  };
  for (const CounterFamily& family : families) {
    out.Family(family.name, "counter", std::string(family.help) + " Since brokerd started.");
    for (const broker::GroupInfo& g : groups) {
      out.Sample(family.name, {{"topic", g.topic}, {"group", g.group}}, g.counters.*family.field);
    }
  }
}

void RenderGroupLag(const std::vector<broker::GroupInfo>& groups, PrometheusText& out) {
  struct LagFamily {
    const char* name;
    const char* type;
    const char* help;
    uint64_t broker::PartitionLag::*field;
  };
  const LagFamily families[] = {
      {"broker_group_backlog_messages", "gauge", "Messages never delivered to the group.",
       &broker::PartitionLag::backlog},
      {"broker_group_in_flight_messages", "gauge", "Messages leased to members, not yet settled.",
       &broker::PartitionLag::in_flight},
      {"broker_group_delayed_messages", "gauge",
       "Messages waiting for redelivery (nacked or lease expired).",
       &broker::PartitionLag::delayed},
      {"broker_group_unsettled_messages", "gauge",
       "Messages not yet acked or dead-lettered: backlog + in_flight + delayed.",
       &broker::PartitionLag::unsettled},
      {"broker_group_expired_messages_total", "counter",
       "Unsettled messages deleted by retention before the group settled them.",
       &broker::PartitionLag::expired},
  };
  for (const LagFamily& family : families) {
    out.Family(family.name, family.type, family.help);
    for (const broker::GroupInfo& g : groups) {
      for (const broker::PartitionLag& lag : g.partitions) {
        out.Sample(family.name,
                   {{"topic", g.topic},
                    {"group", g.group},
                    {"partition", std::to_string(lag.partition.value())}},
                   lag.*family.field);
      }
    }
  }
  out.Family("broker_group_oldest_unsettled_age_seconds", "gauge",
             "Age (now - publish time) of the oldest unsettled message; 0 when none is.");
  for (const broker::GroupInfo& g : groups) {
    for (const broker::PartitionLag& lag : g.partitions) {
      out.Sample("broker_group_oldest_unsettled_age_seconds",
                 {{"topic", g.topic},
                  {"group", g.group},
                  {"partition", std::to_string(lag.partition.value())}},
                 Seconds(lag.oldest_unsettled_age));
    }
  }
}

void RenderGroups(const std::vector<broker::GroupInfo>& groups, PrometheusText& out) {
  out.Family("broker_groups", "gauge", "Consumer groups.");
  out.Sample("broker_groups", {}, static_cast<uint64_t>(groups.size()));
  out.Family("broker_group_members", "gauge", "Members subscribed to the group now.");
  for (const broker::GroupInfo& g : groups) {
    out.Sample("broker_group_members", {{"topic", g.topic}, {"group", g.group}},
               static_cast<uint64_t>(g.members.size()));
  }
  RenderGroupCounters(groups, out);
  RenderGroupLag(groups, out);
  out.Family("broker_group_dlq_messages", "gauge",
             "Dead letters of the group not yet redriven or purged (DLQ depth).");
  for (const broker::GroupInfo& g : groups) {
    out.Sample("broker_group_dlq_messages", {{"topic", g.topic}, {"group", g.group}}, g.dlq_depth);
  }
  out.Family("broker_group_dlq_oldest_age_seconds", "gauge",
             "Time since the group's oldest pending dead letter was dead-lettered; 0 when none.");
  for (const broker::GroupInfo& g : groups) {
    out.Sample("broker_group_dlq_oldest_age_seconds", {{"topic", g.topic}, {"group", g.group}},
               Seconds(g.dlq_oldest_age));
  }
}

}  // namespace

uint64_t DirectorySizeBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(dir, ec);
  for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code file_ec;
    if (!it->is_regular_file(file_ec) || file_ec) continue;
    const uintmax_t size = it->file_size(file_ec);
    if (!file_ec) total += static_cast<uint64_t>(size);
  }
  return total;
}

std::string RenderMetrics(const MetricsSource& source) {
  PrometheusText out;
  uint64_t errors = 0;
  out.Family("broker_build_info", "gauge", "brokerd's version, as a label; the value is 1.");
  out.Sample("broker_build_info", {{"version", BROKER_VERSION}}, uint64_t{1});
  out.Family("process_start_time_seconds", "gauge",
             "Start time of the process since the Unix epoch in seconds.");
  out.Sample("process_start_time_seconds", {},
             static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     source.started_at.time_since_epoch())
                                     .count()) /
                 1e3);

  RenderWritePath(source.broker->GetWriteStats(), out);
  RenderDisk(source.data_dir, out);
  if (auto topics = source.broker->ListTopics(); topics.ok()) {
    RenderTopics(*topics, out);
  } else {
    ++errors;
  }
  if (auto groups = source.broker->ListGroups(""); groups.ok()) {
    RenderGroups(*groups, out);
  } else {
    ++errors;
  }
  out.Family("broker_scrape_errors", "gauge",
             "Engine calls that failed while collecting this scrape (their families are missing).");
  out.Sample("broker_scrape_errors", {}, errors);
  return out.text();
}

}  // namespace brokerd
