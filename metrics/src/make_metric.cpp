#include "fulgur/metrics/make_metric.h"

#include <functional>
#include <map>
#include <set>

#include <torch/torch.h>

#include "fulgur/error.h"
#include "fulgur/metrics.h"

namespace fulgur::metrics {
namespace {

// Reads the arguments of one metric, remembering which were used, so that an argument the
// metric does not take is an error rather than silently ignored.
class ArgReader {
 public:
  ArgReader(std::string metric, const HParams& args) : metric_(std::move(metric)), args_(args) {}

  bool has(const std::string& key) {
    used_.insert(key);
    return args_.contains(key) && !args_.at(key).is_null();
  }
  bool given_null(const std::string& key) {
    used_.insert(key);
    return args_.contains(key) && args_.at(key).is_null();
  }
  template <typename T>
  T get(const std::string& key) {
    used_.insert(key);
    try {
      return args_.at(key).as<T>();
    } catch (const Error& error) {
      throw Error(metric_ + ": argument '" + key + "': " + error.what());
    }
  }
  const HParamValue& raw(const std::string& key) {
    used_.insert(key);
    return args_.at(key);
  }
  void finish() const {
    for (const auto& [key, value] : args_) {
      if (!used_.count(key)) throw Error(metric_ + ": unknown argument '" + key + "'");
    }
  }

 private:
  std::string metric_;
  const HParams& args_;
  std::set<std::string> used_;
};

const char* const kTasks[] = {"Binary", "Multiclass", "Multilabel"};

ClassificationOptions classification_options(ArgReader& args, const std::string& name, const std::string& task,
                                             bool task_class) {
  ClassificationOptions options;
  if (!task_class) {
    if (!args.has("task")) throw Error(name + ": argument 'task' is required ('binary', 'multiclass' or 'multilabel')");
    options.task(args.get<std::string>("task"));
  } else {
    options.task(task);
    // torchmetrics' task classes average per class by default; the wrappers default to micro.
    if (task != "binary") options.average(std::string("macro"));
  }
  if (args.has("num_classes")) options.num_classes(args.get<int64_t>("num_classes"));
  if (args.has("num_labels")) options.num_labels(args.get<int64_t>("num_labels"));
  if (args.has("threshold")) options.threshold(args.get<double>("threshold"));
  if (args.has("average")) options.average(args.get<std::string>("average"));
  if (args.given_null("average")) options.average(std::string("none"));
  if (args.has("top_k")) options.top_k(args.get<int64_t>("top_k"));
  if (args.has("ignore_index")) options.ignore_index(args.get<int64_t>("ignore_index"));
  if (args.has("zero_division")) options.zero_division(args.get<double>("zero_division"));
  if (args.has("multidim_average")) options.multidim_average(args.get<std::string>("multidim_average"));
  if (args.has("validate_args")) options.validate_args(args.get<bool>("validate_args"));
  if (args.has("thresholds")) {
    const auto& value = args.raw("thresholds");
    if (value.kind() == HParamValue::Kind::Int) {
      options.thresholds(value.as<int64_t>());
    } else {
      options.thresholds(args.get<std::vector<double>>("thresholds"));
    }
  }
  if (args.has("max_fpr")) options.max_fpr(args.get<double>("max_fpr"));
  if (args.has("normalize")) options.normalize(args.get<std::string>("normalize"));
  if (args.has("n_bins")) options.n_bins(args.get<int64_t>("n_bins"));
  if (args.has("norm")) options.norm(args.get<std::string>("norm"));
  return options;
}

RegressionOptions regression_options(ArgReader& args) {
  RegressionOptions options;
  if (args.has("num_outputs")) options.num_outputs(args.get<int64_t>("num_outputs"));
  if (args.has("squared")) options.squared(args.get<bool>("squared"));
  if (args.has("multioutput")) options.multioutput(args.get<std::string>("multioutput"));
  if (args.has("adjusted")) options.adjusted(args.get<int64_t>("adjusted"));
  if (args.has("reduction")) options.reduction(args.get<std::string>("reduction"));
  if (args.given_null("reduction")) options.reduction("none");
  if (args.has("epsilon")) options.epsilon(args.get<double>("epsilon"));
  if (args.has("validate_args")) options.validate_args(args.get<bool>("validate_args"));
  return options;
}

AggregationOptions aggregation_options(ArgReader& args) {
  AggregationOptions options;
  if (args.has("nan_strategy")) {
    const auto& value = args.raw("nan_strategy");
    if (value.kind() == HParamValue::Kind::String) {
      options.nan_strategy(value.as<std::string>());
    } else {
      options.nan_strategy(args.get<double>("nan_strategy"));
    }
  }
  return options;
}

using ClassificationFactory = std::function<std::shared_ptr<Metric>(ArgReader&, const ClassificationOptions&)>;

const std::map<std::string, ClassificationFactory>& classification_factories() {
  static const std::map<std::string, ClassificationFactory> factories = {
      {"StatScores", [](ArgReader&, const ClassificationOptions& o) { return std::make_shared<StatScores>(o); }},
      {"Accuracy", [](ArgReader&, const ClassificationOptions& o) { return std::make_shared<Accuracy>(o); }},
      {"Precision", [](ArgReader&, const ClassificationOptions& o) { return std::make_shared<Precision>(o); }},
      {"Recall", [](ArgReader&, const ClassificationOptions& o) { return std::make_shared<Recall>(o); }},
      {"F1Score", [](ArgReader&, const ClassificationOptions& o) { return std::make_shared<F1Score>(o); }},
      {"FBetaScore",
       [](ArgReader& args, const ClassificationOptions& o) {
         return std::make_shared<FBetaScore>(args.has("beta") ? args.get<double>("beta") : 1.0, o);
       }},
      {"Specificity", [](ArgReader&, const ClassificationOptions& o) { return std::make_shared<Specificity>(o); }},
      {"ConfusionMatrix",
       [](ArgReader&, const ClassificationOptions& o) { return std::make_shared<ConfusionMatrix>(o); }},
      {"AUROC", [](ArgReader&, const ClassificationOptions& o) { return std::make_shared<AUROC>(o); }},
      {"AveragePrecision",
       [](ArgReader&, const ClassificationOptions& o) { return std::make_shared<AveragePrecision>(o); }},
      {"ROC", [](ArgReader&, const ClassificationOptions& o) { return std::make_shared<ROC>(o); }},
      {"PrecisionRecallCurve",
       [](ArgReader&, const ClassificationOptions& o) { return std::make_shared<PrecisionRecallCurve>(o); }},
      {"CalibrationError",
       [](ArgReader&, const ClassificationOptions& o) { return std::make_shared<CalibrationError>(o); }},
  };
  return factories;
}

using OtherFactory = std::function<std::shared_ptr<Metric>(ArgReader&)>;

const std::map<std::string, OtherFactory>& other_factories() {
  static const std::map<std::string, OtherFactory> factories = {
      {"MeanSquaredError", [](ArgReader& a) { return std::make_shared<MeanSquaredError>(regression_options(a)); }},
      {"MeanAbsoluteError", [](ArgReader& a) { return std::make_shared<MeanAbsoluteError>(regression_options(a)); }},
      {"MeanAbsolutePercentageError",
       [](ArgReader& a) { return std::make_shared<MeanAbsolutePercentageError>(regression_options(a)); }},
      {"R2Score", [](ArgReader& a) { return std::make_shared<R2Score>(regression_options(a)); }},
      {"ExplainedVariance", [](ArgReader& a) { return std::make_shared<ExplainedVariance>(regression_options(a)); }},
      {"PearsonCorrCoef", [](ArgReader& a) { return std::make_shared<PearsonCorrCoef>(regression_options(a)); }},
      {"SpearmanCorrCoef", [](ArgReader& a) { return std::make_shared<SpearmanCorrCoef>(regression_options(a)); }},
      {"CosineSimilarity", [](ArgReader& a) { return std::make_shared<CosineSimilarity>(regression_options(a)); }},
      {"MeanMetric", [](ArgReader& a) { return std::make_shared<MeanMetric>(aggregation_options(a)); }},
      {"SumMetric", [](ArgReader& a) { return std::make_shared<SumMetric>(aggregation_options(a)); }},
      {"MaxMetric", [](ArgReader& a) { return std::make_shared<MaxMetric>(aggregation_options(a)); }},
      {"MinMetric", [](ArgReader& a) { return std::make_shared<MinMetric>(aggregation_options(a)); }},
      {"CatMetric", [](ArgReader& a) { return std::make_shared<CatMetric>(aggregation_options(a)); }},
  };
  return factories;
}

}  // namespace

std::shared_ptr<Metric> make_metric(const std::string& name, const HParams& args) {
  ArgReader reader(name, args);
  std::shared_ptr<Metric> metric;
  if (const auto other = other_factories().find(name); other != other_factories().end()) {
    metric = other->second(reader);
  } else {
    std::string base = name;
    std::string task;
    for (const char* prefix : kTasks) {
      const std::string p(prefix);
      if (name.rfind(p, 0) == 0 && classification_factories().count(name.substr(p.size()))) {
        base = name.substr(p.size());
        task = p == "Binary" ? "binary" : p == "Multiclass" ? "multiclass" : "multilabel";
      }
    }
    const auto found = classification_factories().find(base);
    if (found == classification_factories().end()) {
      std::string known;
      for (const auto& known_name : metric_names()) known += (known.empty() ? "" : ", ") + known_name;
      throw Error("make_metric: unknown metric '" + name + "'; known: " + known);
    }
    const ClassificationOptions options = classification_options(reader, name, task, !task.empty());
    metric = found->second(reader, options);
  }
  reader.finish();
  return metric;
}

std::vector<std::string> metric_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : classification_factories()) {
    names.push_back(name);
    for (const char* prefix : kTasks) names.push_back(prefix + name);
  }
  for (const auto& [name, factory] : other_factories()) names.push_back(name);
  return names;
}

}  // namespace fulgur::metrics
