// FileDataset: one sample per file, read lazily when the loader asks for it (with workers, in
// parallel), so that data larger than memory trains as well as data that fits.
//
//   // data/train/cat/0001.pt, data/train/dog/0002.pt, ...  (torch.save(tensor, path) in Python,
//   // torch::pickle_save in C++, or .safetensors)
//   auto train = std::make_shared<fulgur::FileDataset>("data/train",
//       fulgur::FileDatasetOptions().label_from_folder(true));
//   train->get(0);   // [the file's content, its class index]; train->classes() == {"cat", "dog"}
//
// A .pt file may hold a tensor, a tuple/list or a dict (string keys), nested; a .safetensors file
// is a dict of tensors. Any other format reads through a reader of your own.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fulgur/arg.h"
#include "fulgur/dataset.h"

namespace fulgur {

struct FileDatasetOptions {
  /// Files whose names end with one of these are samples.
  FULGUR_ARG(FileDatasetOptions, std::vector<std::string>, extensions,
             (std::vector<std::string>{".pt", ".safetensors"}))
  /// ImageFolder's layout: each sub-folder of the root is a class (sorted by name, numbered from 0)
  /// and a sample is [content, class index].
  FULGUR_ARG(FileDatasetOptions, bool, label_from_folder, false)
  /// Reads one file; by default .pt and .safetensors.
  FULGUR_ARG(FileDatasetOptions, std::function<Batch(const std::string& path)>, reader, nullptr)
};

class FileDataset : public Dataset {
 public:
  /// Lists the files under `root` (recursively, sorted by path) at construction; reads none.
  explicit FileDataset(const std::string& root, FileDatasetOptions options = {});

  Batch get(int64_t index) override;
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }

  const std::string& path(int64_t index) const { return files_.at(static_cast<std::size_t>(index)); }
  /// The class names (sub-folders) when label_from_folder is set.
  const std::vector<std::string>& classes() const { return classes_; }

 private:
  FileDatasetOptions options_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
  std::vector<std::string> classes_;
};

/// Reads a .pt file (torch.save / torch::pickle_save) or a .safetensors file as a Batch.
Batch read_tensor_file(const std::string& path);

}  // namespace fulgur
