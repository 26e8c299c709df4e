#include "commands/group_lookup.h"

#include <vector>

namespace brokerctl {

std::optional<std::string> ResolveGroupTopic(Context& ctx, const std::string& group,
                                             const std::string& topic, int* exit_code) {
  if (!topic.empty()) return topic;
  v1::ListGroupsResponse all;
  if (!ctx.Admin(&AdminStub::ListGroups, v1::ListGroupsRequest(), &all)) {
    *exit_code = kExitFailure;
    return std::nullopt;
  }
  std::vector<std::string> topics;
  for (const auto& g : all.groups()) {
    if (g.group() == group) topics.push_back(g.topic());
  }
  if (topics.empty()) {
    *exit_code = ctx.Fail("group '" + group +
                              "' does not exist on any topic ('brokerctl groups list' shows them)",
                          "not_found");
    return std::nullopt;
  }
  if (topics.size() > 1) {
    std::string names;
    for (const auto& t : topics) names += (names.empty() ? "" : ", ") + t;
    *exit_code = ctx.Usage("group '" + group + "' exists on several topics (" + names +
                           "); choose one with --topic");
    return std::nullopt;
  }
  return topics[0];
}

}  // namespace brokerctl
