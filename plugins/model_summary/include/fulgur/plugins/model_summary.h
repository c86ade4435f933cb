// model_summary: Lightning's ModelSummary. At fit start, prints the Module's layers (name, type,
// parameters, trainable or not) to max_depth, with totals and the estimated size in MB.
//
//     | Name   | Type   | Params | Trainable
//   ----------------------------------------
//   0 | input  | Linear | 8.3 K  | yes
//   ...
//   9.6 K     Trainable params
//
// Attached by default (Trainer option enable_model_summary).
#pragma once

#include <cstdint>
#include <string>

#include "fulgur/plugin_spec.h"

namespace fulgur::plugins {

struct ModelSummaryOptions {
  /// Depth of nested modules listed; 0 lists none (totals only), -1 all.
  int64_t max_depth = 1;
  /// Also write the table to this file.
  std::string path;

  PluginSpec spec() const {
    PluginSpec spec{"model_summary", {{"max_depth", std::to_string(max_depth)}}};
    if (!path.empty()) spec.options["path"] = path;
    return spec;
  }
};

}  // namespace fulgur::plugins
