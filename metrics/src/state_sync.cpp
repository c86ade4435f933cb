#include "state_sync.h"

#include <torch/torch.h>

#include "fulgur/error.h"
#include "fulgur/strategy.h"

namespace fulgur::metrics::detail {
namespace {

// What a process tells the others about its rows before they are gathered: whether it has
// any, their dtype and their shape.
constexpr int64_t kMaxDims = 8;
constexpr int64_t kMetaLength = 3 + kMaxDims;

at::Tensor describe(const at::Tensor& rows, const at::Device& device, const std::string& what) {
  std::vector<int64_t> meta(kMetaLength, 0);
  if (rows.defined()) {
    if (rows.dim() < 1 || rows.dim() > kMaxDims) {
      throw Error(what + ": a gathered state needs 1 to 8 dimensions, not " + std::to_string(rows.dim()));
    }
    meta[0] = 1;
    meta[1] = static_cast<int64_t>(rows.scalar_type());
    meta[2] = rows.dim();
    for (int64_t d = 0; d < rows.dim(); ++d) meta[3 + d] = rows.size(d);
  }
  return torch::tensor(meta, torch::kLong).to(device);
}

}  // namespace

std::vector<at::Tensor> gather_rows(const at::Tensor& rows, Strategy& strategy, const at::Device& device,
                                    const std::string& what) {
  const auto metas = strategy.all_gather(describe(rows, device, what));
  std::vector<std::vector<int64_t>> info;
  for (const auto& meta : metas) {
    const at::Tensor host = meta.cpu();
    info.emplace_back(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + kMetaLength);
  }
  // The rows' dtype and trailing shape come from the first process that has any.
  const std::vector<int64_t>* reference = nullptr;
  for (const auto& one : info) {
    if (one[0] == 1) {
      reference = &one;
      break;
    }
  }
  std::vector<at::Tensor> gathered(info.size());
  if (!reference) return gathered;
  const auto dtype = static_cast<at::ScalarType>((*reference)[1]);
  const int64_t dims = (*reference)[2];
  std::vector<int64_t> shape(reference->begin() + 3, reference->begin() + 3 + dims);
  int64_t most_rows = 0;
  for (const auto& one : info) {
    if (one[0] == 0) continue;
    bool same = one[1] == (*reference)[1] && one[2] == dims;
    for (int64_t d = 1; same && d < dims; ++d) same = one[3 + d] == shape[d];
    if (!same) throw Error(what + ": the processes hold states of different dtypes or shapes and cannot be combined");
    most_rows = std::max(most_rows, one[3]);
  }
  // Equal shapes for the collective: every process sends most_rows rows, the real ones first.
  shape[0] = most_rows;
  at::Tensor padded = at::zeros(shape, at::TensorOptions().dtype(dtype).device(device));
  if (rows.defined() && rows.size(0) > 0) padded.narrow(0, 0, rows.size(0)).copy_(rows);
  auto parts = strategy.all_gather(padded);
  for (std::size_t rank = 0; rank < info.size(); ++rank) {
    if (info[rank][0] == 1) gathered[rank] = parts[rank].narrow(0, 0, info[rank][3]);
  }
  return gathered;
}

std::shared_ptr<StateSet> sync_states(const StateSet& local, Strategy& strategy, const at::Device& device,
                                      const CustomMerge& merge_custom) {
  auto synced = local.clone();
  synced->pending_checks.clear();
  std::vector<std::vector<at::Tensor>> custom_parts(synced->entries.size());
  bool any_custom = false;
  for (std::size_t i = 0; i < synced->entries.size(); ++i) {
    auto& entry = synced->entries[i];
    switch (entry.reduce) {
      case Reduce::Sum:
        strategy.all_reduce(entry.value, ReduceOp::Sum);
        break;
      case Reduce::Max:
        strategy.all_reduce(entry.value, ReduceOp::Max);
        break;
      case Reduce::Min:
        strategy.all_reduce(entry.value, ReduceOp::Min);
        break;
      case Reduce::Cat: {
        const at::Tensor rows = entry.chunks.empty() ? at::Tensor() : at::cat(entry.chunks);
        entry.chunks.clear();
        for (auto& part : gather_rows(rows, strategy, device, "state '" + entry.name + "'")) {
          if (part.defined()) entry.chunks.push_back(part);
        }
        break;
      }
      case Reduce::Custom:
        custom_parts[i] = strategy.all_gather(entry.value.contiguous());
        any_custom = true;
        break;
    }
  }
  at::Tensor updates = at::full({1}, local.updates, at::TensorOptions().dtype(at::kLong).device(device));
  strategy.all_reduce(updates, ReduceOp::Sum);
  synced->updates = updates.item<int64_t>();
  if (any_custom) {
    // Rank 0's custom states, then each other rank's folded in, in rank order.
    const std::size_t ranks = static_cast<std::size_t>(strategy.world_size());
    for (std::size_t i = 0; i < synced->entries.size(); ++i) {
      if (!custom_parts[i].empty()) synced->entries[i].value = custom_parts[i][0].clone();
    }
    for (std::size_t rank = 1; rank < ranks; ++rank) {
      StateSet peer;
      peer.entries = synced->entries;
      for (std::size_t i = 0; i < peer.entries.size(); ++i) {
        if (!custom_parts[i].empty()) peer.entries[i].value = custom_parts[i][rank];
      }
      merge_custom(*synced, peer);
    }
  }
  return synced;
}

}  // namespace fulgur::metrics::detail
