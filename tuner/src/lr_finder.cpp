// The LR finder: the sweep plugin, Lightning's suggestion, the SVG picture.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "fulgur/error.h"
#include "fulgur/plugin.h"
#include "fulgur/plugins/lr_scheduler.h"
#include "fulgur/tuner.h"
#include "optimizer_snapshot.h"
#include "weights_snapshot.h"

namespace fulgur {
namespace {

// Lightning's _LRCallback and _ExponentialLR / _LinearLR: the rate of step k (k optimizer steps
// taken) is min_lr for k = 0 and then follows the sweep from its (k + 1)-th point, as
// Lightning's schedulers compute it; each accumulation window records the rate it ran with
// and the loss smoothed over the windows so far.
class LRSweep : public Plugin {
 public:
  explicit LRSweep(const LRFindOptions& options) : options_(options) {}
  std::string name() const override { return "lr_find"; }

  void attach(HookBus& bus) override {
    connect(bus.on_train_start, [this](RunHook& hook) { start(hook.trainer); });
    connect(bus.on_train_batch_start, [this](BatchStartHook& hook) {
      if (window_ends(hook.trainer, hook.batch_idx)) lrs_.push_back(current_lr_);
    });
    connect(bus.on_train_batch_end, [this](BatchEndHook& hook) { record(hook); });
  }

  std::vector<double> take_lrs() { return std::move(lrs_); }
  std::vector<double> take_losses() { return std::move(losses_); }
  bool diverged() const { return diverged_; }

 private:
  static bool window_ends(const Trainer& trainer, int64_t batch_idx) {
    return (batch_idx + 1) % trainer.accumulate_grad_batches() == 0;
  }

  double lr_at(int64_t steps) const {
    if (steps == 0) return options_.min_lr_;
    const double r = static_cast<double>(steps + 1) / static_cast<double>(options_.num_training_);
    if (options_.mode_ == "linear") return options_.min_lr_ + r * (options_.max_lr_ - options_.min_lr_);
    return options_.min_lr_ * std::pow(options_.max_lr_ / options_.min_lr_, r);
  }

  void start(Trainer& trainer) {
    if (trainer.optimizers().size() != 1) {
      throw Error("lr_find works with one optimizer; configure_optimizers returned " +
                  std::to_string(trainer.optimizers().size()));
    }
    // The sweep sets the rates; the Module's scheduler sits out, as Lightning replaces it.
    if (auto* control = dynamic_cast<plugins::LRSchedulerControl*>(trainer.find_plugin("lr_scheduler"))) {
      control->hand_over_first_optimizer();
    }
    set_lr(trainer, lr_at(0));
    last_step_ = trainer.global_step();
  }

  void set_lr(Trainer& trainer, double lr) {
    current_lr_ = lr;
    for (auto& group : trainer.optimizers().front()->param_groups()) group.options().set_lr(lr);
  }

  void record(BatchEndHook& hook) {
    Trainer& trainer = hook.trainer;
    if (window_ends(trainer, hook.batch_idx)) {
      if (!hook.outputs.defined()) {
        losses_.push_back(std::numeric_limits<double>::quiet_NaN());
      } else {
        const double loss = hook.outputs.item<double>();  // one host read per step: the sweep needs it
        const int64_t step = trainer.global_step();
        average_ = beta_ * average_ + (1 - beta_) * loss;
        const double smoothed = average_ / (1 - std::pow(beta_, static_cast<double>(step + 1)));
        const auto threshold = options_.early_stop_threshold_;
        if (threshold && step > 1 && smoothed > *threshold * best_) {
          trainer.should_stop = true;
          diverged_ = true;
        }
        if (smoothed < best_ || step == 1) best_ = smoothed;
        losses_.push_back(smoothed);
      }
    }
    if (trainer.global_step() != last_step_) {
      last_step_ = trainer.global_step();
      set_lr(trainer, lr_at(last_step_));
    }
  }

  LRFindOptions options_;
  const double beta_ = 0.98;
  double average_ = 0.0;
  double best_ = 0.0;
  double current_lr_ = 0.0;
  int64_t last_step_ = 0;
  bool diverged_ = false;
  std::vector<double> lrs_;
  std::vector<double> losses_;
};

std::string svg_number(double value) {
  std::ostringstream text;
  text.precision(6);
  text << value;
  return text.str();
}

}  // namespace

std::optional<int64_t> LRFinder::suggestion_index(int64_t skip_begin, int64_t skip_end) const {
  // Python's losses[skip_begin:-skip_end], in float32 as torch.tensor(list) makes it.
  const auto total = static_cast<int64_t>(losses_.size());
  const int64_t end = skip_end == 0 ? 0 : std::max<int64_t>(total - skip_end, 0);
  const int64_t begin = std::min(std::max<int64_t>(skip_begin, 0), total);
  std::vector<float> losses, lrs;
  std::vector<int64_t> index;
  for (int64_t i = begin; i < end; ++i) {
    const auto loss = static_cast<float>(losses_[static_cast<std::size_t>(i)]);
    if (!std::isfinite(loss)) continue;
    losses.push_back(loss);
    lrs.push_back(static_cast<float>(lrs_[static_cast<std::size_t>(i)]));
    index.push_back(i);
  }
  if (losses.size() < 2) return std::nullopt;
  const auto loss_tensor = torch::tensor(losses);
  const auto lr_tensor = torch::tensor(lrs);
  // d loss / d lr on the tried rates (second-order inside, first-order at the ends): torch.gradient.
  const auto gradients = torch::gradient(loss_tensor, std::vector<torch::Tensor>{lr_tensor})[0];
  return index[static_cast<std::size_t>(gradients.argmin().item<int64_t>())];
}

std::optional<double> LRFinder::suggestion(int64_t skip_begin, int64_t skip_end) const {
  const auto index = suggestion_index(skip_begin, skip_end);
  if (!index) return std::nullopt;
  return lrs_[static_cast<std::size_t>(*index)];
}

void LRFinder::plot(const std::string& path) const {
  const double width = 640, height = 420, left = 70, right = 20, top = 20, bottom = 50;
  const bool log_x = mode_ == "exponential";
  std::vector<std::pair<double, double>> points;
  for (std::size_t i = 0; i < lrs_.size() && i < losses_.size(); ++i) {
    if (std::isfinite(losses_[i]) && lrs_[i] > 0)
      points.emplace_back(log_x ? std::log10(lrs_[i]) : lrs_[i], losses_[i]);
  }
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  if (!points.empty()) {
    x_min = x_max = points[0].first;
    y_min = y_max = points[0].second;
    for (const auto& [x, y] : points) {
      x_min = std::min(x_min, x), x_max = std::max(x_max, x);
      y_min = std::min(y_min, y), y_max = std::max(y_max, y);
    }
  }
  if (x_max == x_min) x_max = x_min + 1;
  if (y_max == y_min) y_max = y_min + 1;
  const auto px = [&](double x) { return left + (x - x_min) / (x_max - x_min) * (width - left - right); };
  const auto py = [&](double y) { return height - bottom - (y - y_min) / (y_max - y_min) * (height - top - bottom); };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  // Axes, with ticks at every decade (log) or at five even steps (linear).
  svg << "<line x1=\"" << left << "\" y1=\"" << height - bottom << "\" x2=\"" << width - right << "\" y2=\""
      << height - bottom << "\" stroke=\"black\"/>\n<line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left
      << "\" y2=\"" << height - bottom << "\" stroke=\"black\"/>\n";
  const auto x_tick = [&](double x, const std::string& label) {
    svg << "<line x1=\"" << px(x) << "\" y1=\"" << height - bottom << "\" x2=\"" << px(x) << "\" y2=\""
        << height - bottom + 5 << "\" stroke=\"black\"/><text x=\"" << px(x) << "\" y=\"" << height - bottom + 18
        << "\" text-anchor=\"middle\">" << label << "</text>\n";
  };
  if (log_x) {
    for (double decade = std::ceil(x_min); decade <= x_max; decade += 1) x_tick(decade, "1e" + svg_number(decade));
  } else {
    for (int i = 0; i <= 4; ++i) x_tick(x_min + (x_max - x_min) * i / 4, svg_number(x_min + (x_max - x_min) * i / 4));
  }
  for (int i = 0; i <= 4; ++i) {
    const double y = y_min + (y_max - y_min) * i / 4;
    svg << "<line x1=\"" << left - 5 << "\" y1=\"" << py(y) << "\" x2=\"" << left << "\" y2=\"" << py(y)
        << "\" stroke=\"black\"/><text x=\"" << left - 8 << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\">"
        << svg_number(y) << "</text>\n";
  }
  svg << "<text x=\"" << (left + width - right) / 2 << "\" y=\"" << height - 10
      << "\" text-anchor=\"middle\">Learning rate</text>\n<text x=\"16\" y=\"" << (top + height - bottom) / 2
      << "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " << (top + height - bottom) / 2 << ")\">Loss</text>\n";
  svg << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"";
  for (const auto& [x, y] : points) svg << px(x) << ',' << py(y) << ' ';
  svg << "\"/>\n";
  if (const auto index = suggestion_index()) {
    const double lr = lrs_[static_cast<std::size_t>(*index)];
    const double x = log_x ? std::log10(lr) : lr, y = losses_[static_cast<std::size_t>(*index)];
    svg << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y) << "\" r=\"6\" fill=\"red\"><title>suggested lr "
        << svg_number(lr) << "</title></circle>\n<text x=\"" << px(x) + 10 << "\" y=\"" << py(y) - 10
        << "\" fill=\"red\">suggested lr " << svg_number(lr) << "</text>\n";
  }
  svg << "</svg>\n";
  const auto folder = std::filesystem::path(path).parent_path();
  if (!folder.empty()) std::filesystem::create_directories(folder);
  std::ofstream file(path);
  file << svg.str();
  if (!file) throw Error("lr_find: could not write the plot to '" + path + "'");
}

LRFinder Tuner::run_lr_find(Module& module, const LRFindOptions& options, const Fit& fit) {
  if (!(options.min_lr_ > 0) || !(options.max_lr_ > options.min_lr_)) {
    throw Error("lr_find: needs 0 < min_lr < max_lr, got min_lr=" + svg_number(options.min_lr_) +
                ", max_lr=" + svg_number(options.max_lr_));
  }
  if (options.num_training_ < 2) throw Error("lr_find: num_training must be >= 2");
  if (options.mode_ != "exponential" && options.mode_ != "linear") {
    throw Error("lr_find: mode must be exponential or linear, got '" + options.mode_ + "'");
  }
  if (options_.fast_dev_run() > 0) {
    spdlog::warn("lr_find is skipped under fast_dev_run, as in Lightning");
    return {};
  }
  // Which hyper-parameter takes the suggestion, decided before the search as Lightning does.
  std::string attr;
  if (options.update_attr_) {
    if (!options.attr_name_.empty()) {
      if (!module.hparams().contains(options.attr_name_)) {
        throw Error("lr_find: attr_name '" + options.attr_name_ + "' is not among the Module's hparams (" +
                    (module.hparams().empty() ? std::string("none") : module.hparams().key_list()) +
                    "); save it with save_hyperparameters, or turn update_attr off");
      }
      attr = options.attr_name_;
    } else {
      for (const char* name : {"lr", "learning_rate"}) {
        if (module.hparams().contains(name)) {
          attr = name;
          break;
        }
      }
    }
  }
  TrainerOptions search = search_options();
  search.max_steps(options.num_training_);
  search.limit_val_batches(options.num_training_);
  Trainer trainer(search);
  trainer.add_plugin(std::make_unique<detail::OptimizerSnapshot>());
  auto& sweep = static_cast<LRSweep&>(trainer.add_plugin(std::make_unique<LRSweep>(options)));
  {
    const detail::WeightsSnapshot restore(module);
    fit(trainer);
  }
  LRFinder finder(options.mode_, sweep.take_lrs(), sweep.take_losses());
  const auto& losses = finder.losses();
  const bool too_few = losses.size() < 13;  // skip_begin + skip_end + 2
  if (sweep.diverged() && too_few) {
    throw Error("lr_find: the loss diverged after " + std::to_string(losses.size()) +
                " step(s), before the sweep had enough points to suggest a rate (the last loss was " +
                svg_number(losses.empty() ? NAN : losses.back()) + " at lr " +
                svg_number(finder.lrs().empty() ? NAN : finder.lrs().back()) +
                "); lower min_lr or check the model's loss");
  }
  if (!losses.empty() && std::none_of(losses.begin(), losses.end(), [](double v) { return std::isfinite(v); })) {
    throw Error("lr_find: every loss of the sweep was NaN or infinite: the model diverges at once");
  }
  if (!finder.suggestion()) {
    spdlog::error("lr_find: {} point(s) are too few for a suggestion; raise num_training or use more training data",
                  losses.size());
  }
  if (options.plot_path_ != "none") {
    const std::string path =
        options.plot_path_.empty() ? (std::filesystem::path(log_folder_) / "lr_find.svg").string() : options.plot_path_;
    finder.plot(path);
    finder.set_plot_path(path);
  }
  if (const auto lr = finder.suggestion(); lr && !attr.empty()) {
    module.hparams().set(attr, *lr);
    spdlog::info("lr_find: learning rate set to {} (hparams '{}')", *lr, attr);
  }
  return finder;
}

}  // namespace fulgur
