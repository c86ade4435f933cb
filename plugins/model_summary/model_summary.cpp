// The model_summary plugin (see include/fulgur/plugins/model_summary.h).
#include "fulgur/plugins/model_summary.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

struct Row {
  std::string name;
  std::string type;
  int64_t params = 0;
  int64_t trainable = 0;
};

// Lightning's short counts: 950, 8.3 K, 1.2 M, 3.4 B.
std::string short_count(int64_t count) {
  const char* units[] = {"", " K", " M", " B", " T"};
  double value = static_cast<double>(count);
  int unit = 0;
  while (value >= 1000.0 && unit < 4) {
    value /= 1000.0;
    ++unit;
  }
  return unit == 0 ? std::to_string(count) : fmt::format("{:.1f}{}", value, units[unit]);
}

int64_t count(const std::vector<torch::Tensor>& parameters, bool trainable_only) {
  int64_t total = 0;
  for (const auto& parameter : parameters) {
    if (!trainable_only || parameter.requires_grad()) total += parameter.numel();
  }
  return total;
}

// "torch::nn::LinearImpl" reads as "Linear", as Lightning shows the Python class name.
std::string type_name(const torch::nn::Module& module) {
  std::string name = module.name();
  const std::string prefix = "torch::nn::", suffix = "Impl";
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    name = name.substr(0, name.size() - suffix.size());
  }
  return name;
}

void collect(const torch::nn::Module& module, const std::string& prefix, int64_t depth, int64_t max_depth,
             std::vector<Row>& rows) {
  if (max_depth >= 0 && depth > max_depth) return;
  for (const auto& child : module.named_children()) {
    const std::string name = prefix.empty() ? child.key() : prefix + "." + child.key();
    const auto parameters = child.value()->parameters(/*recurse=*/true);
    rows.push_back({name, type_name(*child.value()), count(parameters, false), count(parameters, true)});
    collect(*child.value(), name, depth + 1, max_depth, rows);
  }
}

std::string table(const Module& module, int64_t max_depth) {
  std::vector<Row> rows;
  if (max_depth != 0) collect(module, "", 1, max_depth, rows);
  std::size_t name_width = 4, type_width = 4, params_width = 6;
  for (const auto& row : rows) {
    name_width = std::max(name_width, row.name.size());
    type_width = std::max(type_width, row.type.size());
    params_width = std::max(params_width, short_count(row.params).size());
  }
  std::ostringstream out;
  const std::size_t index_width = std::to_string(rows.size()).size();
  const std::string header = fmt::format("{:<{}} | {:<{}} | {:<{}} | {:<{}} | Trainable", "", index_width, "Name",
                                         name_width, "Type", type_width, "Params", params_width);
  out << header << "\n" << std::string(header.size(), '-') << "\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    const char* trainable = row.trainable == row.params ? "yes" : row.trainable == 0 ? "no" : "partly";
    out << fmt::format("{:<{}} | {:<{}} | {:<{}} | {:<{}} | {}\n", i, index_width, row.name, name_width, row.type,
                       type_width, short_count(row.params), params_width, trainable);
  }
  const auto parameters = module.parameters();
  const int64_t total = count(parameters, false);
  const int64_t trainable = count(parameters, true);
  int64_t bytes = 0;
  for (const auto& parameter : parameters) bytes += parameter.numel() * static_cast<int64_t>(parameter.element_size());
  out << std::string(header.size(), '-') << "\n";
  out << fmt::format("{:<10}Trainable params\n", short_count(trainable));
  out << fmt::format("{:<10}Non-trainable params\n", short_count(total - trainable));
  out << fmt::format("{:<10}Total params\n", short_count(total));
  out << fmt::format("{:<10.3f}Total estimated model params size (MB)\n", static_cast<double>(bytes) / 1e6);
  return out.str();
}

class ModelSummary : public Plugin {
 public:
  explicit ModelSummary(ModelSummaryOptions options) : options_(std::move(options)) {}

  std::string name() const override { return "model_summary"; }

  void attach(HookBus& bus) override {
    connect(
        bus.on_fit_start,
        [this](RunHook& hook) {
          if (!hook.trainer.is_global_zero()) return;  // one table per run, not one per process
          const std::string text = table(*hook.trainer.module(), options_.max_depth());
          std::fputs(text.c_str(), stdout);
          std::fflush(stdout);
          if (!options_.path().empty()) {
            std::ofstream file(options_.path());
            if (!(file << text)) throw Error("plugin 'model_summary': cannot write '" + options_.path() + "'");
          }
        },
        SlotGroup::Logger);
  }

 private:
  ModelSummaryOptions options_;
};

std::unique_ptr<Plugin> make_model_summary(const PluginOptions& options) {
  return std::make_unique<ModelSummary>(ModelSummaryOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_model_summary)
