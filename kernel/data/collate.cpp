#include "fulgur/collate.h"

#include <ATen/ATen.h>

#include "fulgur/error.h"

namespace fulgur {

namespace {

// Collates the nodes at one place of every sample's structure; `where` names that place.
class Collator {
 public:
  Collator(const std::vector<int64_t>& indices) : indices_(indices) {}

  Batch collate(const std::vector<const Batch*>& nodes, const std::string& where) const {
    const Batch& first = *nodes.front();
    for (std::size_t i = 1; i < nodes.size(); ++i) {
      if (nodes[i]->kind() != first.kind()) mismatch(nodes, i, where, "a different structure");
    }
    switch (first.kind()) {
      case Batch::Kind::Tensor: {
        std::vector<at::Tensor> tensors;
        tensors.reserve(nodes.size());
        for (std::size_t i = 0; i < nodes.size(); ++i) {
          const auto& tensor = nodes[i]->tensor();
          if (!tensor.defined()) mismatch(nodes, i, where, "an undefined tensor");
          if (tensor.sizes() != first.tensor().sizes()) mismatch(nodes, i, where, "tensors of different shapes");
          if (tensor.scalar_type() != first.tensor().scalar_type())
            mismatch(nodes, i, where, "tensors of different dtypes");
          tensors.push_back(tensor);
        }
        return at::stack(tensors);
      }
      case Batch::Kind::Int: {
        std::vector<int64_t> values;
        for (const auto* node : nodes) values.push_back(node->to_int());
        return at::tensor(values, at::TensorOptions().dtype(at::kLong));
      }
      case Batch::Kind::Double: {
        std::vector<double> values;
        for (const auto* node : nodes) values.push_back(node->to_double());
        return at::tensor(values, at::TensorOptions().dtype(at::kDouble));
      }
      case Batch::Kind::Bool: {
        auto values = at::empty({static_cast<int64_t>(nodes.size())}, at::TensorOptions().dtype(at::kBool));
        auto* data = values.data_ptr<bool>();
        for (std::size_t i = 0; i < nodes.size(); ++i) data[i] = nodes[i]->to_bool();
        return values;
      }
      case Batch::Kind::String: {
        Batch::List strings;
        for (const auto* node : nodes) strings.emplace_back(node->str());
        return Batch::list(std::move(strings));
      }
      case Batch::Kind::List: {
        const std::size_t n = first.size();
        for (std::size_t i = 1; i < nodes.size(); ++i) {
          if (nodes[i]->size() != n) mismatch(nodes, i, where, "lists of different lengths");
        }
        Batch::List items;
        std::vector<const Batch*> column(nodes.size());
        for (std::size_t k = 0; k < n; ++k) {
          for (std::size_t i = 0; i < nodes.size(); ++i) column[i] = &nodes[i]->at(k);
          items.push_back(collate(column, where + "[" + std::to_string(k) + "]"));
        }
        return Batch::list(std::move(items));
      }
      case Batch::Kind::Dict: {
        Batch::Dict entries;
        std::vector<const Batch*> column(nodes.size());
        for (const auto& [key, value] : first.entries()) {
          for (std::size_t i = 0; i < nodes.size(); ++i) {
            if (!nodes[i]->contains(key))
              mismatch(nodes, i, where, "dicts with different keys ('" + key + "' missing)");
            column[i] = &nodes[i]->at(key);
          }
          entries.emplace_back(key, collate(column, where + "[\"" + key + "\"]"));
        }
        for (std::size_t i = 1; i < nodes.size(); ++i) {
          if (nodes[i]->size() != first.size()) mismatch(nodes, i, where, "dicts with different keys");
        }
        return Batch::dict(std::move(entries));
      }
      case Batch::Kind::None:
        throw Error("default_collate: sample " + name(0) + " holds None" + at_place(where) +
                    "; samples may hold tensors, numbers, strings, lists and dicts (or give the loader a collate)");
    }
    throw Error("default_collate: unknown batch kind");
  }

 private:
  std::string name(std::size_t position) const {
    return position < indices_.size() ? std::to_string(indices_[position]) : std::to_string(position);
  }
  static std::string at_place(const std::string& where) { return where.empty() ? "" : " at sample" + where; }

  [[noreturn]] void mismatch(const std::vector<const Batch*>& nodes, std::size_t i, const std::string& where,
                             const std::string& what) const {
    throw Error("default_collate: samples " + name(0) + " and " + name(i) +
                " cannot be stacked into one batch: " + what + at_place(where) + " (sample " + name(0) + ": " +
                nodes[0]->describe() + "; sample " + name(i) + ": " + nodes[i]->describe() + ")");
  }

  const std::vector<int64_t>& indices_;
};

}  // namespace

Batch default_collate(std::vector<Batch>& samples, const std::vector<int64_t>& indices) {
  if (samples.empty()) throw Error("default_collate: no samples to collate");
  std::vector<const Batch*> nodes;
  nodes.reserve(samples.size());
  for (const auto& sample : samples) nodes.push_back(&sample);
  return Collator(indices).collate(nodes, "");
}

}  // namespace fulgur
