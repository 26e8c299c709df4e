// brokerctl's files that use CLI11, compiled as one translation unit. CLI11 is header-only
// (Debian's 2.1.2 has no precompiled mode), so each file that includes it parses, instantiates
// and compiles CLI11's parser again: about 20 s of the 25 s a 240-line command file took to
// compile (docs/testing.md, "Build time"). Compiled together, they pay for CLI11 once.
//
// The files stay as they are, each written to compile alone; names in their anonymous namespaces
// must therefore not collide (the compiler says so when they do). They are included by relative
// path so ccache still hits across clones (CMake's own unity build writes absolute paths).
#include "main.cc"
#include "cli/help_formatter.cc"
#include "cli/suggest.cc"
#include "commands/backup.cc"
#include "commands/consume.cc"
#include "commands/dlq.cc"
#include "commands/group_reset.cc"
#include "commands/groups.cc"
#include "commands/msg.cc"
#include "commands/publish.cc"
#include "commands/status.cc"
#include "commands/tail.cc"
#include "commands/top.cc"
#include "commands/topics.cc"
