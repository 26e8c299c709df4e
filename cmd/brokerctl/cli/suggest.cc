#include "cli/suggest.h"

#include <algorithm>

namespace brokerctl {
namespace {

// The subcommand the parse got to: the root, or the last subcommand chosen below it.
const CLI::App* Deepest(const CLI::App& root) {
  const CLI::App* app = &root;
  while (!app->get_subcommands().empty()) app = app->get_subcommands().back();
  return app;
}

// "brokerctl groups list"
std::string CommandPath(const CLI::App* app) {
  std::string path = app->get_name();
  for (const CLI::App* p = app->get_parent(); p != nullptr; p = p->get_parent()) {
    path = p->get_name() + " " + path;
  }
  return path;
}

std::vector<std::string> SubcommandNames(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
    if (!sub->get_name().empty()) names.push_back(sub->get_name());
  }
  return names;
}

// Every flag `app` accepts: its own and, as brokerctl falls through, its ancestors'.
std::vector<std::string> FlagNames(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* a = app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* opt : a->get_options()) {
      for (const std::string& n : opt->get_lnames()) names.push_back("--" + n);
      for (const std::string& n : opt->get_snames()) names.push_back("-" + n);
    }
  }
  return names;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string Unknown(const char* what, const std::string& typed, const CLI::App* where,
                    const std::vector<std::string>& candidates) {
  std::string message =
      std::string("unknown ") + what + " '" + typed + "' for '" + CommandPath(where) + "'";
  if (auto closest = Closest(typed, candidates)) return message + "; did you mean '" + *closest + "'?";
  return message;
}

}  // namespace

size_t EditDistance(std::string_view a, std::string_view b) {
  // Optimal string alignment: Levenshtein plus adjacent transpositions, three rows.
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string> Closest(std::string_view typed,
                                   const std::vector<std::string>& candidates) {
  // Short words (ls, jsn) may be two steps off; longer ones a third of their length, at least
  // one (so "--reson" is not taken for "--json"). Leading dashes do not count as length.
  const size_t length = typed.size() - std::min(typed.find_first_not_of('-'), typed.size());
  const size_t allowed = length <= 3 ? 2 : std::max<size_t>(1, length / 3);
  std::optional<std::string> best;
  size_t best_distance = allowed + 1;
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(typed, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

std::optional<std::string> ExplainParseError(const CLI::App& root, const CLI::ParseError& error) {
  // By exit code: CLI11 names some errors after the command that threw them, not their kind.
  const int code = error.get_exit_code();
  const bool required = code == static_cast<int>(CLI::ExitCodes::RequiredError);
  if (!required && code != static_cast<int>(CLI::ExitCodes::ExtrasError)) return std::nullopt;
  const CLI::App* deepest = Deepest(root);
  const std::vector<std::string> commands = SubcommandNames(deepest);
  for (const std::string& token : root.remaining(/*recurse=*/true)) {
    if (token.starts_with("-")) {
      const std::string flag = token.substr(0, token.find('='));
      return Unknown("flag", flag, deepest, FlagNames(deepest));
    }
    // A word where a command was expected; elsewhere a stray argument CLI11 names well enough.
    if (!commands.empty()) {
      std::string message = Unknown("command", token, deepest, commands);
      if (message.find("did you mean") == std::string::npos) {
        message += "; its commands: " + Join(commands);
      }
      return message;
    }
  }
  if (!commands.empty() && required) {
    return "'" + CommandPath(deepest) + "' needs a command: " + Join(commands);
  }
  return std::nullopt;
}

}  // namespace brokerctl
