#include "system_load.h"

#include <fstream>

namespace brokerbench {

double LoadAverage1() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  if (!(in >> load)) return -1;
  return load;
}

}  // namespace brokerbench
