#include "fulgur/every_slot_runs.h"

#include <spdlog/spdlog.h>

namespace fulgur::detail {

void report_slot_failure(const char* hook, const std::exception* error) {
  spdlog::error("{}: a slot failed while handling an error (the other slots still run): {}", hook,
                error ? error->what() : "it threw something that is not a std::exception");
}

}  // namespace fulgur::detail
