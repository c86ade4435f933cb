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

#include "fulgur/options.h"

namespace fulgur::plugins {

struct ModelSummaryOptions : DeclaredOptions<ModelSummaryOptions> {
  FULGUR_OPTIONS_OF("model_summary");
  FULGUR_OPTION(int64_t, max_depth, 1, "Depth of nested modules listed; 0 lists none (totals only), -1 all.",
                at_least(-1));
  FULGUR_OPTION(std::string, path, "", "Also write the table to this file.");
};

}  // namespace fulgur::plugins
