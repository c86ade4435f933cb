// The zip container of a .pt / .ckpt file, as LibTorch's PyTorchStreamWriter and Python's
// torch.save write it: stored (uncompressed) records, one pickle (data.pkl) and one record per
// tensor storage. LibTorch's reader does not check the records' CRC-32; verify_archive does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fulgur::detail {

/// One record of the archive: its full name ("archive/data/0") and where its bytes lie.
struct ZipRecord {
  std::string name;
  uint16_t method = 0;  // 0: stored
  uint32_t crc = 0;
  uint64_t stored_size = 0;
  uint64_t original_size = 0;
  uint64_t data_offset = 0;
};

/// What an archive may hold besides stored records.
struct ZipPolicy {
  /// TorchScript archives (an optimizer's state, written by torch::serialize) deflate their code
  /// and debug tables: allowed there, for those records, up to max_inflated_bytes each.
  bool compressed_code = false;
  uint64_t max_inflated_bytes = 64ull << 20;
};

/// Checks the archive's structure and every record: stored (a compressed record is refused:
/// torch.save and fulgur never write one, and it could inflate to any size; see ZipPolicy), its
/// sizes, a name used once, its CRC-32. Throws fulgur::Error naming the `what` ("checkpoint") at
/// `path` and the record: a changed byte anywhere in a tensor is an error, not a weight.
std::vector<ZipRecord> verify_archive(const std::vector<char>& bytes, const std::string& path, const std::string& what,
                                      const ZipPolicy& policy = {});

/// A verified record's bytes (inflated when it is deflated).
std::string record_text(const std::vector<char>& bytes, const ZipRecord& record);

}  // namespace fulgur::detail
