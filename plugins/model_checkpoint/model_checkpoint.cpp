// The model_checkpoint plugin (see include/fulgur/plugins/model_checkpoint.h).
#include "fulgur/plugins/model_checkpoint.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fulgur/checkpoint.h"
#include "fulgur/checkpoint_folder.h"
#include "fulgur/duration.h"
#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/random_id.h"
#include "fulgur/strategy.h"
#include "fulgur/trainer.h"

namespace fulgur::plugins {
namespace {

namespace fs = std::filesystem;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using Clock = std::chrono::steady_clock;

class ModelCheckpoint : public Plugin, public ModelCheckpointInfo, public CheckpointFolder {
 public:
  explicit ModelCheckpoint(ModelCheckpointOptions options) : options_(std::move(options)) {
    if (options_.monitor().empty() && options_.save_top_k() > 1) {
      throw PluginError("plugin 'model_checkpoint': save_top_k=" + std::to_string(options_.save_top_k()) +
                        " needs a monitor to rank checkpoints by");
    }
    if (options_.every_n_epochs() < 0 || options_.every_n_train_steps() < 0) {
      throw PluginError("plugin 'model_checkpoint': every_n_epochs and every_n_train_steps must be >= 0");
    }
    if (!options_.train_time_interval().empty()) {
      interval_seconds_ =
          parse_duration(options_.train_time_interval(), "plugin 'model_checkpoint': train_time_interval");
      if (!(interval_seconds_ > 0))
        throw PluginError("plugin 'model_checkpoint': train_time_interval must be longer than 0");
    }
    // As Lightning: one cadence at a time. every_n_epochs keeps its default of 1 unless another
    // one is chosen.
    if (options_.every_n_train_steps() > 0 && interval_seconds_ > 0) {
      throw PluginError(
          "plugin 'model_checkpoint': every_n_train_steps=" + std::to_string(options_.every_n_train_steps()) +
          " and train_time_interval=" + options_.train_time_interval() +
          " should be mutually exclusive: choose one cadence");
    }
    if (options_.every_n_train_steps() > 0 || interval_seconds_ > 0) options_.every_n_epochs() = 0;
  }

  std::string name() const override { return "model_checkpoint"; }
  std::string given_checkpoint_dir() const override { return options_.dirpath(); }

  void attach(HookBus& bus) override {
    connect(
        bus.on_train_start, [this](RunHook&) { last_time_checked_ = Clock::now(); }, SlotGroup::Monitor);
    connect(
        bus.on_train_batch_end,
        [this](BatchEndHook& hook) {
          const auto step = hook.trainer.global_step();
          if (step == last_saved_step_) return;
          if (options_.every_n_train_steps() > 0 && step > 0 && step % options_.every_n_train_steps() == 0) {
            save(hook.trainer);
          } else if (interval_seconds_ > 0 && time_due(hook.trainer)) {
            save(hook.trainer);
          }
        },
        SlotGroup::Monitor);
    connect(
        bus.on_train_epoch_end,
        [this](EpochHook& hook) {
          if (saves_at_epoch_end(hook.trainer) && epoch_due(hook.epoch)) save(hook.trainer);
        },
        SlotGroup::Monitor);
    connect(
        bus.on_validation_end,
        [this](RunHook& hook) {
          auto& trainer = hook.trainer;
          if (trainer.sanity_checking() || trainer.stage() != Stage::Fit || saves_at_epoch_end(trainer)) return;
          if (epoch_due(trainer.current_epoch())) save(trainer);
        },
        SlotGroup::Monitor);
    connect(bus.on_save_checkpoint, [this](CheckpointHook& hook) {
      auto state = plugin_state(hook.checkpoint, name());
      state.insert_or_assign("dirpath", absolute(folder(hook.trainer)).string());
      state.insert_or_assign("run_id", run_id_);
      state.insert_or_assign("best_model_path", best_path_);
      state.insert_or_assign("best_model_score", best_score());
      state.insert_or_assign("last_model_path", last_path_);
      state.insert_or_assign("monitor", options_.monitor());
      StateDict kept = make_state_dict();
      for (const auto& [path, score] : kept_) kept.insert(path, score);
      state.insert_or_assign("best_k_models", kept);
    });
    connect(bus.on_load_checkpoint, [this](CheckpointHook& hook) {
      if (!has_plugin_state(hook.checkpoint, name())) return;
      restored_ = read_state(plugin_state(hook.checkpoint, name()));
    });
    // The folder is known once the loggers have their (possibly restored) version.
    connect(bus.on_fit_start, [this](RunHook& hook) { adopt_restored_state(hook.trainer); });
  }

  std::string best_model_path() const override { return best_path_; }
  double best_model_score() const override { return best_score(); }
  std::string last_model_path() const override { return last_path_; }
  std::map<std::string, double> best_k_models() const override { return kept_; }

 private:
  bool saves_at_epoch_end(const Trainer& trainer) const {
    const auto& when = options_.save_on_train_epoch_end();
    if (when != "auto") return when == "true";
    return trainer.options().validates_once_per_epoch();
  }

  // Whether train_time_interval has passed since the last save by time; under several processes
  // rank 0's clock decides (each rank must enter the same saves).
  bool time_due(Trainer& trainer) {
    const auto now = Clock::now();
    const bool due = std::chrono::duration<double>(now - last_time_checked_).count() >= interval_seconds_;
    if (!agreed(trainer, due)) return false;
    last_time_checked_ = now;
    return true;
  }

  bool epoch_due(int64_t epoch) const {
    return options_.every_n_epochs() > 0 && (epoch + 1) % options_.every_n_epochs() == 0;
  }

  bool better(double candidate, double than) const {
    if (std::isnan(than)) return !std::isnan(candidate);
    if (std::isnan(candidate)) return false;
    return options_.mode() == "min" ? candidate < than : candidate > than;
  }

  double best_score() const {
    double best = kNaN;
    for (const auto& [path, score] : kept_) {
      if (path == best_path_) best = score;
    }
    return best;
  }

  // Fills {epoch}, {step} and {metric[:spec]} with "name=value", as Lightning's auto_insert_metric_name.
  std::string format_filename(Trainer& trainer) const {
    const auto& pattern = options_.filename();
    std::string name;
    for (std::size_t i = 0; i < pattern.size();) {
      if (pattern[i] != '{') {
        name += pattern[i++];
        continue;
      }
      const auto close = pattern.find('}', i);
      if (close == std::string::npos) {
        throw PluginError("plugin 'model_checkpoint': unclosed '{' in filename '" + pattern + "'");
      }
      const std::string field = pattern.substr(i + 1, close - i - 1);
      const auto colon = field.find(':');
      const std::string key = field.substr(0, colon);
      const std::string spec = colon == std::string::npos ? "" : field.substr(colon + 1);
      if (options_.auto_insert_metric_name()) name += key + "=";
      try {
        if (key == "epoch") {
          name += fmt::format(fmt::runtime("{:" + spec + "}"), trainer.current_epoch());
        } else if (key == "step") {
          name += fmt::format(fmt::runtime("{:" + spec + "}"), trainer.global_step());
        } else {
          name += fmt::format(fmt::runtime("{:" + spec + "}"), metric(trainer, key));
        }
      } catch (const fmt::format_error& error) {
        throw PluginError("plugin 'model_checkpoint': filename field '{" + field + "}': " + error.what());
      }
      i = close + 1;
    }
    return name;
  }

  double metric(Trainer& trainer, const std::string& key) const {
    const auto& metrics = trainer.callback_metrics();
    const auto found = metrics.find(key);
    if (found == metrics.end()) {
      throw Error("plugin 'model_checkpoint': metric '" + key +
                  "' was not logged; logged metrics: " + trainer.metrics().callback_metric_names());
    }
    return found->second.item<double>();
  }

  fs::path folder(const Trainer& trainer) const {
    return options_.dirpath().empty() ? fs::path(trainer.default_checkpoint_dir()) : fs::path(options_.dirpath());
  }

  void write(Trainer& trainer, const std::string& path) { trainer.save_checkpoint(path, options_.save_weights_only()); }

  void save(Trainer& trainer) {
    if (trainer.options().fast_dev_run() > 0) return;  // Lightning: fast_dev_run writes no checkpoint
    last_saved_step_ = trainer.global_step();
    const double score = options_.monitor().empty() ? kNaN : metric(trainer, options_.monitor());
    const fs::path here = folder(trainer);
    const std::string stem = format_filename(trainer);
    const std::string named = (here / (stem + ".ckpt")).string();

    std::vector<std::string> dropped;
    bool keep = options_.save_top_k() != 0;
    if (keep && options_.save_top_k() > 0 && options_.monitor().empty()) {
      for (const auto& [old, ignored] : kept_) {
        if (old != named) dropped.push_back(old);
      }
    } else if (keep && options_.save_top_k() > 0 && static_cast<int64_t>(kept_.size()) >= options_.save_top_k() &&
               !kept_.count(named)) {
      auto worst = kept_.begin();
      for (auto it = kept_.begin(); it != kept_.end(); ++it) {
        if (better(worst->second, it->second)) worst = it;
      }
      if (better(score, worst->second)) {
        dropped.push_back(worst->first);
      } else {
        keep = false;
      }
    }
    keep = agreed(trainer, keep);

    if (keep) {
      const std::string path = unused_path(here, stem, dropped.empty() ? "" : dropped.front());
      for (const auto& old : dropped) kept_.erase(old);
      kept_[path] = score;
      best_path_ = path;
      for (const auto& [candidate, value] : kept_) {
        if (!options_.monitor().empty() && better(value, kept_[best_path_])) best_path_ = candidate;
      }
      write(trainer, path);
      report_saved(trainer, score, path);
      for (const auto& old : dropped) {
        if (!trainer.is_global_zero() || !may_remove(old, path, trainer)) continue;
        std::error_code ignored;  // another process may have removed it already
        fs::remove(old, ignored);
      }
      if (!options_.save_last()) last_path_ = path;
    } else if (options_.verbose() && trainer.is_global_zero() && !options_.monitor().empty()) {
      spdlog::info("Epoch {}, global step {}: '{}' was not in top {}", trainer.current_epoch(), trainer.global_step(),
                   options_.monitor(), options_.save_top_k());
    }
    if (options_.save_last()) {
      last_path_ = unused_path(here, "last", last_path_);
      if (options_.save_last().kind() == SaveLast::Kind::Link && keep) {
        if (trainer.is_global_zero()) link_last(last_path_, kept_path_);
      } else {
        write(trainer, last_path_);
      }
    }
  }

  void report_saved(Trainer& trainer, double score, const std::string& path) {
    kept_path_ = path;
    if (!options_.verbose() || !trainer.is_global_zero()) return;
    if (options_.monitor().empty()) {
      spdlog::info("Epoch {}, global step {}: saving model to '{}'", trainer.current_epoch(), trainer.global_step(),
                   path);
    } else {
      spdlog::info("Epoch {}, global step {}: '{}' reached {:.5f} (best {:.5f}), saving model to '{}' as top {}",
                   trainer.current_epoch(), trainer.global_step(), options_.monitor(), score, best_score(), path,
                   options_.save_top_k());
    }
  }

  // last.ckpt as a relative symbolic link to the file just saved, replacing the old link (or
  // file) in one rename, as atomic_write does for files.
  static void link_last(const std::string& link, const std::string& target) {
    const fs::path temporary = fs::path(link).string() + ".fulgur-link-" + random_id();
    std::error_code error;
    fs::create_symlink(fs::path(target).filename(), temporary, error);
    if (!error) fs::rename(temporary, link, error);
    if (error) {
      fs::remove(temporary);
      throw Error("plugin 'model_checkpoint': cannot link '" + link + "' to '" + target + "': " + error.message());
    }
  }

  // What a checkpoint said about the files of the run that wrote it, until fit start decides
  // whether those files are this run's to manage.
  struct RestoredState {
    std::string dirpath;  // empty in checkpoints older than this rule
    std::string run_id;   // the run that wrote it; empty in checkpoints older than this rule
    std::string monitor;
    std::map<std::string, double> kept;
    std::string best_path;
    std::string last_path;
  };

  static RestoredState read_state(const StateDict& state) {
    auto text = [&state](const char* key) -> std::string {
      if (!state.contains(key)) return "";
      if (!state.at(key).isString()) {
        throw Error(std::string("checkpoint: model_checkpoint's saved '") + key +
                    "' should be a path (a string) but is a " + state.at(key).tagKind());
      }
      return state.at(key).toStringRef();
    };
    RestoredState restored;
    restored.dirpath = text("dirpath");
    restored.run_id = text("run_id");
    restored.monitor = text("monitor");
    restored.best_path = text("best_model_path");
    restored.last_path = text("last_model_path");
    if (state.contains("best_k_models")) {
      if (!state.at("best_k_models").isGenericDict()) {
        throw Error("checkpoint: model_checkpoint's saved 'best_k_models' should map paths to scores but is a " +
                    state.at("best_k_models").tagKind());
      }
      for (const auto& entry : state.at("best_k_models").toGenericDict()) {
        if (!entry.key().isString() || !(entry.value().isDouble() || entry.value().isInt())) {
          throw Error("checkpoint: model_checkpoint's saved 'best_k_models' should map paths to scores; it holds a " +
                      entry.key().tagKind() + " -> " + entry.value().tagKind() + " entry");
        }
        restored.kept[entry.key().toStringRef()] =
            entry.value().isDouble() ? entry.value().toDouble() : static_cast<double>(entry.value().toInt());
      }
    }
    return restored;
  }

  // Lightning's rule: a checkpoint's file list is taken over only when it was written to the
  // folder this run saves to, and only for files inside that folder. Otherwise (another run's
  // folder, a moved file, a list naming arbitrary paths) those files are left alone: this run
  // ranks and deletes only what it writes itself.
  void adopt_restored_state(const Trainer& trainer) {
    if (!restored_) return;
    RestoredState restored = std::move(*restored_);
    restored_.reset();
    if (restored.monitor != options_.monitor()) return;
    const fs::path here = absolute(folder(trainer));
    if (restored.dirpath.empty() || absolute(restored.dirpath) != here) {
      spdlog::info(
          "model_checkpoint: the checkpoint resumed from was saved by a run writing to {}; this run writes to {} "
          "and leaves the files there alone",
          restored.dirpath.empty() ? "an unrecorded folder" : restored.dirpath, here.string());
      best_path_ = restored.best_path;  // Lightning keeps this one pointer, for information only
      return;
    }
    // A resumed run continues the run that wrote the checkpoint, and takes over only the files
    // that run wrote: each listed file must itself be a checkpoint carrying that run's id. A list
    // naming another run's files (runs without a logger share <root>/checkpoints) leaves them alone.
    if (restored.run_id.empty()) {
      spdlog::info(
          "model_checkpoint: the checkpoint resumed from does not say which run wrote it; this run takes over "
          "none of its files");
      best_path_ = restored.best_path;
      return;
    }
    run_id_ = restored.run_id;
    kept_.clear();
    for (const auto& [path, score] : restored.kept) {
      if (inside_folder(path, trainer) && written_by_this_run(path)) {
        kept_[path] = score;
      } else {
        spdlog::info(
            "model_checkpoint: '{}', listed by the checkpoint resumed from, is not a checkpoint its run wrote "
            "here; it is left alone",
            path);
      }
    }
    best_path_ = kept_.count(restored.best_path) ? restored.best_path : "";
    last_path_ =
        inside_folder(restored.last_path, trainer) && written_by_this_run(restored.last_path) ? restored.last_path : "";
    for (const auto& [candidate, value] : kept_) {
      if (best_path_.empty() || (!options_.monitor().empty() && better(value, kept_[best_path_])))
        best_path_ = candidate;
    }
  }

  // Whether `path` is a checkpoint whose model_checkpoint state carries this run's id.
  bool written_by_this_run(const std::string& path) const {
    try {
      Checkpoint checkpoint = read_model_checkpoint(path);
      if (!has_plugin_state(checkpoint, name())) return false;
      const auto state = plugin_state(checkpoint, name());
      return state.contains("run_id") && state.at("run_id").isString() && state.at("run_id").toStringRef() == run_id_;
    } catch (const std::exception&) {
      return false;  // missing, unreadable or not a checkpoint: not ours to delete
    }
  }

  static fs::path absolute(const fs::path& path) {
    std::error_code error;
    auto resolved = fs::weakly_canonical(fs::absolute(path), error);
    return error ? fs::absolute(path).lexically_normal() : resolved;
  }

  // A checkpoint file this plugin may replace or delete: a .ckpt inside its folder.
  bool inside_folder(const std::string& path, const Trainer& trainer) const {
    if (path.empty() || fs::path(path).extension() != ".ckpt") return false;
    const auto relative = absolute(path).lexically_relative(absolute(folder(trainer)));
    return !relative.empty() && *relative.begin() != ".." && relative != ".";
  }

  // Whether `old`, dropped from the kept files, may be deleted: only a file of this folder, and
  // never the one this fit resumed from (Lightning's _should_remove_checkpoint).
  bool may_remove(const std::string& old, const std::string& current, const Trainer& trainer) const {
    if (old == current || !inside_folder(old, trainer)) return false;
    if (!trainer.ckpt_path().empty() && absolute(old) == absolute(trainer.ckpt_path())) return false;
    return true;
  }

  // Lightning's version counter: a file of that name that this run did not write (another run's,
  // sharing the folder) is never overwritten; "-v1", "-v2", ... are appended instead.
  std::string unused_path(const fs::path& folder, const std::string& stem, const std::string& ours) const {
    std::string path = (folder / (stem + ".ckpt")).string();
    if (!options_.enable_version_counter()) return path;
    for (int version = 1; fs::exists(path) && path != ours && !kept_.count(path); ++version) {
      path = (folder / (stem + "-v" + std::to_string(version) + ".ckpt")).string();
    }
    return path;
  }

  // Under several processes every rank must take the same decision (each then enters
  // save_checkpoint's barriers, or none does); rank 0's, which writes the files, is the one.
  static bool agreed(Trainer& trainer, bool decision) {
    if (trainer.world_size() <= 1 || !trainer.strategy()) return decision;
    auto flag = torch::tensor({decision ? 1.0f : 0.0f});
    trainer.strategy()->broadcast(flag, 0);
    return flag.item<float>() > 0;
  }

  ModelCheckpointOptions options_;
  std::optional<RestoredState> restored_;
  std::map<std::string, double> kept_;  // path -> monitored value (NaN without a monitor)
  std::string run_id_ = random_id();    // which run wrote a checkpoint: a resumed run deletes only its own
  std::string best_path_;
  std::string last_path_;
  int64_t last_saved_step_ = -1;
  std::string kept_path_;        // the file the last save kept (what save_last=link points to)
  double interval_seconds_ = 0;  // train_time_interval; 0: not by time
  Clock::time_point last_time_checked_ = Clock::now();
};

std::unique_ptr<Plugin> make_model_checkpoint(const PluginOptions& options) {
  return std::make_unique<ModelCheckpoint>(ModelCheckpointOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_model_checkpoint)
