// CsvDataset: a table of numbers from a CSV or TSV file (gzip-compressed or not) as a Dataset.
//
//   fulgur::CsvDataset table("houses.csv", fulgur::CsvDatasetOptions().targets({"price"}));
//   table.get(0);   // [features (float, one per feature column), target]
//
// Feature and target columns are named by header name or by index (0 = first column); without
// feature columns every column that is not a target is a feature. The file is read once, at
// construction; every error names the file, the line and the column as an editor shows them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include "fulgur/arg.h"
#include "fulgur/dataset.h"

namespace fulgur {

/// A column by header name or by index.
struct CsvColumn {
  CsvColumn(std::string column_name) : name(std::move(column_name)) {}  // NOLINT
  CsvColumn(const char* column_name) : name(column_name) {}             // NOLINT
  CsvColumn(int column_index) : index(column_index) {}                  // NOLINT
  std::string name;
  int64_t index = -1;
};

struct CsvDatasetOptions {
  /// The field separator; 0 picks a tab for .tsv / .tab files (also gzipped), else a comma.
  FULGUR_ARG(CsvDatasetOptions, char, delimiter, 0)
  /// The first line names the columns.
  FULGUR_ARG(CsvDatasetOptions, bool, header, true)
  /// Feature columns; empty: every column that is not a target.
  FULGUR_ARG(CsvDatasetOptions, std::vector<CsvColumn>, features, {})
  /// Target columns; empty: no target (each sample is the feature tensor alone).
  FULGUR_ARG(CsvDatasetOptions, std::vector<CsvColumn>, targets, {})
  /// kLong for class labels; a single target column gives one value per sample, several a vector.
  FULGUR_ARG(CsvDatasetOptions, c10::ScalarType, target_dtype, c10::ScalarType::Float)
  FULGUR_ARG(CsvDatasetOptions, c10::ScalarType, feature_dtype, c10::ScalarType::Float)
};

class CsvDataset : public Dataset {
 public:
  explicit CsvDataset(const std::string& path, CsvDatasetOptions options = {});

  /// [features, target], or the features alone when there are no target columns.
  Batch get(int64_t index) override;
  int64_t size() const override { return features_.size(0); }

  /// The whole table: [rows, feature columns] and [rows] (one target) or [rows, targets].
  const at::Tensor& features() const { return features_; }
  const at::Tensor& targets() const { return targets_; }
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  const std::vector<std::string>& target_names() const { return target_names_; }

 private:
  void read_rows(const std::vector<std::string>& lines, std::size_t first_data, char delimiter, std::size_t width,
                 const std::vector<std::size_t>& feature_columns, const std::vector<std::size_t>& target_columns,
                 const std::string& path);

  at::Tensor features_;
  at::Tensor targets_;
  std::vector<std::string> feature_names_;
  std::vector<std::string> target_names_;
};

}  // namespace fulgur
