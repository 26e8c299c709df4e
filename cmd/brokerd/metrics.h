// Metrics: what brokerd reports to Prometheus, read through the engine's public API only
// (Broker::GetWriteStats, ListTopics, ListGroups) plus the data directory's size on disk.
//
// Families (docs/operations.md explains each and what to alert on):
//   broker_build_info{version}, process_start_time_seconds, broker_scrape_errors
//   write path:  broker_messages_appended_total, broker_publish_requests_total,
//                broker_publish_duplicates_total, broker_log_commits_total,
//                broker_log_synced_commits_total, broker_log_sync_duration_seconds (histogram)
//   disk:        broker_data_dir_size_bytes, broker_data_dir_filesystem_{size,available}_bytes
//   topics:      broker_topics, broker_topic_partitions{topic},
//                broker_partition_{first_offset,end_offset,records,size_bytes}{topic,partition}
//   groups:      broker_groups, broker_group_members{topic,group},
//                broker_group_{deliveries,redeliveries,acks,nacks,lease_expiries,rejects,
//                dead_letters}_total{topic,group},
//                broker_group_{backlog,in_flight,delayed,unsettled}_messages{topic,group,
//                partition}, broker_group_oldest_unsettled_age_seconds{topic,group,partition},
//                broker_group_expired_messages_total{topic,group,partition},
//                broker_group_dlq_messages{topic,group}, broker_group_dlq_oldest_age_seconds{...}
// Counters of the engine live in memory and start at 0 when brokerd starts (Prometheus handles
// the reset); lag figures and offsets are read from the engine's persistent state.
//
// Thread safety: RenderMetrics may run on any thread, concurrently with every broker call.
#pragma once

#include <chrono>
#include <string>

#include "broker/broker.h"

namespace brokerd {

struct MetricsSource {
  broker::Broker* broker = nullptr;  // must outlive every RenderMetrics call
  std::string data_dir;              // its files' sizes are summed for broker_data_dir_size_bytes
  std::chrono::system_clock::time_point started_at;  // process_start_time_seconds
};

// One scrape's answer in the Prometheus text format. Engine calls that fail are skipped (their
// families are left out) and counted in broker_scrape_errors, so one bad call does not hide the
// rest.
std::string RenderMetrics(const MetricsSource& source);

// Sum of the sizes of the regular files under `dir` (recursively); files that vanish while it
// walks (RocksDB compactions) are skipped.
uint64_t DirectorySizeBytes(const std::string& dir);

}  // namespace brokerd
