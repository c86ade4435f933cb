#include "fulgur/metrics/classification_metric.h"

#include <sstream>

#include <torch/torch.h>

#include "fulgur/error.h"

namespace fulgur::metrics {
namespace {

std::string shape(const at::Tensor& tensor) { return c10::str(tensor.sizes()); }

bool listed(const std::string& value, const std::string& list) {
  std::stringstream items(list);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item == value) return true;
  }
  return false;
}

// The number of entries outside [low, high) (NaN excluded), as a device tensor: one pass
// (aminmax) when every entry counts.
at::Tensor count_outside(const at::Tensor& values, int64_t low, int64_t high, const at::Tensor& counted) {
  if (values.numel() == 0) return at::zeros({}, values.options().dtype(at::kLong));
  if (!counted.defined()) {
    auto [min, max] = at::aminmax(values);
    return ((min < low) | (max >= high)).to(at::kLong);
  }
  return (((values < low) | (values >= high)) & counted).sum();
}

}  // namespace

// torchmetrics' normalize_logits_if_needed: scores outside [0, 1] are logits. The answer stays a
// device tensor; NaN is checked in the same pass (the extremes of scores with a NaN are NaN).
at::Tensor ClassificationMetric::logits_flag(const at::Tensor& scores, const at::Tensor& counted) {
  if (scores.numel() == 0) return at::zeros({}, scores.options().dtype(at::kBool));
  if (!counted.defined()) {
    auto [min, max] = at::aminmax(scores);
    if (validate_args()) check_values(at::isnan(min).to(at::kLong), "preds hold NaN (argument 'preds')");
    return (min < 0) | (max > 1);
  }
  if (validate_args()) check_values(at::isnan(scores).sum(), "preds hold NaN (argument 'preds')");
  return (((scores < 0) | (scores > 1)) & counted).any();
}

at::Tensor ClassificationMetric::normalized(const at::Tensor& scores, const at::Tensor& is_logits) const {
  auto normalize = [&] { return spec_.task == Task::Multiclass ? at::softmax(scores, 1) : at::sigmoid(scores); };
  if (scores.numel() == 0) return scores;
  // On the CPU the answer is read at once; elsewhere torch.where keeps it on the device.
  if (scores.device().is_cpu() && is_logits.numel() == 1) return is_logits.item<bool>() ? normalize() : scores;
  return at::where(is_logits, normalize(), scores);
}

at::Tensor ClassificationMetric::probabilities(const at::Tensor& scores, const at::Tensor& counted) {
  return normalized(scores, logits_flag(scores, counted));
}

ClassificationOptions& ClassificationOptions::thresholds(int64_t n) {
  if (n < 2) throw Error("argument 'thresholds' must be at least 2 when it is a count, got " + std::to_string(n));
  // The same float32 values as torch.linspace(0, 1, n).
  const at::Tensor values = at::linspace(0, 1, n, at::kFloat).to(at::kDouble);
  thresholds_ = std::vector<double>(values.data_ptr<double>(), values.data_ptr<double>() + n);
  return *this;
}

std::string TaskSpec::class_name(const ClassificationOptions& options, const std::string& metric) {
  const std::string& task = options.task_;
  if (task == "binary") return "Binary" + metric;
  if (task == "multiclass") return "Multiclass" + metric;
  if (task == "multilabel") return "Multilabel" + metric;
  return metric;
}

TaskSpec TaskSpec::from(const ClassificationOptions& options, const std::string& metric,
                        const std::string& default_average, const std::string& averages) {
  auto fail = [&](const std::string& message) { throw Error(metric + ": " + message); };
  TaskSpec spec;
  const std::string& task = options.task_;
  if (task == "binary") {
    spec.task = Task::Binary;
  } else if (task == "multiclass") {
    spec.task = Task::Multiclass;
    if (!options.num_classes_) fail("task 'multiclass' needs the argument 'num_classes'");
    if (*options.num_classes_ < 2)
      fail("'num_classes' must be at least 2, got " + std::to_string(*options.num_classes_));
    spec.classes = *options.num_classes_;
  } else if (task == "multilabel") {
    spec.task = Task::Multilabel;
    if (!options.num_labels_) fail("task 'multilabel' needs the argument 'num_labels'");
    if (*options.num_labels_ < 1) fail("'num_labels' must be at least 1, got " + std::to_string(*options.num_labels_));
    spec.classes = *options.num_labels_;
  } else {
    fail("argument 'task' must be 'binary', 'multiclass' or 'multilabel', got '" + task + "'");
  }
  if (!(options.threshold_ >= 0.0 && options.threshold_ <= 1.0)) {
    fail("argument 'threshold' must be in [0, 1], got " + std::to_string(options.threshold_));
  }
  spec.threshold = options.threshold_;
  if (options.top_k_ < 1) fail("argument 'top_k' must be at least 1, got " + std::to_string(options.top_k_));
  if (options.top_k_ > 1 && spec.task != Task::Multiclass) fail("argument 'top_k' applies to task 'multiclass' only");
  if (spec.task == Task::Multiclass && options.top_k_ > spec.classes) {
    fail("argument 'top_k' (" + std::to_string(options.top_k_) + ") must not exceed 'num_classes' (" +
         std::to_string(spec.classes) + ")");
  }
  spec.top_k = options.top_k_;
  if (options.multidim_average_ != "global") {
    fail("argument 'multidim_average' supports 'global' only, got '" + options.multidim_average_ + "'");
  }
  spec.ignore_index = options.ignore_index_;
  if (spec.task == Task::Binary) {
    spec.average = "binary";
  } else {
    spec.average = options.average_.value_or(default_average);
    if (!listed(spec.average, averages)) {
      fail("argument 'average' must be one of " + averages + ", got '" + spec.average + "'");
    }
  }
  return spec;
}

std::string TaskSpec::key() const {
  std::ostringstream key;
  key << static_cast<int>(task) << '/' << classes << '/' << threshold << '/' << top_k << '/'
      << (ignore_index ? std::to_string(*ignore_index) : "none");
  return key.str();
}

ClassificationMetric::ClassificationMetric(const ClassificationOptions& options, const std::string& metric,
                                           const std::string& default_average, const std::string& averages)
    : PredsTargetMetric(TaskSpec::class_name(options, metric)) {
  spec_ = TaskSpec::from(options, metric_name(), default_average, averages);
  set_validate_args(options.validate_args_);
}

void ClassificationMetric::check(const at::Tensor& preds, const at::Tensor& target, bool need_scores) {
  if (!preds.defined() || !target.defined()) fail("update() needs defined preds and target tensors");
  if (target.is_floating_point() || target.is_complex()) {
    fail("target must hold integer labels, got a tensor of " + std::string(c10::toString(target.scalar_type())));
  }
  if (preds.is_complex()) fail("preds must be real, got " + std::string(c10::toString(preds.scalar_type())));
  const bool scores = preds.is_floating_point();
  if (need_scores && !scores) {
    fail("preds must be scores (a floating-point tensor of probabilities or logits), got labels of " +
         std::string(c10::toString(preds.scalar_type())));
  }
  const int64_t n = spec_.classes;
  switch (spec_.task) {
    case Task::Binary:
      if (preds.sizes() != target.sizes()) {
        fail("preds and target must have the same shape, got preds " + shape(preds) + " and target " + shape(target));
      }
      break;
    case Task::Multiclass:
      if (preds.dim() == target.dim() + 1) {
        if (!scores)
          fail("preds with one more dimension than target must be scores, got " +
               std::string(c10::toString(preds.scalar_type())));
        if (preds.size(1) != n) {
          fail("preds " + shape(preds) + " must have num_classes (" + std::to_string(n) + ") scores in dimension 1");
        }
        auto rest = preds.sizes().vec();
        rest.erase(rest.begin() + 1);
        if (at::IntArrayRef(rest) != target.sizes()) {
          fail("preds " + shape(preds) + " and target " + shape(target) +
               " must agree in every dimension but preds' dimension 1");
        }
      } else if (preds.dim() == target.dim()) {
        if (scores) {
          fail("preds of target's shape " + shape(target) +
               " must be labels (integers); scores need a dimension of num_classes");
        }
        if (preds.sizes() != target.sizes()) {
          fail("preds and target must have the same shape, got preds " + shape(preds) + " and target " + shape(target));
        }
        if (spec_.top_k > 1) fail("top_k > 1 needs scores (N, num_classes, ...), not labels");
        if (need_scores) fail("preds must be scores of shape (N, num_classes, ...), got " + shape(preds));
      } else {
        fail("preds must be scores (N, num_classes, ...) or labels of target's shape, got preds " + shape(preds) +
             " and target " + shape(target));
      }
      break;
    case Task::Multilabel:
      if (preds.sizes() != target.sizes()) {
        fail("preds and target must have the same shape, got preds " + shape(preds) + " and target " + shape(target));
      }
      if (preds.dim() < 2 || preds.size(1) != n) {
        fail("preds and target " + shape(preds) + " must have num_labels (" + std::to_string(n) +
             ") entries in dimension 1");
      }
      break;
  }
  if (!validate_args()) return;
  // Values: counted on the device, raised at once on the CPU (check_values). NaN in scores is
  // checked where the scores are read anyway (to_labels, probabilities).
  const bool ignoring = spec_.ignore_index.has_value();
  const at::Tensor counted = ignoring ? target != *spec_.ignore_index : at::Tensor();
  const int64_t target_limit = spec_.task == Task::Multiclass ? n : 2;
  const std::string allowed =
      spec_.task == Task::Multiclass ? "class indices in [0, " + std::to_string(n) + ")" : "0 or 1";
  check_values(
      count_outside(target, 0, target_limit, counted),
      "target holds values other than " + allowed + (ignoring ? " and ignore_index" : "") + " (argument 'target')");
  if (!scores) {
    check_values(count_outside(preds, 0, target_limit, at::Tensor()),
                 "preds hold labels other than " + allowed + " (argument 'preds')");
  }
}

ClassificationInputs ClassificationMetric::to_labels(const at::Tensor& preds_in, const at::Tensor& target_in) {
  check(preds_in, target_in, /*need_scores=*/false);
  ClassificationInputs out;
  at::Tensor preds = preds_in;
  at::Tensor target = target_in.to(at::kLong);
  switch (spec_.task) {
    case Task::Binary:
      if (preds.is_floating_point()) preds = probabilities(preds, at::Tensor()) > spec_.threshold;
      preds = preds.reshape(-1).to(at::kLong);
      target = target.reshape(-1);
      break;
    case Task::Multiclass:
      if (preds.dim() == target.dim() + 1) {
        if (spec_.top_k == 1) {
          // The maxima come with the argmax: a row with a NaN has a NaN maximum.
          auto [best, label] = preds.max(1);
          if (validate_args()) check_values(at::isnan(best).sum(), "preds hold NaN (argument 'preds')");
          preds = label;
        } else {
          if (validate_args()) check_values(at::isnan(preds).sum(), "preds hold NaN (argument 'preds')");
          // torchmetrics' refinement: the target when it is among the top_k scores, else the best.
          const at::Tensor top = std::get<1>(preds.topk(spec_.top_k, 1));
          const at::Tensor hit = (top == target.unsqueeze(1)).any(1);
          preds = at::where(hit, target, top.select(1, 0));
        }
      }
      preds = preds.reshape(-1).to(at::kLong);
      target = target.reshape(-1);
      break;
    case Task::Multilabel:
      if (preds.is_floating_point()) preds = probabilities(preds, at::Tensor()) > spec_.threshold;
      preds = preds.movedim(1, -1).reshape({-1, spec_.classes}).to(at::kLong);
      target = target.movedim(1, -1).reshape({-1, spec_.classes});
      break;
  }
  out.preds = preds;
  out.target = target;
  out.any_ignored = spec_.ignore_index.has_value();
  if (out.any_ignored) out.valid = target != *spec_.ignore_index;
  // Counted only now: an update that failed a check leaves the metric as it was.
  begin_update(preds_in.device());
  return out;
}

ClassificationInputs ClassificationMetric::to_scores(const at::Tensor& preds_in, const at::Tensor& target_in,
                                                     bool normalize) {
  check(preds_in, target_in, /*need_scores=*/true);
  ClassificationInputs out;
  out.any_ignored = spec_.ignore_index.has_value();
  at::Tensor preds = preds_in;
  at::Tensor target = target_in.to(at::kLong);
  switch (spec_.task) {
    case Task::Binary:
      preds = preds.reshape(-1);
      target = target.reshape(-1);
      if (out.any_ignored) out.valid = target != *spec_.ignore_index;
      // torchmetrics decides on logits after leaving the ignored samples out.
      out.is_logits = logits_flag(preds, out.valid);
      break;
    case Task::Multiclass:
      preds = preds.movedim(1, -1).reshape({-1, spec_.classes});
      target = target.reshape(-1);
      if (out.any_ignored) out.valid = target != *spec_.ignore_index;
      out.is_logits = logits_flag(preds, out.any_ignored ? out.valid.unsqueeze(1) : at::Tensor());
      break;
    case Task::Multilabel:
      // Here torchmetrics decides on all scores, ignored ones included.
      out.is_logits = logits_flag(preds, at::Tensor());
      preds = preds.movedim(1, -1).reshape({-1, spec_.classes});
      target = target.movedim(1, -1).reshape({-1, spec_.classes});
      if (out.any_ignored) out.valid = target != *spec_.ignore_index;
      break;
  }
  out.preds = normalize ? normalized(preds, out.is_logits) : preds;
  out.target = target;
  begin_update(preds_in.device());
  return out;
}

}  // namespace fulgur::metrics
