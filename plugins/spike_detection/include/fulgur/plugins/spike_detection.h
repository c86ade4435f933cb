// spike_detection: Lightning's SpikeDetection. Watches the training loss after every batch and
// ends the run with an error when it spikes: not better than the last loss and off the running
// mean of the last `window` losses by at least `atol` and by at least `rtol` times that mean (a
// non-finite loss is a spike too, unless finite_only is false). The batch before and the batch
// itself are added to a JSON list (`skip_batches.json`) a data pipeline can skip on resume. Under
// ddp each rank judges its own loss and all ranks stop if any saw a spike.
//
//   --plugin spike_detection                               (Lightning's defaults: rtol 2, window 10)
//   --plugin spike_detection:atol=0.5,rtol=none,warmup=5,exclude_batches_path=runs/skips.json
#pragma once

#include <optional>
#include <string>

#include "fulgur/options.h"

namespace fulgur::plugins {

struct SpikeDetectionOptions : DeclaredOptions<SpikeDetectionOptions> {
  FULGUR_OPTIONS_OF("spike_detection");
  FULGUR_OPTION(std::string, mode, "min", "min: a lower loss is better; max: a higher one is.", one_of({"min", "max"}));
  FULGUR_OPTION(int64_t, window, 10, "How many of the last losses the running mean takes.", at_least(1));
  FULGUR_OPTION(int64_t, warmup, 1, "Batches of each epoch (by index) before losses are judged.", at_least(0));
  FULGUR_OPTION(std::optional<double>, atol, std::nullopt,
                "A spike is off the running mean by at least this much (none: any amount).");
  FULGUR_OPTION(std::optional<double>, rtol, 2.0,
                "A spike is off the running mean by at least this times the mean (none: any amount).");
  FULGUR_OPTION(std::string, exclude_batches_path, "",
                "The JSON file of batches to skip (a folder: skip_batches.json in it; empty: the current folder).");
  FULGUR_OPTION(bool, finite_only, true,
                "A NaN or infinite loss is a spike (Lightning's behaviour for true); false: judged like any other "
                "loss, and kept out of the mean unless every rank's is finite.");
};

}  // namespace fulgur::plugins
