// fulgur::Batch: one batch (or one sample) of any structure, as Python's DataLoader yields them.
//
// A Batch is a tensor, a number, a string, a list of Batches or a dict with string keys (in
// insertion order), nested as deep as the data needs. Steps read it as Python would:
//
//   auto [x1, x2, y] = batch.unpack<3>();          // x1, x2, y = batch
//   const torch::Tensor& mask = batch["mask"];      // batch["mask"]
//   const torch::Tensor& x = batch[0];              // batch[0]
//   const std::string& file = batch.at("path").str();
//
// `operator[]` gives the tensor at an index or key; `at()` gives any node (a nested list, a
// string, a number). Asking for what the batch lacks is a fulgur::Error naming what it holds.
// The Trainer moves, pins and converts every tensor of it (map_tensors), whatever its shape.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <type_traits>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/data/example.h>

namespace fulgur {

class Batch {
 public:
  using List = std::vector<Batch>;
  using Dict = std::vector<std::pair<std::string, Batch>>;
  enum class Kind { None, Tensor, Int, Double, Bool, String, List, Dict };

  /// None (Python's None).
  Batch() = default;
  Batch(at::Tensor tensor) : value_(std::move(tensor)) {}  // NOLINT: a tensor is a batch
  Batch(int value) : value_(static_cast<int64_t>(value)) {}
  Batch(int64_t value) : value_(value) {}
  Batch(double value) : value_(value) {}
  Batch(bool value) : value_(value) {}
  Batch(std::string value) : value_(std::move(value)) {}
  Batch(const char* value) : value_(std::string(value)) {}
  /// LibTorch's Example: the list [data, target].
  Batch(const torch::data::Example<>& example);
  /// LibTorch's Example without a target (TensorDataset): the data tensor alone.
  Batch(const torch::data::Example<at::Tensor, torch::data::example::NoTarget>& example);

  /// A list (Python's tuple or list): `Batch::list({x1, x2, y})`.
  static Batch list(List items);
  /// A dict with string keys, kept in the given order: `Batch::dict({{"x", x}, {"y", y}})`.
  static Batch dict(Dict entries);

  Kind kind() const { return static_cast<Kind>(value_.index()); }
  bool is_none() const { return kind() == Kind::None; }
  bool is_tensor() const { return kind() == Kind::Tensor; }
  bool is_list() const { return kind() == Kind::List; }
  bool is_dict() const { return kind() == Kind::Dict; }

  // --- leaves --------------------------------------------------------------------------------
  /// The tensor this node is; throws naming what it is instead.
  const at::Tensor& tensor() const;
  at::Tensor& tensor();
  int64_t to_int() const;
  /// A double, or an int widened to one.
  double to_double() const;
  bool to_bool() const;
  const std::string& str() const;

  // --- containers ----------------------------------------------------------------------------
  /// Entries of a list or dict (0 for a leaf).
  std::size_t size() const;
  const Batch& at(std::size_t index) const;
  Batch& at(std::size_t index);
  const Batch& at(const std::string& key) const;
  Batch& at(const std::string& key);
  bool contains(const std::string& key) const;
  /// A dict's keys in order.
  std::vector<std::string> keys() const;
  const List& items() const;
  const Dict& entries() const;

  /// The tensor at `index` of a list (or, for a dict, of its entries in order).
  template <typename Index, typename = std::enable_if_t<std::is_integral_v<Index>>>
  const at::Tensor& operator[](Index index) const {
    return at(checked_index(static_cast<int64_t>(index))).tensor();
  }
  const at::Tensor& operator[](const std::string& key) const { return at(key).tensor(); }
  const at::Tensor& operator[](const char* key) const { return at(std::string(key)).tensor(); }

  /// The N tensors of a list of N tensors: `auto [x, y] = batch.unpack<2>();`.
  template <std::size_t N>
  std::array<at::Tensor, N> unpack() const {
    check_unpack(N);
    std::array<at::Tensor, N> tensors;
    for (std::size_t i = 0; i < N; ++i) tensors[i] = (*this)[i];
    return tensors;
  }

  // --- every tensor, whatever the structure ------------------------------------------------
  /// Visits the tensors depth-first, in order (a dict's entries in their order).
  void for_each_tensor(const std::function<void(const at::Tensor&)>& visit) const;
  /// The same structure with every tensor replaced by fn(tensor); other leaves are kept as they are.
  Batch map_tensors(const std::function<at::Tensor(const at::Tensor&)>& fn) const;
  /// Replaces every tensor in place by fn(tensor).
  void apply_to_tensors(const std::function<at::Tensor(const at::Tensor&)>& fn);
  /// The number of samples, by Lightning's rule: the first dimension of the first tensor. nullopt
  /// when the batch has no tensor with a dimension or its tensors disagree; `problem` then says why.
  std::optional<int64_t> batch_size(std::string* problem = nullptr) const;

  /// A short description for error messages: `list[tensor[64, 32] float, tensor[64] long]`.
  std::string describe() const;

 private:
  void check_unpack(std::size_t n) const;
  std::size_t checked_index(int64_t index) const;
  [[noreturn]] void wrong_kind(const char* wanted) const;

  std::variant<std::monostate, at::Tensor, int64_t, double, bool, std::string, List, Dict> value_;
};

/// A description of a tensor for error messages: `tensor[64, 32] float`.
std::string describe_tensor(const at::Tensor& tensor);

}  // namespace fulgur
