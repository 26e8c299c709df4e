// The Kafka APIs this listener implements and the versions it advertises in ApiVersions. Only
// these: a client must never be told of an API that would then fail.
// The versions start at the old minimums because librdkafka enables features only when its old
// versions are in range; ApiVersions v3 is the only flexible version among them.
//
// Thread safety: constants.
#pragma once

#include <array>
#include <cstdint>

namespace broker::kafka {

enum class ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kDescribeGroups = 15,
  kApiVersions = 18,
  kCreateTopics = 19,
  kInitProducerId = 22,
};

struct ApiRange {
  ApiKey key;
  int16_t min_version;
  int16_t max_version;
};

inline constexpr std::array<ApiRange, 15> kSupportedApis = {{
    {ApiKey::kProduce, 3, 7},
    {ApiKey::kFetch, 4, 11},
    {ApiKey::kListOffsets, 1, 3},
    {ApiKey::kMetadata, 0, 6},
    {ApiKey::kOffsetCommit, 2, 7},
    {ApiKey::kOffsetFetch, 1, 5},
    {ApiKey::kFindCoordinator, 0, 2},
    {ApiKey::kJoinGroup, 0, 5},
    {ApiKey::kHeartbeat, 0, 3},
    {ApiKey::kLeaveGroup, 0, 3},
    {ApiKey::kSyncGroup, 0, 3},
    {ApiKey::kDescribeGroups, 0, 4},
    {ApiKey::kApiVersions, 0, 3},
    {ApiKey::kCreateTopics, 0, 4},
    {ApiKey::kInitProducerId, 0, 1},
}};

// The supported range of `api_key`, or nullptr for an API not implemented here.
inline const ApiRange* FindApi(int16_t api_key) {
  for (const ApiRange& api : kSupportedApis) {
    if (static_cast<int16_t>(api.key) == api_key) return &api;
  }
  return nullptr;
}

// Flexible versions (compact strings, tagged fields, request header v2) among those supported.
inline bool IsFlexible(ApiKey key, int16_t version) {
  return key == ApiKey::kApiVersions && version >= 3;
}

}  // namespace broker::kafka
