// Clock: the only source of time in the engine, injected through Options so tests are exact.
//
// Thread safety: implementations must be safe to call from any thread.
#pragma once

#include <memory>

#include "broker/types.h"

namespace broker {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;

  // The process-wide real-time clock (std::chrono::system_clock).
  static std::shared_ptr<Clock> System();
};

}  // namespace broker
