#include "fulgur/file_dataset.h"

#include <algorithm>
#include <filesystem>

#include <ATen/core/ivalue.h>

#include "checkpoint_archive.h"
#include "fulgur/error.h"
#include "regular_file.h"
#include "safetensors.h"

namespace fs = std::filesystem;

namespace fulgur {

namespace {

bool has_extension(const std::string& name, const std::vector<std::string>& extensions) {
  return std::any_of(extensions.begin(), extensions.end(), [&](const std::string& ext) {
    return name.size() >= ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0;
  });
}

Batch to_batch(const c10::IValue& value, const std::string& path) {
  if (value.isTensor()) return value.toTensor();
  if (value.isInt()) return value.toInt();
  if (value.isDouble()) return value.toDouble();
  if (value.isBool()) return value.toBool();
  if (value.isString()) return value.toStringRef();
  if (value.isNone()) return Batch();
  if (value.isTuple()) {
    Batch::List items;
    for (const auto& element : value.toTupleRef().elements()) items.push_back(to_batch(element, path));
    return Batch::list(std::move(items));
  }
  if (value.isList()) {
    Batch::List items;
    for (const auto& element : value.toListRef()) items.push_back(to_batch(element, path));
    return Batch::list(std::move(items));
  }
  if (value.isGenericDict()) {
    Batch::Dict entries;
    for (const auto& entry : value.toGenericDict()) {
      if (!entry.key().isString()) throw Error("'" + path + "' holds a dict with a key that is not a string");
      entries.emplace_back(entry.key().toStringRef(), to_batch(entry.value(), path));
    }
    return Batch::dict(std::move(entries));
  }
  throw Error("'" + path + "' holds a " + value.tagKind() + ", which a batch cannot carry");
}

}  // namespace

Batch read_tensor_file(const std::string& path) {
  const auto dot = path.rfind('.');
  const std::string extension = dot == std::string::npos ? "" : path.substr(dot);
  if (extension == ".safetensors") {
    const auto tensors = detail::read_safetensors(detail::read_regular_file(path, "sample"), path);
    Batch::Dict entries;
    for (const auto& entry : tensors) entries.emplace_back(entry.key().toStringRef(), entry.value().toTensor());
    return Batch::dict(std::move(entries));
  }
  return to_batch(detail::read_pickle_archive(path, "sample"), path);
}

FileDataset::FileDataset(const std::string& root, FileDatasetOptions options) : options_(std::move(options)) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error("FileDataset: '" + root + "' is not a folder");
  if (options_.label_from_folder_) {
    for (const auto& entry : fs::directory_iterator(root)) {
      if (entry.is_directory()) classes_.push_back(entry.path().filename().string());
    }
    std::sort(classes_.begin(), classes_.end());
    if (classes_.empty())
      throw Error("FileDataset: label_from_folder, but '" + root + "' has no sub-folders (one per class)");
  }
  std::vector<std::pair<std::string, int64_t>> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || !has_extension(entry.path().filename().string(), options_.extensions_)) continue;
    int64_t label = -1;
    if (options_.label_from_folder_) {
      const auto relative = fs::relative(entry.path(), root);
      if (relative.begin() == relative.end() || std::next(relative.begin()) == relative.end()) continue;  // at the root
      const auto cls = std::find(classes_.begin(), classes_.end(), relative.begin()->string());
      label = cls - classes_.begin();
    }
    found.emplace_back(entry.path().string(), label);
  }
  std::sort(found.begin(), found.end());
  for (auto& [file, label] : found) {
    files_.push_back(std::move(file));
    labels_.push_back(label);
  }
  if (files_.empty()) {
    std::string wanted;
    for (const auto& ext : options_.extensions_) wanted += (wanted.empty() ? "" : ", ") + ext;
    throw Error("FileDataset: no " + wanted + " files under '" + root + "'" +
                (options_.label_from_folder_ ? " in its class sub-folders" : ""));
  }
}

Batch FileDataset::get(int64_t index) {
  if (index < 0 || index >= size()) {
    throw Error("FileDataset: sample " + std::to_string(index) + " of " + std::to_string(size()));
  }
  const auto& file = files_[static_cast<std::size_t>(index)];
  Batch content = options_.reader_ ? options_.reader_(file) : read_tensor_file(file);
  if (!options_.label_from_folder_) return content;
  return Batch::list({std::move(content), labels_[static_cast<std::size_t>(index)]});
}

}  // namespace fulgur
