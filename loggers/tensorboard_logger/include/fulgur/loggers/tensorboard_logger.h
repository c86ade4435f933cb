// tensorboard_logger: Lightning's TensorBoardLogger. Writes real TensorBoard event files
// (<save_dir>/<name>/version_<N>/events.out.tfevents.<time>.<host>.<pid>.0): TFRecord framing
// with masked CRC32C checksums around Event / Summary protocol buffers, encoded here by hand
// (a dozen fields; no protobuf library needed). Scalars for every logged metric, and the
// Module's hyper-parameters for TensorBoard's HPARAMS tab.
//
//   --plugin tensorboard_logger                 (<default_root_dir>/lightning_logs/version_N)
//   --plugin tensorboard_logger:save_dir=tb,name=digits
//   tensorboard --logdir lightning_logs
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "fulgur/options.h"

namespace fulgur::loggers {

struct TensorBoardLoggerOptions : DeclaredOptions<TensorBoardLoggerOptions> {
  FULGUR_OPTIONS_OF("tensorboard_logger");
  FULGUR_OPTION(std::string, save_dir, "", "Root folder; empty: the Trainer's default_root_dir.");
  FULGUR_OPTION(std::string, name, "lightning_logs", "The experiment's folder under save_dir.");
};

/// TFRecord's checksum: CRC-32C (Castagnoli), masked as TensorFlow masks it.
inline uint32_t crc32c(std::string_view bytes) {
  static const auto table = [] {
    std::array<uint32_t, 256> entries{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t crc = i;
      for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
      entries[i] = crc;
    }
    return entries;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : bytes) crc = table[(crc ^ byte) & 0xFFu] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

inline uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t crc = crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace fulgur::loggers
