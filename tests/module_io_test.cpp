// Models in and out: typed hyper-parameters, load_from_checkpoint, save_checkpoint after fit,
// weights to and from Python (.pt and .safetensors), and the rest of the LightningModule API.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fulgur/checkpoint.h"
#include "fulgur/hparams.h"
#include "fulgur/load_from_checkpoint.h"
#include "fulgur/lr_schedulers.h"
#include "fulgur/state_dict.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

// A model built from its hyper-parameters, as load_from_checkpoint needs.
class Net : public Module {
 public:
  explicit Net(const HParams& hparams) {
    save_hyperparameters(hparams);
    const auto width = hparams.get<int64_t>("hidden");
    hidden = register_module("hidden", torch::nn::Linear(4, width));
    output = register_module("output", torch::nn::Linear(width, 2));
    lr = hparams.get<double>("lr");
  }
  torch::Tensor forward(const torch::Tensor& x) { return output(torch::relu(hidden(x))); }
  torch::Tensor training_step(const Batch& batch, int64_t) override {
    auto loss = torch::nn::functional::cross_entropy(forward(batch[0]), batch[1]);
    log("train_loss", loss);
    return loss;
  }
  torch::Tensor test_step(const Batch& batch, int64_t) override {
    log("test_acc", (forward(batch[0]).argmax(1) == batch[1]).to(torch::kFloat).mean());
    return {};
  }
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(lr));
  }
  void on_save_checkpoint(Checkpoint& checkpoint) override { checkpoint.insert_or_assign("net_note", note); }
  void on_load_checkpoint(Checkpoint& checkpoint) override {
    if (checkpoint.contains("net_note")) restored_note = checkpoint.at("net_note").toStringRef();
  }

  torch::nn::Linear hidden{nullptr}, output{nullptr};
  double lr = 0;
  std::string note = "kept by on_save_checkpoint";
  std::string restored_note;
};

TrainerOptions quiet(int64_t epochs, const std::string& root) {
  TrainerOptions options;
  options.max_epochs(epochs);
  options.accelerator("cpu");
  options.default_root_dir(root);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  return options;
}

std::string run_python(const std::string& dir, const std::string& script, const std::string& arguments) {
  std::ofstream(dir + "/script.py") << script;
  const std::string out = dir + "/python.txt";
  const int status =
      std::system(("/usr/bin/python3 " + dir + "/script.py " + arguments + " > " + out + " 2>&1").c_str());
  std::ifstream file(out);
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(status, 0) << text;
  return text;
}

// --- hyper-parameters ----------------------------------------------------------------------------

TEST(HParams, ValuesKeepTheirTypesAndErrorsNameTheKey) {
  const HParams hparams{{"lr", 1e-7},    {"hidden", 128}, {"layers", {64, 32}},
                        {"act", "relu"}, {"flag", true},  {"opt", HParams{{"beta", 0.9}}}};
  EXPECT_EQ(hparams.get<double>("lr"), 1e-7);
  EXPECT_EQ(hparams.get<int64_t>("hidden"), 128);
  EXPECT_EQ(hparams.get<double>("hidden"), 128.0);  // an int reads as a double, as in Python
  EXPECT_EQ(hparams.get<std::vector<int64_t>>("layers"), (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(hparams.get<std::string>("act"), "relu");
  EXPECT_TRUE(hparams.get<bool>("flag"));
  EXPECT_EQ(hparams.get<HParams>("opt").get<double>("beta"), 0.9);
  EXPECT_EQ(hparams.get<int64_t>("missing", 7), 7);
  EXPECT_EQ(hparams.at("hidden").kind(), HParamValue::Kind::Int);
  EXPECT_EQ(hparams.at("lr").kind(), HParamValue::Kind::Double);

  auto message = error_of([&] { hparams.get<double>("lrr"); });
  EXPECT_NE(message.find("no hyper-parameter 'lrr'; saved are: act, flag, hidden, layers, lr, opt"), std::string::npos)
      << message;
  message = error_of([&] { hparams.get<int64_t>("lr"); });
  EXPECT_NE(message.find("hyper-parameter 'lr': asked for an integer but it holds the double 1.0e-07"),
            std::string::npos)
      << message;
  message = error_of([&] { hparams.get<double>("act"); });
  EXPECT_NE(message.find("hyper-parameter 'act': asked for a number but it holds the string \"relu\""),
            std::string::npos)
      << message;
}

// The bug this type fixes: std::to_string(1e-7) is "0.000000", and a model rebuilt from it
// trained with lr = 0 without a word.
TEST(HParams, ATinyLearningRateSurvivesTheCheckpointBitForBit) {
  const auto dir = testing::temp_dir("tiny_lr");
  auto data = testing::make_blobs(16);
  auto loader = testing::make_loader(data, 8);
  Net model({{"hidden", 8}, {"lr", 1e-7}});
  Trainer trainer(quiet(1, dir));
  trainer.fit(model, loader);
  trainer.save_checkpoint(dir + "/tiny.ckpt");
  const auto restored = load_from_checkpoint<Net>(dir + "/tiny.ckpt");
  EXPECT_EQ(restored->lr, 1e-7);
  const auto saved = read_checkpoint(dir + "/tiny.ckpt").at("hyper_parameters").toGenericDict();
  EXPECT_TRUE(saved.at("lr").isDouble());
  EXPECT_TRUE(saved.at("hidden").isInt());
}

// hparams.yaml (YAML's own reader) and the checkpoint (Python's torch.load) both give Python the
// values with their types.
TEST(HParams, YamlAndTorchLoadSeeTheTypedValues) {
  const auto dir = testing::temp_dir("hparams_types");
  struct Typed : testing::TinyClassifier {
    Typed() {
      save_hyperparameters({{"lr", 1e-7},
                            {"hidden", 128},
                            {"layers", {64, 32}},
                            {"act", "relu"},
                            {"note", "a: b # c"},
                            {"answer", "yes"},
                            {"number_text", "0.010000"},
                            {"flag", true},
                            {"nothing", HParamValue()},
                            {"third", 1.0 / 3.0},
                            {"whole", 3.0},
                            {"nested", HParams{{"beta", 0.9}, {"name", "adam"}}}});
    }
  };
  Typed model;
  auto data = testing::make_blobs(8);
  auto loader = testing::make_loader(data, 4);
  auto options = quiet(1, dir);
  options.plugins().push_back(PluginSpec{"csv_logger", {}});
  Trainer trainer(options);
  trainer.fit(model, loader);
  trainer.save_checkpoint(dir + "/typed.ckpt");
  const std::string script =
      "import sys, torch, yaml\n"
      "expected = {'lr': 1e-7, 'hidden': 128, 'layers': [64, 32], 'act': 'relu', 'note': 'a: b # c',\n"
      "            'answer': 'yes', 'number_text': '0.010000', 'flag': True, 'nothing': None, 'third': 1.0 / 3.0,\n"
      "            'whole': 3.0, 'nested': {'beta': 0.9, 'name': 'adam'}}\n"
      "def same(a, b):\n"
      "    if type(a) is not type(b): return False\n"
      "    if isinstance(a, dict): return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)\n"
      "    if isinstance(a, list): return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))\n"
      "    return a == b\n"
      "from_yaml = yaml.safe_load(open(sys.argv[1]))\n"
      "from_ckpt = torch.load(sys.argv[2])['hyper_parameters']\n"
      "assert same(from_yaml, expected), from_yaml\n"
      "assert same(dict(from_ckpt), expected), from_ckpt\n"
      "print('typed ok')\n";
  const auto output = run_python(dir, script, dir + "/lightning_logs/version_0/hparams.yaml " + dir + "/typed.ckpt");
  EXPECT_NE(output.find("typed ok"), std::string::npos) << output;
}

// --- load_from_checkpoint ---------------------------------------------------------------------------

struct Trained {
  std::string dir;
  testing::Blobs data = testing::make_blobs(32);
  TensorDataLoader loader = testing::make_loader(data, 8);
  torch::Tensor outputs;  // the trained model's outputs on data.x
  explicit Trained(const std::string& name) : dir(testing::temp_dir(name)) {
    torch::manual_seed(3);
    Net model({{"hidden", 8}, {"lr", 0.1}});
    Trainer trainer(quiet(3, dir));
    trainer.fit(model, loader);
    trainer.save_checkpoint(dir + "/after_fit.ckpt");
    model.eval();
    outputs = model.forward(data.x).detach();
  }
};

TEST(LoadFromCheckpoint, BuildsTheModuleFromItsHyperparametersInEvalMode) {
  Trained trained("load_basic");
  const auto model = load_from_checkpoint<Net>(trained.dir + "/after_fit.ckpt");
  EXPECT_FALSE(model->is_training());
  EXPECT_EQ(model->hparams(), (HParams{{"hidden", 8}, {"lr", 0.1}}));
  EXPECT_TRUE(torch::equal(model->forward(trained.data.x), trained.outputs));
  EXPECT_EQ(model->restored_note, "kept by on_save_checkpoint");

  const auto changed =
      load_from_checkpoint<Net>(trained.dir + "/after_fit.ckpt", {{"lr", 0.5}}, torch::Device(torch::kCPU));
  EXPECT_EQ(changed->lr, 0.5);
  EXPECT_TRUE(torch::equal(changed->forward(trained.data.x), trained.outputs));
}

TEST(LoadFromCheckpoint, AModelThatDoesNotFitIsNamed) {
  Trained trained("load_wrong");
  const std::string path = trained.dir + "/after_fit.ckpt";
  auto message = error_of([&] { load_from_checkpoint<Net>(path, {{"hidden", 16}}); });
  EXPECT_NE(message.find("'hidden.weight' has shape [8, 4] in the file but [16, 4] in the model"), std::string::npos)
      << message;

  struct Other : Module {
    explicit Other(const HParams& hparams) {
      body = register_module("body", torch::nn::Linear(4, hparams.get<int64_t>("hidden")));
    }
    torch::Tensor training_step(const Batch&, int64_t) override { return {}; }
    OptimizerConfig configure_optimizers() override { return {}; }
    torch::nn::Linear body{nullptr};
  };
  message = error_of([&] { load_from_checkpoint<Other>(path); });
  EXPECT_NE(message.find("missing (in the model, not in the file): 'body.weight', 'body.bias'"), std::string::npos)
      << message;
  EXPECT_NE(message.find("unexpected (in the file, not in the model): 'hidden.bias'"), std::string::npos) << message;
  EXPECT_NE(message.find("(it was saved from a fulgur::(anonymous namespace)::Net"), std::string::npos) << message;

  struct NeedsDepth : Net {
    explicit NeedsDepth(const HParams& hparams) : Net(hparams) { hparams.get<int64_t>("depth"); }
  };
  message = error_of([&] { load_from_checkpoint<NeedsDepth>(path); });
  EXPECT_NE(
      message.find("the constructor failed with the saved hyper-parameters {hidden, lr}: no hyper-parameter 'depth'"),
      std::string::npos)
      << message;
}

// Lightning's intro model: built from modules it does not save (save_hyperparameters(ignore=...)),
// which load_from_checkpoint gets again as constructor arguments.
struct LitAutoEncoder : Module {
  LitAutoEncoder(torch::nn::Sequential encoder_, torch::nn::Sequential decoder_,
                 const HParams& hparams = {{"lr", 0.05}})
      : encoder(register_module("encoder", encoder_)), decoder(register_module("decoder", decoder_)) {
    save_hyperparameters(hparams);
  }
  torch::Tensor training_step(const Batch& batch, int64_t) override {
    const auto x = batch[0];
    return torch::mse_loss(decoder->forward(encoder->forward(x)), x);
  }
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), hparams().get<double>("lr"));
  }
  torch::nn::Sequential encoder, decoder;
};

struct WithoutHparams : Module {
  explicit WithoutHparams(torch::nn::Linear layer_) : layer(register_module("layer", layer_)) {}
  torch::Tensor training_step(const Batch& batch, int64_t) override { return layer->forward(batch[0]).pow(2).mean(); }
  OptimizerConfig configure_optimizers() override { return std::make_shared<torch::optim::SGD>(parameters(), 0.1); }
  torch::nn::Linear layer;
};

TEST(LoadFromCheckpoint, ModulesTheModelWasBuiltFromComeAsConstructorArguments) {
  const auto dir = testing::temp_dir("load_autoencoder");
  const auto data = testing::make_blobs(32);
  auto loader = testing::make_loader(data, 8);
  auto make_encoder = [] { return torch::nn::Sequential(torch::nn::Linear(4, 2), torch::nn::ReLU()); };
  auto make_decoder = [] { return torch::nn::Sequential(torch::nn::Linear(2, 4)); };
  torch::manual_seed(1);
  LitAutoEncoder model(make_encoder(), make_decoder(), {{"lr", 0.02}});
  Trainer trainer(quiet(2, dir));
  trainer.fit(model, loader);
  trainer.save_checkpoint(dir + "/ae.ckpt");
  model.eval();
  const auto expected = model.decoder->forward(model.encoder->forward(data.x)).detach();

  // Fresh (untrained) modules, as Lightning's load_from_checkpoint(path, encoder=..., decoder=...).
  const auto loaded =
      load_from_checkpoint<LitAutoEncoder>(dir + "/ae.ckpt", constructor_args(make_encoder(), make_decoder()));
  EXPECT_EQ(loaded->hparams(), (HParams{{"lr", 0.02}}));
  EXPECT_FALSE(loaded->is_training());
  EXPECT_TRUE(torch::allclose(loaded->decoder->forward(loaded->encoder->forward(data.x)), expected));
  const auto overridden = load_from_checkpoint<LitAutoEncoder>(
      dir + "/ae.ckpt", constructor_args(make_encoder(), make_decoder()), {{"lr", 0.5}});
  EXPECT_EQ(overridden->hparams().get<double>("lr"), 0.5);

  // A constructor without hyper-parameters gets the arguments alone.
  WithoutHparams plain(torch::nn::Linear(4, 1));
  Trainer other(quiet(1, dir + "/plain"));
  other.fit(plain, loader);
  other.save_checkpoint(dir + "/plain.ckpt");
  const auto restored =
      load_from_checkpoint<WithoutHparams>(dir + "/plain.ckpt", constructor_args(torch::nn::Linear(4, 1)));
  EXPECT_TRUE(torch::equal(restored->layer->weight, plain.layer->weight));
  // The wrong modules are named like any model that does not fit.
  const auto message = error_of(
      [&] { load_from_checkpoint<WithoutHparams>(dir + "/plain.ckpt", constructor_args(torch::nn::Linear(4, 3))); });
  EXPECT_NE(message.find("'layer.weight' has shape [1, 4] in the file but [3, 4] in the model"), std::string::npos)
      << message;
}

// --- save_checkpoint at any time; test / validate / predict from a checkpoint ----------------------

TEST(SaveCheckpoint, AfterFitHoldsWhatTheModuleAddsLikeTheFilesWrittenDuringFit) {
  Trained trained("save_after_fit");
  const auto after = read_checkpoint(trained.dir + "/after_fit.ckpt");
  const auto during = read_checkpoint(trained.dir + "/checkpoints/epoch=2-step=12.ckpt");
  std::vector<std::string> after_keys, during_keys;
  for (const auto& entry : after) after_keys.push_back(entry.key().toStringRef());
  for (const auto& entry : during) during_keys.push_back(entry.key().toStringRef());
  std::sort(after_keys.begin(), after_keys.end());
  std::sort(during_keys.begin(), during_keys.end());
  EXPECT_EQ(after_keys, during_keys);
  EXPECT_EQ(after.at("net_note").toStringRef(), "kept by on_save_checkpoint");
}

TEST(TrainerCkptPath, TestValidateAndPredictLoadBestLastOrAFile) {
  const auto dir = testing::temp_dir("ckpt_path_eval");
  auto data = testing::make_blobs(32);
  auto loader = testing::make_loader(data, 8);
  torch::manual_seed(3);
  Net model({{"hidden", 8}, {"lr", 0.1}});
  Trainer trainer(quiet(3, dir));
  trainer.fit(model, loader);
  const auto trained = trainer.test(model, loader);
  const auto outputs = model.forward(data.x).detach();
  for (const std::string which : {"best", "last"}) {
    torch::NoGradGuard no_grad;
    for (auto& parameter : model.parameters()) parameter.zero_();
    EXPECT_EQ(trainer.test(model, loader, which), trained) << which;
  }
  for (auto& parameter : model.parameters()) parameter.detach().zero_();
  const auto predictions = trainer.predict(model, loader, dir + "/checkpoints/epoch=2-step=12.ckpt");
  EXPECT_TRUE(torch::allclose(torch::cat(predictions), outputs));  // the default predict_step: forward

  Trainer fresh(quiet(1, dir + "/fresh"));
  EXPECT_NE(error_of([&] { fresh.test(model, loader, "best"); }).find("has saved no checkpoint yet"),
            std::string::npos);
}

// --- weights to and from Python -----------------------------------------------------------------------

// The same two layers in Python; its reader and writer of safetensors follow the format's
// definition when the safetensors package is not installed (Debian has none).
const char* const kPythonWeights = R"PY(
import json, struct, sys, torch
d = sys.argv[1]
try:
    from safetensors.torch import save_file, load_file
except ImportError:
    DT = {'F32': torch.float32, 'F64': torch.float64, 'I64': torch.int64}
    def load_file(path):
        raw = open(path, 'rb').read()
        n = struct.unpack('<Q', raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        out = {}
        for name, info in header.items():
            if name == '__metadata__': continue
            begin, end = info['data_offsets']
            out[name] = torch.frombuffer(bytearray(raw[8 + n + begin:8 + n + end]), dtype=DT[info['dtype']]).reshape(info['shape'])
        return out
    def save_file(tensors, path):
        names = {torch.float32: 'F32', torch.float64: 'F64', torch.int64: 'I64'}
        header, blobs, offset = {}, [], 0
        for name, t in tensors.items():
            data = t.contiguous().numpy().tobytes()
            header[name] = {'dtype': names[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
            blobs.append(data); offset += len(data)
        text = json.dumps(header).encode()
        text += b' ' * ((8 - len(text) % 8) % 8)
        open(path, 'wb').write(struct.pack('<Q', len(text)) + text + b''.join(blobs))

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(4, 8)
        self.output = torch.nn.Linear(8, 2)
    def forward(self, x):
        return self.output(torch.relu(self.hidden(x)))

x = torch.linspace(-2, 2, 12).reshape(3, 4)
for name, state in (('pt', torch.load(d + '/fulgur.pt')), ('safetensors', load_file(d + '/fulgur.safetensors'))):
    net = Net()
    net.load_state_dict(state, strict=True)
    print('fulgur_' + name, ' '.join('%.9g' % v for v in net(x).flatten().tolist()))
torch.manual_seed(5)
net = Net()
torch.save(net.state_dict(), d + '/python.pt')
save_file(net.state_dict(), d + '/python.safetensors')
print('python', ' '.join('%.9g' % v for v in net(x).flatten().tolist()))
)PY";

torch::Tensor numbers_after(const std::string& text, const std::string& label) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(label + " ", 0) != 0) continue;
    std::istringstream values(line.substr(label.size() + 1));
    std::vector<float> numbers;
    for (float value; values >> value;) numbers.push_back(value);
    return torch::tensor(numbers);
  }
  ADD_FAILURE() << "no line '" << label << "' in:\n" << text;
  return torch::zeros({0});
}

TEST(Weights, PythonAndFulgurExchangeWeightsInBothFormatsBothWays) {
  const auto dir = testing::temp_dir("weights_python");
  torch::manual_seed(11);
  Net model({{"hidden", 8}, {"lr", 0.1}});
  save_weights(model, dir + "/fulgur.pt");
  save_weights(model, dir + "/fulgur.safetensors");
  const auto x = torch::linspace(-2, 2, 12).reshape({3, 4});
  const auto ours = model.forward(x).detach().flatten();

  const auto output = run_python(dir, kPythonWeights, dir);
  EXPECT_TRUE(torch::allclose(numbers_after(output, "fulgur_pt"), ours, 1e-6, 1e-6)) << output;
  EXPECT_TRUE(torch::allclose(numbers_after(output, "fulgur_safetensors"), ours, 1e-6, 1e-6)) << output;

  const auto theirs = numbers_after(output, "python");
  for (const char* file : {"/python.pt", "/python.safetensors"}) {
    Net loaded({{"hidden", 8}, {"lr", 0.1}});
    const auto report = load_weights(loaded, dir + file);
    EXPECT_TRUE(report.complete());
    EXPECT_TRUE(torch::allclose(loaded.forward(x).detach().flatten(), theirs, 1e-6, 1e-6)) << file;
  }
}

TEST(Weights, PrefixesRenamesStrictnessAndMismatchesAreNamed) {
  const auto dir = testing::temp_dir("weights_options");
  Net source({{"hidden", 8}, {"lr", 0.1}});
  StateDict wrapped = make_state_dict();
  for (const auto& entry : state_dict(source)) wrapped.insert("model." + entry.key().toStringRef(), entry.value());
  wrapped.insert("model.extra", torch::zeros({3}));

  Net target({{"hidden", 8}, {"lr", 0.1}});
  auto message = error_of([&] { load_state_dict(target, wrapped); });
  EXPECT_NE(message.find("missing (in the model, not in the file): 'hidden.weight', 'hidden.bias', 'output.weight', "
                         "'output.bias'; unexpected (in the file, not in the model): 'model.extra', "),
            std::string::npos)
      << message;
  const auto report = load_state_dict(target, wrapped, LoadOptions().strip_prefix("model.").strict(false));
  EXPECT_EQ(report.unexpected, std::vector<std::string>{"extra"});
  EXPECT_TRUE(report.missing.empty());
  EXPECT_TRUE(torch::equal(target.hidden->weight, source.hidden->weight));

  StateDict renamed = make_state_dict();
  for (const auto& entry : state_dict(source)) {
    const auto key = entry.key().toStringRef();
    renamed.insert(key.rfind("hidden.", 0) == 0 ? "encoder." + key.substr(7) : key, entry.value());
  }
  EXPECT_TRUE(load_state_dict(target, renamed, LoadOptions().rename_prefix("encoder.", "hidden.")).complete());

  StateDict integers = state_dict(source);
  integers.insert_or_assign("output.bias", torch::zeros({2}, torch::kLong));
  message = error_of([&] { load_state_dict(target, integers); });
  EXPECT_NE(message.find("'output.bias' is Long in the file but Float in the model"), std::string::npos) << message;
  // A failed load changes nothing.
  EXPECT_TRUE(torch::equal(target.output->bias, source.output->bias));

  std::ofstream(dir + "/bad.safetensors") << std::string("\x10\0\0\0\0\0\0\0{\"w\": 3}        ", 24);
  message = error_of([&] { read_weights(dir + "/bad.safetensors"); });
  EXPECT_NE(message.find("safetensors file '" + dir + "/bad.safetensors' is malformed"), std::string::npos) << message;
}

TEST(Weights, FreezeAndUnfreeze) {
  Net model({{"hidden", 8}, {"lr", 0.1}});
  model.freeze();
  EXPECT_FALSE(model.is_training());
  for (const auto& parameter : model.parameters()) EXPECT_FALSE(parameter.requires_grad());
  model.unfreeze();
  EXPECT_TRUE(model.is_training());
  for (const auto& parameter : model.parameters()) EXPECT_TRUE(parameter.requires_grad());
}

// --- the LightningModule API ---------------------------------------------------------------------------

TEST(ModuleApi, PropertiesReadInsideAStepMatchTheTrainer) {
  struct Reads : testing::TinyClassifier {
    std::vector<std::vector<int64_t>> seen;
    int64_t estimated = -1;
    torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
      seen.push_back({current_epoch(), global_step(), global_rank(), local_rank(), world_size(),
                      static_cast<int64_t>(loggers().size()), static_cast<int64_t>(lr_schedulers().size())});
      EXPECT_EQ(current_epoch(), trainer().current_epoch());
      EXPECT_EQ(global_step(), trainer().global_step());
      return TinyClassifier::training_step(batch, batch_idx);
    }
    OptimizerConfig configure_optimizers() override {
      estimated = trainer().estimated_stepping_batches();
      return TinyClassifier::configure_optimizers();
    }
  };
  auto data = testing::make_blobs(16);
  auto loader = testing::make_loader(data, 4);  // 4 batches per epoch
  Reads model;
  EXPECT_EQ(model.current_epoch(), 0);  // no Trainer: Lightning's defaults
  auto options = quiet(3, testing::temp_dir("properties"));
  options.accumulate_grad_batches(3);
  options.plugins().push_back(PluginSpec{"jsonl_logger", {}});
  Trainer trainer(options);
  trainer.fit(model, loader);
  EXPECT_EQ(model.estimated, 6);  // ceil(4 / 3) steps per epoch x 3 epochs
  ASSERT_EQ(model.seen.size(), 12u);
  EXPECT_EQ(model.seen[5], (std::vector<int64_t>{1, 2, 0, 0, 1, 1, 0}));

  options.max_steps(5);
  Trainer limited(options);
  Reads again;
  limited.fit(again, loader);
  EXPECT_EQ(again.estimated, 5);
}

TEST(ModuleApi, LogWhereLightningForbidsItIsAnErrorNotLost) {
  struct LogsInSetup : testing::TinyClassifier {
    void setup(Stage) override { log("too_early", 1.0); }
  };
  auto data = testing::make_blobs(8);
  auto loader = testing::make_loader(data, 4);
  LogsInSetup model;
  Trainer trainer(quiet(1, testing::temp_dir("log_in_setup")));
  const auto message = error_of([&] { trainer.fit(model, loader); });
  EXPECT_NE(message.find("log('too_early') in setup: Lightning's rules allow log in the step methods"),
            std::string::npos)
      << message;
}

TEST(ModuleApi, ConfigureCallbacksAndSeveralOptimizersFromABraceList) {
  struct Counting : Plugin {
    int epochs = 0;
    std::string name() const override { return "counting"; }
    void attach(HookBus& bus) override {
      connect(bus.on_train_epoch_end, [this](EpochHook&) { ++epochs; });
    }
  };
  struct TwoOptimizers : testing::TinyClassifier {
    TwoOptimizers() { set_automatic_optimization(false); }
    std::vector<std::unique_ptr<Plugin>> configure_callbacks() override {
      std::vector<std::unique_ptr<Plugin>> plugins;
      plugins.push_back(std::make_unique<Counting>());
      return plugins;
    }
    torch::Tensor training_step(const Batch& batch, int64_t) override {
      auto loss = torch::nn::functional::cross_entropy(forward(batch[0]), batch[1]);
      for (auto& optimizer : optimizers()) optimizer.zero_grad();
      manual_backward(loss);
      for (auto& optimizer : optimizers()) optimizer.step();
      return loss;
    }
    OptimizerConfig configure_optimizers() override {
      auto weights = std::make_shared<torch::optim::SGD>(std::vector<torch::Tensor>{linear->weight},
                                                         torch::optim::SGDOptions(0.1));
      auto bias = std::make_shared<torch::optim::Adam>(std::vector<torch::Tensor>{linear->bias},
                                                       torch::optim::AdamOptions(0.01));
      return {weights, bias};
    }
  };
  auto data = testing::make_blobs(8);
  auto loader = testing::make_loader(data, 4);
  TwoOptimizers model;
  Trainer trainer(quiet(2, testing::temp_dir("callbacks")));
  trainer.fit(model, loader);
  EXPECT_EQ(trainer.optimizers().size(), 2u);
  auto* counting = dynamic_cast<Counting*>(trainer.find_plugin("counting"));
  ASSERT_NE(counting, nullptr);
  EXPECT_EQ(counting->epochs, 2);
}

// Lightning's `return {"loss": loss, "acc": acc}`: the loss drives the step, on_train_batch_end
// receives every value.
TEST(ModuleApi, TrainingStepOutputsReachOnTrainBatchEnd) {
  struct WithOutputs : testing::TinyClassifier {
    std::vector<double> accuracies, losses;
    torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
      auto loss = TinyClassifier::training_step(batch, batch_idx);
      auto acc = (forward(batch[0]).argmax(1) == batch[1]).to(torch::kFloat).mean();
      return outputs({{"loss", loss}, {"acc", acc}});
    }
    void on_train_batch_end(const StepOutput& out, const Batch&, int64_t) override {
      accuracies.push_back(out.at("acc").item<double>());
      losses.push_back(out.loss.item<double>());
    }
  };
  struct NoLoss : testing::TinyClassifier {
    torch::Tensor training_step(const Batch& batch, int64_t) override { return outputs({{"acc", batch[0].sum()}}); }
  };
  auto data = testing::make_blobs(16);
  auto loader = testing::make_loader(data, 4);
  WithOutputs model;
  Trainer trainer(quiet(2, testing::temp_dir("step_outputs")));
  trainer.fit(model, loader);
  ASSERT_EQ(model.accuracies.size(), 8u);
  EXPECT_GT(model.accuracies.back(), 0.5);
  EXPECT_LT(model.losses.back(), model.losses.front());
  StepOutput out;
  out.values["acc"] = torch::ones({});
  EXPECT_NE(error_of([&] { out.at("f1"); }).find("step outputs have no 'f1'; they hold: acc"), std::string::npos);

  NoLoss broken;
  Trainer other(quiet(1, testing::temp_dir("step_outputs_no_loss")));
  EXPECT_NE(error_of([&] { other.fit(broken, loader); }).find("outputs need a 'loss' entry"), std::string::npos);
}

// LibTorch's own StepLR, stepped per epoch by the lr_scheduler plugin, resumes exactly.
TEST(ModuleApi, LibTorchSchedulersAreSteppedAndResume) {
  struct WithStepLR : testing::TinyClassifier {
    OptimizerConfig configure_optimizers() override {
      auto sgd = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(1.0));
      OptimizerConfig config(sgd);
      config.lr_schedulers.push_back(
          {std::make_shared<LibTorchScheduler>(std::make_shared<torch::optim::StepLR>(*sgd, 2, 0.5), *sgd)});
      return config;
    }
  };
  const auto dir = testing::temp_dir("libtorch_steplr");
  auto data = testing::make_blobs(16);
  auto loader = testing::make_loader(data, 4);
  auto lr_of = [](Trainer& trainer) { return trainer.optimizers()[0]->param_groups()[0].options().get_lr(); };
  WithStepLR whole;
  Trainer straight(quiet(5, dir + "/whole"));
  straight.fit(whole, loader);
  EXPECT_DOUBLE_EQ(lr_of(straight), 0.25);  // 5 epoch steps: halved after the 2nd and the 4th

  WithStepLR first;
  Trainer part(quiet(3, dir + "/part"));
  part.fit(first, loader);
  part.save_checkpoint(dir + "/three.ckpt");
  WithStepLR second;
  Trainer rest(quiet(5, dir + "/rest"));
  rest.fit(second, loader, nullptr, dir + "/three.ckpt");
  EXPECT_DOUBLE_EQ(lr_of(rest), 0.25);
}

}  // namespace
}  // namespace fulgur
