// A walk over a pickle's opcodes that runs before LibTorch's unpickler sees them and refuses what
// would let a crafted file reach outside its own bytes or exhaust the process:
//   - a string, or any length, that runs past the pickle's end (LibTorch allocates the declared
//     length before it reads: a 459-byte file could ask for 4 GiB);
//   - a memo index beyond what the pickle's size could count (LibTorch fills every gap below an
//     index with None: 2^32 entries from one opcode);
//   - nesting deeper than kMaxPickleNesting, and a container that holds itself (LibTorch's
//     destructors and fulgur's own walks recurse once per level);
//   - a storage whose record holds fewer bytes than its elements need, and a tensor whose
//     offset, sizes and strides reach past its storage (LibTorch 1.13 sizes a storage from the
//     numel the pickle declares, not from the record, and checks no view: the tensor would read
//     the heap);
//   - a call of anything but a function the pickle named by GLOBAL (LibTorch calls by index, so
//     a number in its place would call an arbitrary earlier global), and globals whose rebuilt
//     objects LibTorch does not check (sparse tensors, tensor subclasses, RRefs) or does not know.
// It follows LibTorch's unpickler opcode by opcode; an opcode that unpickler does not read is
// refused here too (what Python writes and LibTorch 1.13 cannot read is rewritten first, see
// pickle_rewriter.h, and the rewritten pickle is scanned again).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace fulgur::detail {

/// The deepest nesting of lists, dicts, tuples and objects a file may hold. Checkpoints nest
/// fewer than ten levels; a sample or hyper-parameters a few more.
constexpr int kMaxPickleNesting = 256;

struct PickleScanOptions {
  /// The archive's records (names relative to its root folder) and their sizes in bytes.
  const std::map<std::string, uint64_t>* records = nullptr;
  /// Where this pickle's storages live: "data/" for data.pkl, "constants/" for constants.pkl.
  std::string storage_prefix = "data/";
  /// TorchScript objects (`__torch__.` classes), as in the archives torch::serialize writes.
  bool allow_torchscript_objects = false;
};

/// Why `pickle` must not be unpickled ("a string at byte 12 declares 4294967295 bytes but only
/// 440 follow"), or nullopt when it may be.
std::optional<std::string> scan_pickle(const std::string& pickle, const PickleScanOptions& options);

}  // namespace fulgur::detail
