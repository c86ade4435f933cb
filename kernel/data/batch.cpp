#include "fulgur/batch.h"

#include <sstream>

#include <c10/util/Exception.h>

#include "fulgur/error.h"

namespace fulgur {

std::string describe_tensor(const at::Tensor& tensor) {
  if (!tensor.defined()) return "tensor(undefined)";
  std::ostringstream out;
  out << "tensor[";
  for (int64_t d = 0; d < tensor.dim(); ++d) out << (d ? ", " : "") << tensor.size(d);
  out << "] " << c10::toString(tensor.scalar_type());
  if (!tensor.device().is_cpu()) out << " on " << tensor.device().str();
  return out.str();
}

Batch::Batch(const torch::data::Example<>& example) : value_(List{Batch(example.data), Batch(example.target)}) {}

Batch::Batch(const torch::data::Example<at::Tensor, torch::data::example::NoTarget>& example) : value_(example.data) {}

Batch Batch::list(List items) {
  Batch batch;
  batch.value_ = std::move(items);
  return batch;
}

Batch Batch::dict(Dict entries) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (entries[i].first == entries[j].first)
        throw Error("Batch::dict: the key '" + entries[i].first + "' appears twice");
    }
  }
  Batch batch;
  batch.value_ = std::move(entries);
  return batch;
}

void Batch::wrong_kind(const char* wanted) const {
  throw Error(std::string("the batch holds ") + describe() + ", not " + wanted);
}

const at::Tensor& Batch::tensor() const {
  if (const auto* tensor = std::get_if<at::Tensor>(&value_)) return *tensor;
  wrong_kind("a tensor");
}

at::Tensor& Batch::tensor() {
  if (auto* tensor = std::get_if<at::Tensor>(&value_)) return *tensor;
  wrong_kind("a tensor");
}

int64_t Batch::to_int() const {
  if (const auto* value = std::get_if<int64_t>(&value_)) return *value;
  wrong_kind("an int");
}

double Batch::to_double() const {
  if (const auto* value = std::get_if<double>(&value_)) return *value;
  if (const auto* value = std::get_if<int64_t>(&value_)) return static_cast<double>(*value);
  wrong_kind("a number");
}

bool Batch::to_bool() const {
  if (const auto* value = std::get_if<bool>(&value_)) return *value;
  wrong_kind("a bool");
}

const std::string& Batch::str() const {
  if (const auto* value = std::get_if<std::string>(&value_)) return *value;
  wrong_kind("a string");
}

std::size_t Batch::size() const {
  if (const auto* list = std::get_if<List>(&value_)) return list->size();
  if (const auto* dict = std::get_if<Dict>(&value_)) return dict->size();
  return 0;
}

const Batch::List& Batch::items() const {
  if (const auto* list = std::get_if<List>(&value_)) return *list;
  wrong_kind("a list");
}

const Batch::Dict& Batch::entries() const {
  if (const auto* dict = std::get_if<Dict>(&value_)) return *dict;
  wrong_kind("a dict");
}

const Batch& Batch::at(std::size_t index) const { return const_cast<Batch*>(this)->at(index); }

Batch& Batch::at(std::size_t index) {
  if (auto* list = std::get_if<List>(&value_)) {
    if (index < list->size()) return (*list)[index];
  } else if (auto* dict = std::get_if<Dict>(&value_)) {
    if (index < dict->size()) return (*dict)[index].second;
  } else {
    throw Error("batch[" + std::to_string(index) + "]: the batch is " + describe() + ", which has no positions");
  }
  throw Error("batch[" + std::to_string(index) + "]: the batch has " + std::to_string(size()) +
              " entries: " + describe());
}

const Batch& Batch::at(const std::string& key) const { return const_cast<Batch*>(this)->at(key); }

Batch& Batch::at(const std::string& key) {
  auto* dict = std::get_if<Dict>(&value_);
  if (!dict) throw Error("batch[\"" + key + "\"]: the batch is " + describe() + ", not a dict");
  for (auto& [name, value] : *dict) {
    if (name == key) return value;
  }
  std::string known;
  for (const auto& [name, value] : *dict) known += (known.empty() ? "" : ", ") + ("'" + name + "'");
  throw Error("batch[\"" + key + "\"]: the batch has no such key; its keys are " + (known.empty() ? "(none)" : known));
}

bool Batch::contains(const std::string& key) const {
  const auto* dict = std::get_if<Dict>(&value_);
  if (!dict) return false;
  for (const auto& entry : *dict) {
    if (entry.first == key) return true;
  }
  return false;
}

std::vector<std::string> Batch::keys() const {
  std::vector<std::string> names;
  for (const auto& entry : entries()) names.push_back(entry.first);
  return names;
}

std::size_t Batch::checked_index(int64_t index) const {
  if (index < 0) throw Error("batch[" + std::to_string(index) + "]: a negative index; the batch is " + describe());
  return static_cast<std::size_t>(index);
}

void Batch::check_unpack(std::size_t n) const {
  const auto* list = std::get_if<List>(&value_);
  if (!list || list->size() != n) {
    throw Error("batch.unpack<" + std::to_string(n) + ">(): expected a list of " + std::to_string(n) +
                " tensors, the batch is " + describe());
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!(*list)[i].is_tensor()) {
      throw Error("batch.unpack<" + std::to_string(n) + ">(): entry " + std::to_string(i) + " is " +
                  (*list)[i].describe() + ", not a tensor; read it with batch.at(" + std::to_string(i) + ")");
    }
  }
}

void Batch::for_each_tensor(const std::function<void(const at::Tensor&)>& visit) const {
  switch (kind()) {
    case Kind::Tensor:
      visit(std::get<at::Tensor>(value_));
      break;
    case Kind::List:
      for (const auto& item : std::get<List>(value_)) item.for_each_tensor(visit);
      break;
    case Kind::Dict:
      for (const auto& entry : std::get<Dict>(value_)) entry.second.for_each_tensor(visit);
      break;
    default:
      break;
  }
}

Batch Batch::map_tensors(const std::function<at::Tensor(const at::Tensor&)>& fn) const {
  Batch copy = *this;
  copy.apply_to_tensors(fn);
  return copy;
}

void Batch::apply_to_tensors(const std::function<at::Tensor(const at::Tensor&)>& fn) {
  switch (kind()) {
    case Kind::Tensor: {
      auto& tensor = std::get<at::Tensor>(value_);
      if (tensor.defined()) tensor = fn(tensor);
      break;
    }
    case Kind::List:
      for (auto& item : std::get<List>(value_)) item.apply_to_tensors(fn);
      break;
    case Kind::Dict:
      for (auto& entry : std::get<Dict>(value_)) entry.second.apply_to_tensors(fn);
      break;
    default:
      break;
  }
}

std::optional<int64_t> Batch::batch_size(std::string* problem) const {
  // Lightning's rule: the first tensor's first dimension. Tensors that disagree make it ambiguous;
  // scalars (0-dim) carry no sample dimension and count only when nothing else is there. Runs
  // every step: descriptions are made only for the error.
  const at::Tensor* first = nullptr;
  const at::Tensor* other = nullptr;
  bool scalar_seen = false;
  for_each_tensor([&](const at::Tensor& tensor) {
    if (other) return;
    if (tensor.dim() == 0) {
      scalar_seen = true;
    } else if (!first) {
      first = &tensor;
    } else if (tensor.size(0) != first->size(0)) {
      other = &tensor;
    }
  });
  if (other) {
    if (problem) {
      *problem = "the batch's tensors disagree on the number of samples (" + describe_tensor(*first) + " and " +
                 describe_tensor(*other) + ")";
    }
    return std::nullopt;
  }
  if (first) return first->size(0);
  if (scalar_seen) return 1;
  if (problem) *problem = "the batch holds no tensor to count its samples from (" + describe() + ")";
  return std::nullopt;
}

std::string Batch::describe() const {
  switch (kind()) {
    case Kind::None:
      return "None";
    case Kind::Tensor:
      return describe_tensor(std::get<at::Tensor>(value_));
    case Kind::Int:
      return "int " + std::to_string(std::get<int64_t>(value_));
    case Kind::Double: {
      std::ostringstream out;
      out << "double " << std::get<double>(value_);
      return out.str();
    }
    case Kind::Bool:
      return std::get<bool>(value_) ? "bool true" : "bool false";
    case Kind::String: {
      const auto& text = std::get<std::string>(value_);
      return "string '" + (text.size() > 40 ? text.substr(0, 37) + "..." : text) + "'";
    }
    case Kind::List: {
      const auto& list = std::get<List>(value_);
      std::string out = "list[";
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (i == 8) {
          out += ", ... (" + std::to_string(list.size()) + " entries)";
          break;
        }
        out += (i ? ", " : "") + list[i].describe();
      }
      return out + "]";
    }
    case Kind::Dict: {
      std::string out = "dict{";
      bool first = true;
      for (const auto& [key, value] : std::get<Dict>(value_)) {
        out += (first ? "'" : ", '") + key + "': " + value.describe();
        first = false;
      }
      return out + "}";
    }
  }
  return "?";
}

}  // namespace fulgur
