#include "fulgur/csv_dataset.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <memory>

#include <ATen/ATen.h>
#include <zlib.h>

#include "fulgur/error.h"

namespace fulgur {

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> split(const std::string& line, char delimiter) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '"') {
      if (quoted && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else {
        quoted = !quoted;
      }
    } else if (c == delimiter && !quoted) {
      fields.push_back(std::move(field));
      field.clear();
    } else {
      field += c;
    }
  }
  fields.push_back(std::move(field));
  return fields;
}

// Lines of a text file, gzip-compressed or not (zlib reads both). A NUL byte is an error naming
// its line and column: C's line readers stop at it and glue the rest to the next line.
std::vector<std::string> read_lines(const std::string& path, char delimiter) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error("CsvDataset: no such file: '" + path + "'");
  if (std::filesystem::is_directory(path, ec)) throw Error("CsvDataset: '" + path + "' is a folder, not a CSV file");
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error("CsvDataset: '" + path + "' is not a regular file (a device or FIFO); it is not read");
  }
  std::unique_ptr<gzFile_s, decltype(&gzclose)> file(gzopen(path.c_str(), "rb"), &gzclose);
  if (!file) throw Error("CsvDataset: cannot open '" + path + "'");
  std::vector<std::string> lines;
  std::string current;
  char buffer[65536];
  int got = 0;
  while ((got = gzread(file.get(), buffer, sizeof buffer)) > 0) {
    const char* const end = buffer + got;
    for (const char* at = buffer; at < end;) {
      const char* stop = std::find_if(at, end, [](char c) { return c == '\n' || c == '\0'; });
      current.append(at, stop);
      if (stop == end) break;
      if (*stop == '\0') {
        throw Error(path + ": line " + std::to_string(lines.size() + 1) + ", column " +
                    std::to_string(split(current, delimiter).size()) +
                    ": a NUL byte (is this a binary or damaged file?); the table is not read");
      }
      if (!current.empty() && current.back() == '\r') current.pop_back();
      lines.push_back(std::move(current));
      current.clear();
      at = stop + 1;
    }
  }
  int code = Z_OK;
  const char* message = gzerror(file.get(), &code);
  if (got < 0 || (code != Z_OK && code != Z_STREAM_END))
    throw Error("CsvDataset: '" + path + "' cannot be read: " + message);
  if (!current.empty()) lines.push_back(std::move(current));
  return lines;
}

std::string trimmed(const std::string& text) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

double number_in(const std::string& raw, const std::string& path, std::size_t line, std::size_t column) {
  const std::string cell = trimmed(raw);
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(cell, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (cell.empty() || used != cell.size() || std::isinf(value)) {
    throw Error(path + ": line " + std::to_string(line) + ", column " + std::to_string(column) + ": '" + raw +
                "' is not a number");
  }
  return value;
}

// The column a CsvColumn names: by index (within the table's width) or by header name.
std::size_t resolve_column(const CsvColumn& column, const char* role, const std::vector<std::string>& names,
                           bool header, const std::string& path) {
  const std::size_t width = names.size();
  if (column.index >= 0) {
    if (static_cast<std::size_t>(column.index) >= width) {
      throw Error("CsvDataset: " + std::string(role) + " column " + std::to_string(column.index) + " of '" + path +
                  "', which has " + std::to_string(width) + " columns (0 to " + std::to_string(width - 1) + ")");
    }
    return static_cast<std::size_t>(column.index);
  }
  if (!header) {
    throw Error("CsvDataset: " + std::string(role) + " column '" + column.name + "' named, but '" + path +
                "' is read without a header (header=false): name columns by index");
  }
  const auto found = std::find(names.begin(), names.end(), column.name);
  if (found == names.end()) {
    std::string known;
    for (const auto& name : names) known += (known.empty() ? "'" : ", '") + name + "'";
    throw Error("CsvDataset: '" + path + "' has no column '" + column.name + "' (" + role + "); its columns are " +
                known);
  }
  return static_cast<std::size_t>(found - names.begin());
}

bool contains(const std::vector<std::size_t>& columns, std::size_t column) {
  return std::find(columns.begin(), columns.end(), column) != columns.end();
}

}  // namespace

CsvDataset::CsvDataset(const std::string& path, CsvDatasetOptions options) {
  char delimiter = options.delimiter_;
  if (delimiter == 0) {
    const bool tabs =
        ends_with(path, ".tsv") || ends_with(path, ".tab") || ends_with(path, ".tsv.gz") || ends_with(path, ".tab.gz");
    delimiter = tabs ? '\t' : ',';
  }
  const auto lines = read_lines(path, delimiter);
  std::size_t first_data = 0;
  std::vector<std::string> names;
  while (first_data < lines.size() && trimmed(lines[first_data]).empty()) ++first_data;
  if (first_data == lines.size()) throw Error("CsvDataset: '" + path + "' holds no rows");
  const std::size_t width = split(lines[first_data], delimiter).size();
  if (options.header_) {
    for (auto& name : split(lines[first_data], delimiter)) names.push_back(trimmed(name));
    ++first_data;
  } else {
    for (std::size_t c = 0; c < width; ++c) names.push_back(std::to_string(c));
  }

  std::vector<std::size_t> target_columns, feature_columns;
  for (const auto& column : options.targets_) {
    target_columns.push_back(resolve_column(column, "target", names, options.header_, path));
  }
  for (const auto& column : options.features_) {
    feature_columns.push_back(resolve_column(column, "feature", names, options.header_, path));
  }
  if (options.features_.empty()) {
    for (std::size_t c = 0; c < width; ++c) {
      if (!contains(target_columns, c)) feature_columns.push_back(c);
    }
  }
  if (feature_columns.empty()) throw Error("CsvDataset: '" + path + "' leaves no feature column");
  for (auto c : feature_columns) feature_names_.push_back(names[c]);
  for (auto c : target_columns) target_names_.push_back(names[c]);
  read_rows(lines, first_data, delimiter, width, feature_columns, target_columns, path);
  features_ = features_.to(options.feature_dtype_);
  targets_ = targets_.to(options.target_dtype_);
  if (target_columns.size() == 1) targets_ = targets_.squeeze(1);
  if (target_columns.empty()) targets_ = at::Tensor();
}

// Every non-blank line from `first_data` on, its feature and target cells read as numbers.
void CsvDataset::read_rows(const std::vector<std::string>& lines, std::size_t first_data, char delimiter,
                           std::size_t width, const std::vector<std::size_t>& feature_columns,
                           const std::vector<std::size_t>& target_columns, const std::string& path) {
  std::vector<std::size_t> rows;
  for (std::size_t l = first_data; l < lines.size(); ++l) {
    if (!trimmed(lines[l]).empty()) rows.push_back(l);
  }
  if (rows.empty()) throw Error("CsvDataset: '" + path + "' has a header but no data rows");
  const auto n = static_cast<int64_t>(rows.size());
  features_ = at::empty({n, static_cast<int64_t>(feature_columns.size())}, at::TensorOptions().dtype(at::kDouble));
  targets_ = at::empty({n, static_cast<int64_t>(target_columns.size())}, at::TensorOptions().dtype(at::kDouble));
  double* f = features_.data_ptr<double>();
  double* t = targets_.data_ptr<double>();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto fields = split(lines[rows[r]], delimiter);
    const std::size_t line = rows[r] + 1;
    if (fields.size() != width) {
      // A word where a number belongs is the likelier slip: named first, in reading order.
      for (std::size_t c = 0; c < fields.size(); ++c) {
        if (contains(feature_columns, c) || contains(target_columns, c)) number_in(fields[c], path, line, c + 1);
      }
      throw Error(path + ": line " + std::to_string(line) + " has " + std::to_string(fields.size()) +
                  " fields, expected " + std::to_string(width));
    }
    for (auto c : feature_columns) *f++ = number_in(fields[c], path, line, c + 1);
    for (auto c : target_columns) *t++ = number_in(fields[c], path, line, c + 1);
  }
}

Batch CsvDataset::get(int64_t index) {
  if (index < 0 || index >= size()) {
    throw Error("CsvDataset: sample " + std::to_string(index) + " of " + std::to_string(size()));
  }
  if (!targets_.defined()) return features_[index];
  return Batch::list({features_[index], targets_[index]});
}

}  // namespace fulgur
