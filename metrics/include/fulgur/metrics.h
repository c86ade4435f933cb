// The metrics library in one include: torchmetrics for LibTorch (docs/metrics.md).
#pragma once

#include "fulgur/metrics/aggregation.h"
#include "fulgur/metrics/calibration_error.h"
#include "fulgur/metrics/classification_options.h"
#include "fulgur/metrics/curves.h"
#include "fulgur/metrics/make_metric.h"
#include "fulgur/metrics/metric.h"
#include "fulgur/metrics/metric_collection.h"
#include "fulgur/metrics/regression.h"
#include "fulgur/metrics/stat_scores.h"
