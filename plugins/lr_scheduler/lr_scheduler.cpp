// The lr_scheduler plugin (see include/fulgur/plugins/lr_scheduler.h).
#include "fulgur/plugins/lr_scheduler.h"

#include <algorithm>

#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "fulgur/error.h"
#include "fulgur/lr_schedulers.h"
#include "fulgur/plugin_export.h"
#include "fulgur/plugin_options.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

std::vector<int64_t> parse_milestones(const std::string& text) {
  std::vector<int64_t> milestones;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, '/')) {
    try {
      std::size_t used = 0;
      milestones.push_back(std::stoll(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw PluginError("plugin 'lr_scheduler': option 'milestones' expects counts separated by '/' (10/20/30), got '" +
                        text + "'");
    }
  }
  return milestones;
}

// Builds the command-line schedule once the optimizer and the run's length are known.
class ScheduleRecipe {
 public:
  ScheduleRecipe(LRSchedulerOptions options) : options_(std::move(options)) {
    OptionReader reader("lr_scheduler", options_.arguments);
    const auto& kind = options_.schedule();
    auto count = [&](const char* key) { return reader.get_int(key, -1); };
    if (kind == "step") {
      step_size_ = count("step_size");
      gamma_ = reader.get_double("gamma", 0.1);
    } else if (kind == "multistep") {
      milestones_ = parse_milestones(reader.get("milestones", ""));
      gamma_ = reader.get_double("gamma", 0.1);
    } else if (kind == "exponential") {
      gamma_ = reader.get_double("gamma", 0.9);
    } else if (kind == "cosine") {
      length_ = count("t_max");
      eta_min_ = reader.get_double("eta_min", 0.0);
    } else if (kind == "cosine_warm_restarts") {
      t_0_ = count("t_0");
      t_mult_ = reader.get_int("t_mult", 1);
      eta_min_ = reader.get_double("eta_min", 0.0);
    } else if (kind == "one_cycle") {
      max_lr_ = reader.get_double("max_lr", -1.0);
      length_ = count("total_steps");
      pct_start_ = reader.get_double("pct_start", 0.3);
      anneal_strategy_ = reader.get("anneal_strategy", "cos");
      div_factor_ = reader.get_double("div_factor", 25.0);
      final_div_factor_ = reader.get_double("final_div_factor", 1e4);
      three_phase_ = reader.get_bool("three_phase", false);
    } else if (kind == "polynomial") {
      length_ = count("total_iters");
      power_ = reader.get_double("power", 1.0);
    } else if (kind == "plateau") {
      plateau_.mode(reader.get("mode", plateau_.mode()));
      plateau_.factor(reader.get_double("factor", plateau_.factor()));
      plateau_.patience(reader.get_int("patience", plateau_.patience()));
      plateau_.threshold(reader.get_double("threshold", plateau_.threshold()));
      plateau_.threshold_mode(reader.get("threshold_mode", plateau_.threshold_mode()));
      plateau_.cooldown(reader.get_int("cooldown", plateau_.cooldown()));
      plateau_.min_lr(reader.get_double("min_lr", plateau_.min_lr()));
    } else if (kind != "constant") {
      throw PluginError(
          "plugin 'lr_scheduler': option 'schedule' expects step, multistep, exponential, cosine, "
          "cosine_warm_restarts, one_cycle, polynomial, plateau or constant, got '" +
          kind + "'");
    }
    warmup_start_factor_ = reader.get_double("warmup_start_factor", 1.0 / 3.0);
    reader.finish();
    if (kind == "step" && step_size_ < 1)
      throw PluginError("plugin 'lr_scheduler': schedule=step needs step_size >= 1");
    if (kind == "multistep" && milestones_.empty()) {
      throw PluginError("plugin 'lr_scheduler': schedule=multistep needs milestones (e.g. milestones=10/20)");
    }
    if (kind == "cosine_warm_restarts" && t_0_ < 1) {
      throw PluginError("plugin 'lr_scheduler': schedule=cosine_warm_restarts needs t_0 >= 1");
    }
    if (kind == "one_cycle" && !(max_lr_ > 0))
      throw PluginError("plugin 'lr_scheduler': schedule=one_cycle needs max_lr > 0");
    if (kind == "plateau" && options_.warmup() > 0) {
      throw PluginError("plugin 'lr_scheduler': a plateau schedule follows a metric and cannot follow a warmup");
    }
  }

  LRSchedulerConfig build(torch::optim::Optimizer& optimizer, const Trainer& trainer) const {
    std::shared_ptr<LRScheduler> scheduler = build_schedule(optimizer, trainer);
    if (options_.warmup() > 0) {
      scheduler = scheduler ? std::make_shared<LinearWarmup>(scheduler, options_.warmup(), warmup_start_factor_)
                            : std::make_shared<LinearWarmup>(optimizer, options_.warmup(), warmup_start_factor_);
    } else if (!scheduler) {
      throw PluginError("plugin 'lr_scheduler': schedule=constant without a warmup changes nothing; give warmup=N");
    }
    LRSchedulerConfig config;
    config.scheduler = scheduler;
    config.interval() = options_.interval();
    config.frequency() = options_.frequency();
    if (options_.schedule() == "plateau") config.monitor() = options_.monitor();
    return config;
  }

 private:
  // A schedule length left unset spans the rest of the run after the warmup: max_epochs for
  // interval "epoch", max_steps for interval "step".
  int64_t length_or_run(int64_t given, const char* key, const Trainer& trainer) const {
    if (given > 0) return given;
    const auto& options = trainer.options();
    const int64_t run = options_.interval() == "epoch" ? options.max_epochs().value_or(-1) : options.max_steps();
    if (run <= options_.warmup()) {
      throw PluginError(std::string("plugin 'lr_scheduler': schedule=") + options_.schedule() + " needs " + key +
                        " (it defaults to the run's length, but " +
                        (options_.interval() == "epoch" ? "max_epochs" : "max_steps") + " is not set)");
    }
    return (run - options_.warmup()) / options_.frequency();
  }

  std::shared_ptr<LRScheduler> build_schedule(torch::optim::Optimizer& optimizer, const Trainer& trainer) const {
    const auto& kind = options_.schedule();
    if (kind == "step") return std::make_shared<StepLR>(optimizer, step_size_, gamma_);
    if (kind == "multistep") return std::make_shared<MultiStepLR>(optimizer, milestones_, gamma_);
    if (kind == "exponential") return std::make_shared<ExponentialLR>(optimizer, gamma_);
    if (kind == "cosine")
      return std::make_shared<CosineAnnealingLR>(optimizer, length_or_run(length_, "t_max", trainer), eta_min_);
    if (kind == "cosine_warm_restarts")
      return std::make_shared<CosineAnnealingWarmRestarts>(optimizer, t_0_, t_mult_, eta_min_);
    if (kind == "one_cycle") {
      return std::make_shared<OneCycleLR>(optimizer, max_lr_, length_or_run(length_, "total_steps", trainer),
                                          pct_start_, anneal_strategy_, div_factor_, final_div_factor_, three_phase_);
    }
    if (kind == "polynomial") {
      return std::make_shared<PolynomialLR>(optimizer, length_or_run(length_, "total_iters", trainer), power_);
    }
    if (kind == "plateau") return std::make_shared<ReduceLROnPlateau>(optimizer, plateau_);
    return nullptr;  // constant: the warmup alone
  }

  LRSchedulerOptions options_;
  int64_t step_size_ = -1;
  std::vector<int64_t> milestones_;
  double gamma_ = 0.1;
  int64_t length_ = -1;
  double eta_min_ = 0.0;
  int64_t t_0_ = -1;
  int64_t t_mult_ = 1;
  double max_lr_ = -1.0;
  double pct_start_ = 0.3;
  std::string anneal_strategy_ = "cos";
  double div_factor_ = 25.0;
  double final_div_factor_ = 1e4;
  bool three_phase_ = false;
  double power_ = 1.0;
  ReduceLROnPlateau::Options plateau_;
  double warmup_start_factor_ = 1.0 / 3.0;
};

class LRSchedulerDriver : public Plugin, public LRSchedulerControl {
 public:
  explicit LRSchedulerDriver(LRSchedulerOptions options) : options_(options) {
    if (options_.interval() != "epoch" && options_.interval() != "step") {
      throw PluginError("plugin 'lr_scheduler': option 'interval' expects epoch or step, got '" + options_.interval() +
                        "'");
    }
    if (options_.frequency() < 1) throw PluginError("plugin 'lr_scheduler': option 'frequency' must be >= 1");
    if (!options_.schedule().empty()) recipe_.emplace(std::move(options));
  }

  std::string name() const override { return "lr_scheduler"; }
  void hand_over_first_optimizer() override { first_handed_over_ = true; }

  void attach(HookBus& bus) override {
    connect(bus.setup, [this](StageHook& hook) {
      if (hook.stage != Stage::Fit) return;
      collected_ = false;
      first_handed_over_ = false;
    });
    connect(bus.on_load_checkpoint, [this](CheckpointHook& hook) { restore(hook.trainer, hook.checkpoint); });
    connect(bus.on_fit_start, [this](RunHook& hook) {
      collect(hook.trainer);
      last_global_step_ = hook.trainer.global_step();
    });
    // Lightning steps "step" schedulers after the batch's callbacks, "epoch" ones after the
    // epoch's metrics are published (so a plateau scheduler sees this epoch's validation).
    connect(
        bus.on_train_batch_end,
        [this](BatchEndHook& hook) {
          Trainer& trainer = hook.trainer;
          if (trainer.global_step() == last_global_step_) return;  // inside an accumulation window
          last_global_step_ = trainer.global_step();
          if (automatic(trainer)) step_all(trainer, "step", trainer.global_step());
        },
        SlotGroup::Monitor);
    connect(
        bus.on_train_epoch_end,
        [this](EpochHook& hook) {
          // An epoch cut short (max_steps) is finished by the resumed run, which steps then.
          if (automatic(hook.trainer) && hook.trainer.train_epoch_complete())
            step_all(hook.trainer, "epoch", hook.epoch + 1);
        },
        SlotGroup::Monitor);
    connect(bus.on_save_checkpoint, [this](CheckpointHook& hook) {
      c10::impl::GenericList states(c10::AnyType::get());
      for (const auto& config : schedulers_) {
        StateDict state = config.scheduler->state_dict();
        state.insert("interval", config.interval());
        state.insert("frequency", config.frequency());
        states.push_back(state);
      }
      hook.checkpoint.insert_or_assign("lr_schedulers", states);
    });
  }

 private:
  static bool automatic(const Trainer& trainer) {
    // Under manual optimization the Module steps its schedulers itself, as in Lightning.
    return trainer.module() && trainer.module()->automatic_optimization();
  }

  void collect(Trainer& trainer) {
    if (collected_) return;
    collected_ = true;
    schedulers_ = trainer.lr_schedulers();
    if (recipe_) {
      if (!schedulers_.empty()) {
        throw PluginError("plugin 'lr_scheduler': schedule=" + options_.schedule() +
                          " was given, but configure_optimizers already returned a scheduler; use one or the other");
      }
      schedulers_.push_back(recipe_->build(*trainer.optimizers().at(0), trainer));
    }
    for (const auto& config : schedulers_) {
      if (config.scheduler->needs_metric() && config.monitor().empty()) {
        throw Error("lr scheduler '" + config.scheduler->kind() +
                    "' follows a metric: set `monitor` in its LRSchedulerConfig (e.g. \"val_loss\")");
      }
    }
  }

  void step_all(Trainer& trainer, const std::string& interval, int64_t count) {
    const auto* first = trainer.optimizers().empty() ? nullptr : trainer.optimizers().front().get();
    for (auto& config : schedulers_) {
      if (config.interval() != interval || count % config.frequency() != 0) continue;
      if (first_handed_over_ && &config.scheduler->optimizer() == first) continue;
      std::optional<double> metric;
      if (config.scheduler->needs_metric()) {
        metric = trainer.metrics().value(config.monitor());
        if (!metric) {
          const std::string message =
              "lr scheduler '" + config.scheduler->kind() + "' follows metric '" + config.monitor() +
              "', which was not logged; logged metrics: " + trainer.metrics().callback_metric_names();
          if (config.strict()) throw Error(message + " (set strict=false to skip the step instead)");
          spdlog::warn("{}; the scheduler step is skipped", message);
          continue;
        }
      }
      config.scheduler->step(metric);
    }
  }

  void restore(Trainer& trainer, Checkpoint& checkpoint) {
    collect(trainer);
    if (!checkpoint.contains("lr_schedulers") || !checkpoint.at("lr_schedulers").isList()) {
      throw Error("checkpoint: entry 'lr_schedulers' is missing or not a list");
    }
    const auto states = checkpoint.at("lr_schedulers").toList();
    if (states.size() != schedulers_.size()) {
      throw Error("checkpoint holds " + std::to_string(states.size()) + " lr scheduler state(s) but the run has " +
                  std::to_string(schedulers_.size()) + " scheduler(s)");
    }
    for (std::size_t i = 0; i < states.size(); ++i) {
      const auto state = states.get(i);
      if (!state.isGenericDict())
        throw Error("checkpoint: lr scheduler state " + std::to_string(i) + " is not a dictionary");
      schedulers_[i].scheduler->load_state_dict(state.toGenericDict());
    }
  }

  LRSchedulerOptions options_;
  std::optional<ScheduleRecipe> recipe_;
  std::vector<LRSchedulerConfig> schedulers_;
  bool first_handed_over_ = false;
  bool collected_ = false;
  int64_t last_global_step_ = 0;
};

std::unique_ptr<Plugin> make_lr_scheduler(const PluginOptions& options) {
  // The driver's declared options; everything else belongs to the schedule and is checked there.
  const LRSchedulerOptions declared;
  const auto fields = declared.fields();
  PluginOptions driver;
  PluginOptions rest;
  for (const auto& [key, value] : options) {
    const bool is_driver =
        std::any_of(fields.begin(), fields.end(), [&](const OptionField* f) { return key == f->name(); });
    (is_driver ? driver : rest)[key] = value;
  }
  LRSchedulerOptions config = LRSchedulerOptions::parse(driver);
  if (config.schedule().empty() && config.warmup() > 0) config.schedule("constant");
  if (config.schedule().empty() && !rest.empty()) {
    throw PluginError("plugin 'lr_scheduler': option '" + rest.begin()->first + "' needs a schedule (schedule=...)");
  }
  config.arguments = rest;
  return std::make_unique<LRSchedulerDriver>(std::move(config));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_lr_scheduler)
