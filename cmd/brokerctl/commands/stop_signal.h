// Ctrl-C for commands that run until stopped (consume --follow, top): SIGINT and SIGTERM set a
// flag the command checks between steps, so it finishes what it has in hand and exits 0.
//
// Thread safety: the flag is a sig_atomic_t written only by the handler.
#pragma once

namespace brokerctl {

// Installs the handlers (once per process is enough; calling again is harmless).
void StopOnSignals();
// Whether SIGINT or SIGTERM arrived since StopOnSignals().
bool StopRequested();

}  // namespace brokerctl
