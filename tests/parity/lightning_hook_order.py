"""The hook order of Lightning itself against fulgur's, loop shape by loop shape.

Lightning's Trainer runs a small classifier with a callback that records every callback hook
(and the LightningModule's on_after_batch_transfer, which fulgur emits as a hook too); fulgur's
traces come from hook_trace (parity_hook_shapes). Both are reduced to the same form — the hook,
the stage of setup/teardown, the epoch of training hooks, the batch index of batch hooks — and
must be equal. Usage: lightning_hook_order.py WORK SHAPE:FULGUR_TRACE ...
"""
import difflib
import os
import sys

import lightning as L
import torch
from torch.nn import functional as F

work = sys.argv[1]
shapes = dict(arg.split(":", 1) for arg in sys.argv[2:])

EVAL_KINDS = ("validation", "test", "predict")


def reduce_line(hook, args):
    """The parts both sides can name alike: stage, the training epoch, batch indices."""
    out = [hook]
    if hook in ("setup", "teardown"):
        out.append("stage=" + args["stage"])
    if hook.startswith("on_train_epoch") or hook.startswith("on_train_batch"):
        out.append("epoch=%s" % args["epoch"])
    if "batch" in args and hook.endswith(("batch_start", "batch_end")):
        out.append("batch=%s" % args["batch"])
    return " ".join(out)


def fulgur_trace(path):
    lines = []
    for line in open(path):
        parts = line.split()
        args = dict(part.split("=", 1) for part in parts[1:] if "=" in part)
        lines.append(reduce_line(parts[0], args))
    return lines


class Recorder(L.Callback):
    def __init__(self):
        self.calls = []

    def note(self, hook, trainer, **args):
        args.setdefault("epoch", trainer.current_epoch)
        self.calls.append(reduce_line(hook, {k: str(v) for k, v in args.items()}))


def add_hooks():
    simple = ["on_fit_start", "on_fit_end", "on_sanity_check_start", "on_sanity_check_end", "on_train_start",
              "on_train_end", "on_train_epoch_start", "on_train_epoch_end", "on_before_backward", "on_after_backward"]
    for kind in EVAL_KINDS:
        simple += ["on_%s_start" % kind, "on_%s_end" % kind, "on_%s_epoch_start" % kind, "on_%s_epoch_end" % kind]
    for name in simple:
        setattr(Recorder, name, lambda self, trainer, *a, _n=name, **k: self.note(_n, trainer))
    # Lightning passes (batch, batch_idx[, dataloader_idx]) to a start hook and
    # (outputs, batch, batch_idx[, dataloader_idx]) to an end hook.
    for kind in ("train",) + EVAL_KINDS:
        for end, position in (("start", 1), ("end", 2)):
            name = "on_%s_batch_%s" % (kind, end)
            setattr(Recorder, name,
                    lambda self, trainer, module, *args, _n=name, _p=position: self.note(_n, trainer, batch=args[_p]))
    # Lightning's stage is its TrainerFn enum, whose value is fulgur's stage name.
    Recorder.setup = lambda self, trainer, module, stage: self.note("setup", trainer, stage=getattr(stage, "value", stage))
    Recorder.teardown = lambda self, trainer, module, stage: self.note("teardown", trainer, stage=getattr(stage, "value", stage))
    Recorder.on_before_optimizer_step = lambda self, trainer, module, opt: self.note("on_before_optimizer_step", trainer)
    Recorder.on_before_zero_grad = lambda self, trainer, module, opt: self.note("on_before_zero_grad", trainer)
    Recorder.on_save_checkpoint = lambda self, trainer, module, ckpt: self.note("on_save_checkpoint", trainer)
    Recorder.on_load_checkpoint = lambda self, trainer, module, ckpt: self.note("on_load_checkpoint", trainer)


add_hooks()


class Tiny(L.LightningModule):
    def __init__(self, recorder):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)
        self.recorder = recorder

    def on_after_batch_transfer(self, batch, dataloader_idx):
        if self.recorder is not None:
            self.recorder.note("on_after_batch_transfer", self.trainer)
        return batch

    def forward(self, x):
        return self.linear(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("test_loss", F.cross_entropy(self(x), y))

    def predict_step(self, batch, batch_idx):
        return self(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def trainer(root, **kwargs):
    options = dict(max_epochs=1, limit_train_batches=2, limit_val_batches=2, limit_test_batches=2,
                   limit_predict_batches=2, accelerator="cpu", logger=False, enable_progress_bar=False,
                   enable_model_summary=False, default_root_dir=root)
    options.update(kwargs)
    return L.Trainer(**options)


torch.manual_seed(0)
data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,)))
loader = lambda: torch.utils.data.DataLoader(data, batch_size=4)  # noqa: E731


def lightning_calls(shape):
    recorder = Recorder()
    model = Tiny(None)
    root = os.path.join(work, "lightning_" + shape)
    ckpt = None
    if shape == "resume":
        # A checkpoint written after the first training batch, mid-epoch, by ModelCheckpoint.
        saver = L.pytorch.callbacks.ModelCheckpoint(dirpath=root + "_first", every_n_train_steps=1, save_top_k=-1)
        first = trainer(root + "_first", callbacks=[saver])
        first.fit(model, loader(), loader())
        ckpt = os.path.join(root + "_first", "epoch=0-step=1.ckpt")
    if shape == "resume_epoch":
        # The end-of-epoch checkpoint of a whole first epoch; the traced run trains the second.
        first = trainer(root + "_first")
        first.fit(model, loader(), loader())
        ckpt = os.path.join(root + "_first", "checkpoints", "epoch=0-step=2.ckpt")
    model.recorder = recorder
    run = trainer(root, callbacks=[recorder], max_epochs=2 if shape == "resume_epoch" else 1)
    if shape in ("fit", "resume", "resume_epoch"):
        run.fit(model, loader(), loader(), ckpt_path=ckpt)
    elif shape == "validate":
        run.validate(model, loader())
    elif shape == "test":
        run.test(model, loader())
    else:
        run.predict(model, loader())
    return recorder.calls


failed = False
for shape, path in shapes.items():
    theirs = lightning_calls(shape)
    ours = fulgur_trace(path)
    if ours == theirs:
        print("%s: %d hooks, the same order as Lightning %s" % (shape, len(ours), L.__version__))
        continue
    failed = True
    print("%s: fulgur's hooks differ from Lightning's:" % shape)
    print("\n".join(difflib.unified_diff(theirs, ours, "lightning", "fulgur", lineterm="")))
sys.exit(1 if failed else 0)
