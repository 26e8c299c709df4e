#include "cli/help_formatter.h"

namespace brokerctl {

std::string HelpFormatter::make_footer(const CLI::App* app) const {
  const std::string own = CLI::Formatter::make_footer(app);
  if (app->get_parent() == nullptr) return own;
  const CLI::App* root = app;
  while (root->get_parent() != nullptr) root = root->get_parent();
  const auto globals = root->get_options([root](const CLI::Option* opt) {
    return opt->nonpositional() && opt != root->get_help_ptr() && opt != root->get_help_all_ptr() &&
           opt != root->get_version_ptr();
  });
  if (globals.empty()) return own;
  // make_group starts with a newline; the footer follows after a blank line.
  return make_group("Global options (before or after the command)", false, globals).substr(1) +
         (own.empty() ? "" : "\n" + own);
}

}  // namespace brokerctl
