// Computes the cases torchmetrics_cases.py wrote with fulgur's metrics and compares every value
// with torchmetrics' own: each batch's forward value, the value over all batches, and the value
// after merging two metrics that saw half of the batches each.
// Usage: metrics_parity CASES.pt   (exit 1 when any value differs)
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include <torch/torch.h>

#include "fulgur/error.h"
#include "fulgur/metrics.h"
#include "fulgur/state_dict.h"

namespace {

using fulgur::HParams;
using fulgur::HParamValue;
namespace metrics = fulgur::metrics;

constexpr double kRelative = 1e-6;
constexpr double kAbsolute = 1e-6;

HParamValue to_value(const c10::IValue& value) {
  if (value.isNone()) return HParamValue();
  if (value.isBool()) return HParamValue(value.toBool());
  if (value.isInt()) return HParamValue(value.toInt());
  if (value.isDouble()) return HParamValue(value.toDouble());
  if (value.isString()) return HParamValue(value.toStringRef());
  if (value.isList()) {
    HParamValue::List items;
    for (const auto& item : value.toListRef()) items.push_back(to_value(item));
    return HParamValue(items);
  }
  throw fulgur::Error("an argument of kind " + value.tagKind() + " is not supported");
}

HParams to_hparams(const c10::IValue& value) {
  HParams args;
  for (const auto& entry : value.toGenericDict()) args.set(entry.key().toStringRef(), to_value(entry.value()));
  return args;
}

std::string render(const at::Tensor& tensor) {
  std::ostringstream out;
  out << tensor.to(at::kDouble).reshape(-1).slice(0, 0, 12);
  std::string text = out.str();
  for (auto& c : text) c = c == '\n' ? ' ' : c;
  return text;
}

// Equal within tolerance, NaN equal to NaN, the same number of elements.
bool close(const at::Tensor& got_in, const at::Tensor& want_in, std::string& why) {
  const at::Tensor got = got_in.detach().to(at::kDouble).reshape(-1);
  const at::Tensor want = want_in.detach().to(at::kDouble).reshape(-1);
  if (got.numel() != want.numel()) {
    why = "fulgur has " + std::to_string(got.numel()) + " values, torchmetrics " + std::to_string(want.numel()) +
          ": fulgur " + render(got) + " torchmetrics " + render(want);
    return false;
  }
  if (at::allclose(got, want, kRelative, kAbsolute, /*equal_nan=*/true)) return true;
  why = "fulgur " + render(got) + " torchmetrics " + render(want);
  return false;
}

struct Runner {
  explicit Runner(c10::impl::GenericDict case_spec) : spec(std::move(case_spec)) {}
  c10::impl::GenericDict spec;
  std::string id, name, kind;
  HParams args;

  std::vector<std::pair<at::Tensor, at::Tensor>> batches() const {
    std::vector<std::pair<at::Tensor, at::Tensor>> out;
    for (const auto& batch : spec.at("batches").toListRef()) {
      const auto& parts = batch.toListRef();
      out.emplace_back(parts[0].toTensor(), parts.size() > 1 ? parts[1].toTensor() : at::Tensor());
    }
    return out;
  }

  // Feeds one batch: forward (returning its value) or update (returning nothing).
  static at::Tensor feed(metrics::Metric& metric, const at::Tensor& a, const at::Tensor& b, bool forward) {
    if (auto* pt = dynamic_cast<metrics::PredsTargetMetric*>(&metric)) {
      if (forward) return pt->forward(a, b);
      pt->update(a, b);
      return {};
    }
    if (auto* mean = dynamic_cast<metrics::MeanMetric*>(&metric); mean && b.defined()) {
      if (forward) return mean->forward(a, b);
      mean->update(a, b);
      return {};
    }
    auto& aggregator = dynamic_cast<metrics::Aggregator&>(metric);
    if (forward) return aggregator.forward(a);
    aggregator.update(a);
    return {};
  }

  std::vector<at::Tensor> result(metrics::Metric& metric) const {
    if (kind == "value") return {metric.compute()};
    std::vector<at::Tensor> parts;
    auto add = [&](const std::vector<at::Tensor>& curves) { parts.insert(parts.end(), curves.begin(), curves.end()); };
    if (auto* roc = dynamic_cast<metrics::ROC*>(&metric)) {
      const auto c = roc->curve();
      add(c.fpr), add(c.tpr), add(c.thresholds);
    } else {
      const auto c = dynamic_cast<metrics::PrecisionRecallCurve&>(metric).curve();
      add(c.precision), add(c.recall), add(c.thresholds);
    }
    return parts;
  }

  std::vector<at::Tensor> expected() const {
    std::vector<at::Tensor> parts;
    for (const auto& group : spec.at("expected").toListRef()) {
      for (const auto& tensor : group.toListRef()) parts.push_back(tensor.toTensor());
    }
    return parts;
  }

  // Empty when everything matches, else what differs.
  std::string run() const {
    const auto data = batches();
    const auto forward = spec.at("forward").toListRef();
    const auto compared = spec.at("compare_forward").toListRef();
    std::string why;
    auto metric = metrics::make_metric(name, args);
    for (std::size_t i = 0; i < data.size(); ++i) {
      const bool compare = kind == "value" && compared[i].toBool();
      const at::Tensor value = feed(*metric, data[i].first, data[i].second, compare);
      if (compare && !close(value, forward[i].toTensor(), why))
        return "forward of batch " + std::to_string(i) + ": " + why;
    }
    const auto want = expected();
    auto got = result(*metric);
    if (got.size() != want.size()) {
      return "fulgur returned " + std::to_string(got.size()) + " tensors, torchmetrics " + std::to_string(want.size());
    }
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (!close(got[i], want[i], why)) return "compute, part " + std::to_string(i) + ": " + why;
    }
    if (data.size() < 2) return {};
    // Half of the batches in each of two metrics, merged.
    auto first = metrics::make_metric(name, args);
    auto second = metrics::make_metric(name, args);
    for (std::size_t i = 0; i < data.size(); ++i) {
      feed(i < data.size() / 2 ? *first : *second, data[i].first, data[i].second, false);
    }
    first->merge_state(*second);
    got = result(*first);
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (!close(got[i], want[i], why)) return "after merge_state, part " + std::to_string(i) + ": " + why;
    }
    return {};
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: metrics_parity CASES.pt\n";
    return 2;
  }
  const auto file = fulgur::read_weights(argv[1]);
  const c10::IValue all = file.at("cases");
  const auto cases = all.toListRef();
  int failed = 0;
  std::map<std::string, int> per_metric;
  for (const auto& value : cases) {
    Runner runner(value.toGenericDict());
    runner.id = runner.spec.at("id").toStringRef();
    runner.name = runner.spec.at("metric").toStringRef();
    runner.kind = runner.spec.at("kind").toStringRef();
    runner.args = to_hparams(runner.spec.at("args"));
    std::string problem;
    try {
      problem = runner.run();
    } catch (const std::exception& error) {
      problem = std::string("error: ") + error.what();
    }
    ++per_metric[runner.name];
    if (problem.empty()) continue;
    if (++failed <= 40) std::cout << "FAIL " << runner.id << ": " << problem.substr(0, 600) << "\n";
  }
  std::cout << cases.size() - failed << " of " << cases.size() << " cases equal torchmetrics' (rtol " << kRelative
            << ", atol " << kAbsolute << ") over " << per_metric.size() << " metric classes\n";
  return failed == 0 ? 0 : 1;
}
