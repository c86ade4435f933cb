// The ddp strategy plugin (see include/fulgur/strategies/ddp.h).
#include "fulgur/strategies/ddp.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>

#include <spdlog/spdlog.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef FULGUR_WITH_NCCL  // set by CMake when FULGUR_NCCL_INCLUDE_DIR names nccl.h's folder
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "fulgur/error.h"
#include "fulgur/plugin_export.h"
#include "fulgur/random_id.h"
#include "fulgur/strategy.h"
#include "fulgur/trainer.h"
#include "bucket_reducer.h"
#include "launcher.h"
#include "process_group_backend.h"

namespace fulgur::strategies {
namespace {

class DDP : public Plugin, public Strategy {
 public:
  explicit DDP(DDPOptions options) : options_(options) {
    if (!(options_.timeout() > 0)) throw PluginError("plugin 'ddp': option 'timeout' must be > 0 seconds");
    if (!(options_.bucket_mb() > 0)) throw PluginError("plugin 'ddp': option 'bucket_mb' must be > 0");
    nccl_ = choose_nccl();
    const int64_t expected = options_.devices() * options_.num_nodes();
    if (auto launched = launcher_environment()) {
      where_ = *launched;
      if (where_.world_size != expected) {
        throw Error("ddp: the launcher's world size is " + std::to_string(where_.world_size) +
                    " but devices x num_nodes is " + std::to_string(options_.devices()) + " x " +
                    std::to_string(options_.num_nodes()) + " = " + std::to_string(expected));
      }
    } else {
      if (options_.num_nodes() > 1) {
        throw Error("ddp: num_nodes=" + std::to_string(options_.num_nodes()) +
                    " needs a launcher on every machine "
                    "(torchrun-style MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, NODE_RANK, or SLURM)");
      }
      where_.world_size = expected;
      where_.port = env("MASTER_PORT") ? port_from(*env("MASTER_PORT")) : free_port();
      // The store is bound before any rank is started: when the port is taken (another job
      // given the same MASTER_PORT) this job fails here, before it starts a rank that would
      // join the other job's store.
      open_store();
      // This process becomes rank 0; later Trainers of this program join the same world. The
      // ranks it starts carry the job's id, so each can tell its own job's store from another's.
      ::setenv("MASTER_ADDR", where_.master_addr.c_str(), 1);
      ::setenv("MASTER_PORT", std::to_string(where_.port).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(where_.world_size).c_str(), 1);
      ::setenv("NODE_RANK", "0", 1);
      ::setenv(kJobIdVariable, job_id_.c_str(), 1);
      children_.start(where_, options_.timeout());
      ::setenv("RANK", "0", 1);
      ::setenv("LOCAL_RANK", "0", 1);
    }
    join();
  }

  std::string name() const override { return "ddp"; }
  int64_t global_rank() const override { return where_.rank; }
  int64_t local_rank() const override { return where_.local_rank; }
  int64_t world_size() const override { return where_.world_size; }

  void attach(HookBus& bus) override {
    // Every rank starts from rank 0's weights, as DistributedDataParallel does.
    connect(
        bus.on_fit_start,
        [this](RunHook& hook) {
          torch::NoGradGuard no_grad;
          interrupt_reported_ = false;
          flag_exchanges_ = 0;
          agreed_save_requests_ = save_requests_sent_ = save_requests_reported_ = 0;
          verify_same_options(training_options(hook.trainer));
          verify_same_model(*hook.trainer.module());
          for (auto& parameter : hook.trainer.module()->parameters()) broadcast(parameter, 0);
          for (auto& buffer : hook.trainer.module()->buffers()) broadcast(buffer, 0);
        },
        SlotGroup::Strategy);
    connect(
        bus.on_train_start, [this](RunHook& hook) { start_overlap(hook.trainer); }, SlotGroup::Strategy);
    connect(
        bus.on_train_epoch_start, [this](EpochHook&) { check_job_failed(); }, SlotGroup::Strategy);
    connect(
        bus.on_train_batch_start,
        [this](BatchStartHook& hook) {
          if (!overlapped_) return;
          const Trainer& trainer = hook.trainer;
          // The kernel steps at the end of each accumulation window and at the epoch's last batch.
          const bool window_ends = (hook.batch_idx + 1) % trainer.accumulate_grad_batches() == 0 ||
                                   hook.batch_idx + 1 == trainer.num_training_batches();
          overlapped_->begin_micro_batch(window_ends);
        },
        SlotGroup::Strategy);
    connect(
        bus.on_before_optimizer_step, [this](OptimizerHook& hook) { average_gradients(hook.optimizer); },
        SlotGroup::Strategy);
    connect(
        bus.on_train_end,
        [this](RunHook&) {
          if (overlapped_) {
            spdlog::info(
                "ddp: rank {}: gradients in {} bucket(s); {} started their all-reduce during the last step's "
                "backward",
                where_.rank, overlapped_->buckets(), overlapped_->started_in_backward());
          }
          release_reducers();
        },
        SlotGroup::Strategy);
    connect(
        bus.on_exception,
        [this](ExceptionHook&) {
          release_reducers();
          children_.mark_failed();
        },
        SlotGroup::Strategy);
  }

  void all_reduce(at::Tensor& tensor, ReduceOp op) override {
    on_host(tensor, [&](at::Tensor& host) {
      std::vector<at::Tensor> tensors{host};
      c10d::AllreduceOptions reduce;
      reduce.reduceOp = op == ReduceOp::Max   ? c10d::ReduceOp::MAX
                        : op == ReduceOp::Min ? c10d::ReduceOp::MIN
                                              : c10d::ReduceOp::SUM;
      wait(group_->allreduce(tensors, reduce), "all_reduce");
      if (op == ReduceOp::Mean) host.div_(static_cast<double>(where_.world_size));
    });
  }

  std::vector<at::Tensor> all_gather(const at::Tensor& tensor) override {
    // Gloo gathers host tensors; NCCL gathers on the device.
    const bool on_device = !tensor.device().is_cpu() && nccl_;
    std::vector<at::Tensor> inputs{on_device ? tensor.contiguous() : tensor.to(torch::kCPU).contiguous()};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int64_t rank = 0; rank < where_.world_size; ++rank) outputs[0].push_back(at::empty_like(inputs[0]));
    wait(group_->allgather(outputs, inputs), "all_gather");
    std::vector<at::Tensor> gathered;
    for (auto& part : outputs[0]) gathered.push_back(part.to(tensor.device()));
    return gathered;
  }

  void broadcast(at::Tensor& tensor, int64_t root) override {
    on_host(tensor, [&](at::Tensor& host) {
      std::vector<at::Tensor> tensors{host};
      c10d::BroadcastOptions options;
      options.rootRank = static_cast<int>(root);
      wait(group_->broadcast(tensors, options), "broadcast");
    });
  }

  void barrier(const std::string& where) override { wait(group_->barrier(), "barrier " + where); }

  // The flag rides on the last bucket of the next gradient all-reduce (see average_gradients):
  // no collective of its own, and every rank learns it after the same step.
  bool agreed_interrupt() override { return interrupt_reported_; }
  int64_t agreed_save_requests() override { return agreed_save_requests_; }
  // NCCL's collectives run on the calling thread's streams; Gloo's on threads of its own.
  bool collectives_allow_inference_mode() const override { return nccl_; }

 private:
  bool choose_nccl() const {
    const auto& backend = options_.backend();
    if (backend != "auto" && backend != "gloo" && backend != "nccl") {
      throw PluginError("plugin 'ddp': option 'backend' expects auto, gloo or nccl, got '" + backend + "'");
    }
#ifdef FULGUR_WITH_NCCL
    // NCCL wants a GPU of its own for every process of a machine; ranks that share one use Gloo.
    const bool cuda = torch::cuda::is_available() && options_.accelerator() != "cpu";
    const auto gpus = cuda ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
    if (backend == "nccl" && gpus < options_.devices()) {
      throw Error(
          "ddp: backend 'nccl' needs one CUDA device per process: devices=" + std::to_string(options_.devices()) +
          " but this machine has " + std::to_string(gpus) + " (backend 'gloo' can share them)");
    }
    return backend == "nccl" || (backend == "auto" && cuda && gpus >= options_.devices());
#else
    if (backend == "nccl") {
      throw Error(
          "ddp: backend 'nccl' needs a LibTorch built with CUDA and fulgur built with FULGUR_NCCL_INCLUDE_DIR; "
          "this build has Gloo only");
    }
    return false;
#endif
  }

  // Rank 0 serves the rendezvous store (c10d's TCPStore) on MASTER_PORT; the others connect.
  // Rank 0 writes the job's id there first.
  void open_store() {
    if (store_) return;
    const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options_.timeout() * 1000));
    try {
      c10d::TCPStoreOptions store_options;
      store_options.port = static_cast<uint16_t>(where_.port);
      store_options.isServer = where_.rank == 0;
      store_options.numWorkers = static_cast<std::size_t>(where_.world_size);
      store_options.waitWorkers = false;
      store_options.timeout = timeout;
      store_ = c10::make_intrusive<c10d::TCPStore>(where_.master_addr, store_options);
      if (where_.rank == 0) {
        job_id_ = env(kJobIdVariable).value_or("");
        if (job_id_.empty()) job_id_ = random_id();
        set_text(kJobIdKey, job_id_);
      }
    } catch (const std::exception& error) {
      children_.mark_failed();
      throw Error("ddp: rank " + std::to_string(where_.rank) + " of " + std::to_string(where_.world_size) +
                  " could not " + (where_.rank == 0 ? "serve" : "reach") + " the rendezvous store at " + address() +
                  " within " + seconds(options_.timeout()) + " s (" +
                  (where_.rank == 0 ? "the port is in use: another job on this machine may have the same MASTER_PORT; "
                                      "give each job its own"
                                    : "a wrong address or port, or rank 0 never started") +
                  "): " + first_line(error.what()));
    }
  }

  // Which job this process belongs to, checked against the store before any collective: a rank
  // another job started (two jobs given the same MASTER_PORT) is refused by name, and a rank
  // number claimed twice fails the whole job.
  void check_identity() {
    if (where_.rank != 0) {
      const std::string stored = get_text(kJobIdKey);
      const std::string mine = env(kJobIdVariable).value_or("");
      if (!mine.empty() && mine != stored) {
        throw Error("ddp: rank " + std::to_string(where_.rank) + " belongs to job " + mine + ", but the store at " +
                    address() + " belongs to job " + stored +
                    ": another job uses MASTER_PORT=" + std::to_string(where_.port) +
                    " on this machine; give each job its own port. This rank does not join");
      }
      job_id_ = stored;
    }
    const int64_t claims = store_->add(key("rank/" + std::to_string(where_.rank)), 1);
    if (claims != 1) {
      const std::string why =
          "rank " + std::to_string(where_.rank) + " of job " + job_id_ + " at " + address() + " was claimed by " +
          std::to_string(claims) +
          " processes: two jobs were given the same MASTER_PORT, or a launcher started a rank twice";
      set_text(key("failed"), why);
      throw Error("ddp: " + why + "; the job stops");
    }
  }

  // A failure another process recorded in the store (a rank claimed twice) stops this job too.
  void check_job_failed() {
    if (!store_ || !store_->check({key("failed")})) return;
    children_.mark_failed();
    throw Error("ddp: rank " + std::to_string(where_.rank) + ": the job cannot go on: " + get_text(key("failed")));
  }

  void join() {
    const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options_.timeout() * 1000));
    open_store();
    try {
      check_identity();
      auto store = store_;
#ifdef FULGUR_WITH_NCCL
      if (nccl_) {
        auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
        nccl_options->timeout = timeout;
        group_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, static_cast<int>(where_.rank),
                                                             static_cast<int>(where_.world_size), nccl_options);
      }
#endif
      auto group_options = c10d::ProcessGroupGloo::Options::create(timeout);
      const bool loopback = where_.master_addr == "127.0.0.1" || where_.master_addr == "localhost";
      group_options->devices.push_back(loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                                : c10d::ProcessGroupGloo::createDefaultDevice());
      if (!nccl_) {
        group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(where_.rank),
                                                             static_cast<int>(where_.world_size), group_options);
      }
      if (!nccl_) barrier("at start-up");  // NCCL's barrier needs a device; its first collective joins
      check_job_failed();
    } catch (const Error&) {
      children_.mark_failed();
      throw;
    } catch (const std::exception& error) {
      children_.mark_failed();
      throw Error("ddp: rank " + std::to_string(where_.rank) + " of " + std::to_string(where_.world_size) +
                  " could not join the process group at " + address() + " within " + seconds(options_.timeout()) +
                  " s (a port in use, a wrong address, or a rank that never started): " + first_line(error.what()));
    }
    spdlog::info("ddp: rank {} of {} joined job {} at {} ({})", where_.rank, where_.world_size, job_id_, address(),
                 nccl_ ? "nccl" : "gloo");
  }

  std::string address() const { return where_.master_addr + ":" + std::to_string(where_.port); }
  std::string key(const std::string& name) const { return "fulgur/" + job_id_ + "/" + name; }
  void set_text(const std::string& name, const std::string& text) {
    store_->set(name, std::vector<uint8_t>(text.begin(), text.end()));
  }
  std::string get_text(const std::string& name) {
    const auto bytes = store_->get(name);
    return std::string(bytes.begin(), bytes.end());
  }

  // The options that decide what a rank trains on, as text: every rank must run with rank 0's.
  static std::string training_options(const Trainer& trainer) {
    const auto& o = trainer.options();
    std::ostringstream text;
    text << "max_epochs=" << (o.max_epochs() ? std::to_string(*o.max_epochs()) : "unset")
         << " max_steps=" << o.max_steps() << " accumulate_grad_batches=" << o.accumulate_grad_batches()
         << " seed=" << (o.seed() ? std::to_string(*o.seed()) : "unset") << " precision=" << o.precision()
         << " gradient_clip_val=" << (o.gradient_clip_val() ? std::to_string(*o.gradient_clip_val()) : "unset")
         << " limit_train_batches=" << o.limit_train_batches().to_string() << " deterministic=" << o.deterministic();
    return text.str();
  }

  // Rank 0's text to every rank; each compares it with its own, and all fail together when one differs.
  void verify_same_options(const std::string& mine) {
    auto length = torch::tensor({static_cast<int64_t>(mine.size())}, torch::kLong);
    broadcast(length, 0);
    auto theirs = where_.rank == 0 ? torch::from_blob(const_cast<char*>(mine.data()),
                                                      {static_cast<int64_t>(mine.size())}, torch::kChar)
                                         .clone()
                                   : torch::zeros({length.item<int64_t>()}, torch::kChar);
    if (theirs.numel() > 0) broadcast(theirs, 0);
    const std::string rank0(static_cast<const char*>(theirs.data_ptr()), static_cast<std::size_t>(theirs.numel()));
    auto differing = torch::tensor({rank0 == mine ? 0L : static_cast<int64_t>(where_.rank + 1)}, torch::kLong);
    all_reduce(differing, ReduceOp::Max);
    const int64_t rank = differing.item<int64_t>() - 1;
    if (rank < 0) return;
    children_.mark_failed();
    if (rank0 != mine) {
      throw Error("ddp: rank " + std::to_string(where_.rank) + " of job " + job_id_ + " runs with " + mine +
                  " but rank 0 with " + rank0 +
                  "; every rank of a job must run with the same options (a process of "
                  "another job given the same MASTER_PORT?)");
    }
    throw Error("ddp: rank " + std::to_string(rank) + " of job " + job_id_ +
                " runs with other options than rank 0 (that rank's error names them)");
  }

  // Every rank must hold the same parameters and buffers before rank 0's are broadcast: a
  // broadcast of tensors of different sizes aborts inside Gloo. PyTorch's DDP checks the same.
  // Rank 0's list (a name hash, dtype and shape per tensor) goes to all; each rank compares,
  // names its first difference, and all agree to fail together.
  void verify_same_model(torch::nn::Module& module) {
    std::vector<std::string> names;
    std::vector<int64_t> signature;  // per tensor: name hash, dtype, dims, sizes...
    auto add = [&](const std::string& name, const at::Tensor& tensor) {
      names.push_back(name);
      uint64_t hash = 1469598103934665603ull;  // FNV-1a: the same number in every build
      for (const char c : name) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
      signature.push_back(static_cast<int64_t>(hash >> 2));
      signature.push_back(static_cast<int64_t>(tensor.scalar_type()));
      signature.push_back(tensor.dim());
      for (const auto size : tensor.sizes()) signature.push_back(size);
    };
    for (const auto& item : module.named_parameters()) add(item.key(), item.value());
    for (const auto& item : module.named_buffers()) add(item.key(), item.value());

    auto length = torch::tensor({static_cast<int64_t>(signature.size())}, torch::kLong);
    broadcast(length, 0);
    auto theirs = where_.rank == 0 ? torch::tensor(signature, torch::kLong)
                                   : torch::zeros({length.item<int64_t>()}, torch::kLong);
    if (theirs.numel() > 0) broadcast(theirs, 0);
    const std::string difference = describe_difference(names, signature, theirs);
    auto first_rank_differing =
        torch::tensor({difference.empty() ? 0L : static_cast<int64_t>(where_.rank + 1)}, torch::kLong);
    all_reduce(first_rank_differing, ReduceOp::Max);
    const int64_t differing = first_rank_differing.item<int64_t>() - 1;
    if (differing < 0) return;
    children_.mark_failed();
    if (!difference.empty()) {
      throw Error("ddp: rank " + std::to_string(where_.rank) + "'s model differs from rank 0's: " + difference +
                  "; every rank must build the same model (same options and code)");
    }
    throw Error(
        "ddp: rank " + std::to_string(differing) + "'s model differs from rank " + std::to_string(where_.rank) +
        "'s (that rank's error names the tensor); every rank must build the same model (same options and code)");
  }

  // "" when rank 0's signature equals ours, else what differs first, in words.
  static std::string describe_difference(const std::vector<std::string>& names, const std::vector<int64_t>& ours,
                                         const at::Tensor& rank0) {
    const auto* theirs = rank0.data_ptr<int64_t>();
    const auto count = static_cast<std::size_t>(rank0.numel());
    auto shape = [](const int64_t* values, std::size_t at, std::size_t end) {
      std::string text = "[";
      const std::size_t dims = at + 2 < end ? static_cast<std::size_t>(std::max<int64_t>(0, values[at + 2])) : 0;
      for (std::size_t d = 0; d < dims && at + 3 + d < end; ++d)
        text += (d ? ", " : "") + std::to_string(values[at + 3 + d]);
      return text + "]";
    };
    std::size_t a = 0, b = 0;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (b + 3 > count) return "it has more tensors than rank 0's (from '" + names[i] + "' on)";
      const std::size_t dims = static_cast<std::size_t>(ours[a + 2]);
      const std::size_t their_dims = static_cast<std::size_t>(std::max<int64_t>(0, theirs[b + 2]));
      if (ours[a] != theirs[b])
        return "tensor " + std::to_string(i) + " is '" + names[i] + "' here but another on rank 0";
      if (ours[a + 1] != theirs[b + 1]) {
        return "'" + names[i] + "' is " + c10::toString(static_cast<c10::ScalarType>(ours[a + 1])) + " here but " +
               c10::toString(static_cast<c10::ScalarType>(theirs[b + 1])) + " on rank 0";
      }
      const bool same_shape = dims == their_dims && b + 3 + their_dims <= count &&
                              std::equal(ours.begin() + static_cast<std::ptrdiff_t>(a + 3),
                                         ours.begin() + static_cast<std::ptrdiff_t>(a + 3 + dims), theirs + b + 3);
      if (!same_shape) {
        return "'" + names[i] + "' has shape " + shape(ours.data(), a, ours.size()) + " here but " +
               shape(theirs, b, count) + " on rank 0";
      }
      a += 3 + dims;
      b += 3 + their_dims;
    }
    if (b != count) return "it has fewer tensors than rank 0's";
    return "";
  }

  // Automatic optimization of one optimizer reduces gradients while backward runs (option
  // overlap, on by default); otherwise each optimizer's gradients are reduced at its step, where
  // the Module decides when backward is over.
  void start_overlap(Trainer& trainer) {
    release_reducers();
    if (where_.world_size == 1 || !options_.overlap() || !trainer.module() ||
        !trainer.module()->automatic_optimization() || trainer.optimizers().size() != 1) {
      return;
    }
    auto& optimizer = *trainer.optimizers().front();
    overlapped_ = &make_reducer(optimizer, /*during_backward=*/true);
  }

  strategies::BucketReducer& make_reducer(torch::optim::Optimizer& optimizer, bool during_backward) {
    std::vector<at::Tensor> parameters;
    for (auto& group : optimizer.param_groups()) {
      for (auto& parameter : group.params()) parameters.push_back(parameter);
    }
    const auto bucket_bytes = static_cast<int64_t>(options_.bucket_mb() * 1024 * 1024);
    auto reducer = std::make_unique<strategies::BucketReducer>(
        parameters, bucket_bytes,
        [this](at::Tensor& flat) {
          // Gloo reduces host memory; NCCL takes device tensors as they are.
          if (!flat.device().is_cpu() && !nccl_) flat = flat.to(torch::kCPU);
          std::vector<at::Tensor> tensors{flat};
          return group_->allreduce(tensors);
        },
        [this] {
          // A checkpoint request is reported until an exchange carrying it has been read.
          save_requests_sent_ = save_requests_received();
          return strategies::BucketReducer::Flags{interrupt_received() != 0 ? 1.0 : 0.0,
                                                  save_requests_sent_ > save_requests_reported_ ? 1.0 : 0.0};
        },
        during_backward);
    return *(reducers_[&optimizer] = std::move(reducer));
  }

  void release_reducers() {
    overlapped_ = nullptr;
    reducers_.clear();  // the hooks leave the parameters with them
  }

  // Gradients averaged over the ranks, a bucket of about bucket_mb at a time (one collective per
  // bucket): those backward started are waited for, the rest start now. The last bucket also
  // carries this rank's flags (see agreed_interrupt, agreed_save_requests).
  void average_gradients(torch::optim::Optimizer& optimizer) {
    if (where_.world_size == 1) return;
    strategies::BucketReducer* reducer = nullptr;
    if (const auto found = reducers_.find(&optimizer); found != reducers_.end()) {
      reducer = found->second.get();
    } else {
      reducer = &make_reducer(optimizer, /*during_backward=*/false);
    }
    if (reducer != overlapped_) reducer->begin_micro_batch(true);
    const at::Tensor flag = reducer->finish(
        where_.world_size, [this](const c10::intrusive_ptr<c10d::Work>& work) { wait(work, "gradient all_reduce"); });
    // Reading the flag is free on the host; on a GPU it would wait for the device every step, so
    // there every kDeviceFlagReadEvery-th exchange is read (the same ones on every rank: the
    // signal stays set, so it is in each exchange until read).
    if (flag.defined() && (flag.is_cpu() || ++flag_exchanges_ % kDeviceFlagReadEvery == 0)) {
      const at::Tensor flags = flag.to(torch::kCPU, torch::kDouble);
      if (flags[0].item<double>() > 0) interrupt_reported_ = true;
      if (flags[1].item<double>() > 0) {
        ++agreed_save_requests_;
        save_requests_reported_ = save_requests_sent_;
      }
    }
  }

  // Gloo reduces host memory; a CUDA tensor travels through a host copy. NCCL takes it as it is.
  template <typename Body>
  void on_host(at::Tensor& tensor, Body&& body) {
    if (!tensor.device().is_cpu() && !nccl_) {
      at::Tensor host = tensor.to(torch::kCPU).contiguous();
      body(host);
      tensor.copy_(host);
      return;
    }
    if (tensor.is_contiguous()) {
      body(tensor);
      return;
    }
    at::Tensor host = tensor.contiguous();
    body(host);
    tensor.copy_(host);
  }

  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
    try {
      work->wait();
    } catch (const std::exception& error) {
      children_.mark_failed();
      throw Error("ddp: rank " + std::to_string(where_.rank) + ": " + what +
                  " failed: another rank died, failed or did not answer within " + seconds(options_.timeout()) +
                  " s: " + first_line(error.what()));
    }
  }

  static std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }
  static std::string seconds(double value) {
    std::ostringstream text;
    text << value;
    return text.str();
  }

  DDPOptions options_;
  // During fit: each optimizer's buckets; overlapped_ is the one whose all-reduce starts in backward.
  std::map<const torch::optim::Optimizer*, std::unique_ptr<strategies::BucketReducer>> reducers_;
  strategies::BucketReducer* overlapped_ = nullptr;
  bool nccl_ = false;
  static constexpr int64_t kDeviceFlagReadEvery = 32;
  bool interrupt_reported_ = false;  // some rank had, by the last gradient all-reduce read
  int64_t flag_exchanges_ = 0;
  int64_t agreed_save_requests_ = 0;    // exchanges read in which some rank reported a SIGUSR1
  int64_t save_requests_sent_ = 0;      // this rank's SIGUSR1 count in its last exchange
  int64_t save_requests_reported_ = 0;  // ... in the last exchange that was read
  RankEnvironment where_;
  std::string job_id_;       // rank 0's random id, in the store and in the environment of the ranks it starts
  ChildProcesses children_;  // declared before the group: waited for after it is gone
  c10::intrusive_ptr<c10d::TCPStore> store_;
  c10::intrusive_ptr<compat::ProcessGroupBackend> group_;
  static constexpr const char* kJobIdVariable = "FULGUR_DDP_JOB_ID";
  static constexpr const char* kJobIdKey = "fulgur/job_id";
};

std::unique_ptr<Plugin> make_ddp(const PluginOptions& options) {
  return std::make_unique<DDP>(DDPOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::strategies

FULGUR_EXPORT_PLUGIN(fulgur::strategies::make_ddp)
