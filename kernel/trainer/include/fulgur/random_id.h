// A random 64-bit id in hex, from the system's entropy (not the seeded generators, which every
// rank and every rerun share): what tells one run or job apart from another that shares a folder
// or a port (model_checkpoint's run_id, ddp's job id).
#pragma once

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

namespace fulgur {

inline std::string random_id() {
  std::random_device entropy;
  const uint64_t bits = (static_cast<uint64_t>(entropy()) << 32) ^ entropy();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(bits));
  return text;
}

}  // namespace fulgur
