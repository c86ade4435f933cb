// A checkpoint: the dictionary written to a .ckpt file.
//
// Its top-level keys are Lightning's (epoch, global_step, state_dict, optimizer_states,
// lr_schedulers, callbacks, hyper_parameters, loops) plus fulgur_version; it is written with
// LibTorch's pickler, so Python's torch.load opens it. Plugins keep their state under
// checkpoint["callbacks"][plugin name] (see plugin_state()).
#pragma once

#include <string>

#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>

namespace fulgur {

/// Keys are strings, values anything picklable (tensors, numbers, strings, lists, dicts).
using Checkpoint = c10::impl::GenericDict;
using StateDict = c10::impl::GenericDict;

/// An empty string-keyed dictionary, the shape of every level of a checkpoint.
StateDict make_state_dict();

/// checkpoint["callbacks"][name], created empty when absent. Dicts are shared references:
/// writing into the result writes into the checkpoint.
StateDict plugin_state(Checkpoint& checkpoint, const std::string& name);
/// checkpoint["callbacks"][name] if the checkpoint holds state for `name`.
bool has_plugin_state(const Checkpoint& checkpoint, const std::string& name);

/// Writes `checkpoint` to `path` atomically: a temporary file beside it is written, flushed to
/// disk and renamed over `path`, so a crash at any moment leaves the old file or the new one.
/// Throws fulgur::Error naming the path and the system's reason (full disk, no permission, ...);
/// the previous file at `path` is then left as it was.
void write_checkpoint(const Checkpoint& checkpoint, const std::string& path);

/// Reads a checkpoint to resume from; throws fulgur::Error for a missing, truncated or corrupt
/// file, or one that is not a fulgur checkpoint (a Lightning one is named as such).
Checkpoint read_checkpoint(const std::string& path);
/// Reads any checkpoint that holds a model: a dictionary with a "state_dict" of weights, as
/// fulgur and Lightning write them (what load_from_checkpoint needs).
Checkpoint read_model_checkpoint(const std::string& path);

}  // namespace fulgur
