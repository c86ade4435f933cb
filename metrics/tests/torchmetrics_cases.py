"""Writes the torchmetrics parity cases: inputs, arguments and torchmetrics' own results.

Run in the comparison environment (scripts/setup-parity.sh). Each case is one metric with its
arguments and a few batches, random or adversarial (tied scores, a class that never appears, all
one class, a single sample, ignore_index, an empty batch); torchmetrics computes the value of each
batch (forward) and over all of them (compute). metrics_parity computes the same with fulgur and
compares. A case torchmetrics itself rejects is left out, and named.

Usage: python torchmetrics_cases.py OUT.pt
"""
import sys
import warnings

import torch
import torchmetrics

warnings.filterwarnings("ignore")
torch.manual_seed(20261124)

C = 5  # classes
L = 4  # labels


def ints(low, high, *shape):
    return torch.randint(low, high, shape, dtype=torch.long)


# --- inputs -------------------------------------------------------------------------------------

def binary_batches(form, sizes, adversarial=None, ignore=None):
    batches = []
    for n in sizes:
        target = ints(0, 2, n)
        if adversarial == "all_one_class":
            target = torch.zeros(n, dtype=torch.long)
        if form == "probs":
            preds = torch.rand(n)
        elif form == "logits":
            preds = torch.randn(n) * 3
        else:
            preds = ints(0, 2, n)
        if adversarial == "ties" and form != "labels":
            preds = (preds * 4).round() / 4 if form == "probs" else preds.round()
        if ignore is not None and n > 2:
            target[::3] = ignore
        batches.append([preds, target])
    return batches


def multiclass_batches(form, sizes, adversarial=None, ignore=None, extra_dim=False):
    batches = []
    for n in sizes:
        shape = (n, 3) if extra_dim else (n,)
        target = ints(0, C, *shape)
        if adversarial == "missing_class":
            target[target == 3] = 1
        if adversarial == "all_one_class":
            target = torch.full(shape, 2, dtype=torch.long)
        score_shape = (n, C, 3) if extra_dim else (n, C)
        if form == "probs":
            preds = torch.randn(*score_shape).softmax(1)
        elif form == "logits":
            preds = torch.randn(*score_shape) * 2
        else:
            preds = ints(0, C, *shape)
        if adversarial == "ties" and form != "labels":
            preds = (preds * 3).round() / 3
        if ignore is not None and n > 2:
            target.view(-1)[::4] = ignore
        batches.append([preds, target])
    return batches


def multilabel_batches(form, sizes, adversarial=None, ignore=None):
    batches = []
    for n in sizes:
        target = ints(0, 2, n, L)
        if adversarial == "missing_class":
            target[:, 2] = 0
        if adversarial == "all_one_class":
            target = torch.ones(n, L, dtype=torch.long)
        if form == "probs":
            preds = torch.rand(n, L)
        elif form == "logits":
            preds = torch.randn(n, L) * 2
        else:
            preds = ints(0, 2, n, L)
        if adversarial == "ties" and form != "labels":
            preds = (preds * 4).round() / 4
        if ignore is not None and n > 2:
            target[::3, 1] = ignore
        batches.append([preds, target])
    return batches


SIZES = [[16, 9, 24], [1], [12, 0, 10]]
FORMS = ["probs", "logits", "labels"]
ADVERSARIAL = [None, "ties", "missing_class", "all_one_class"]


def classification_inputs(task, scores_only=False):
    """(label, batches, ignore_index) for every form, size pattern and adversarial pattern."""
    make = {"binary": binary_batches, "multiclass": multiclass_batches, "multilabel": multilabel_batches}[task]
    forms = ["probs", "logits"] if scores_only else FORMS
    out = []
    for form in forms:
        for s, sizes in enumerate(SIZES):
            for adversarial in ADVERSARIAL:
                if adversarial == "missing_class" and task == "binary":
                    continue
                if s > 0 and adversarial not in (None, "ties"):
                    continue
                out.append((f"{form}/sizes{s}/{adversarial}", make(form, sizes, adversarial), None))
        out.append((f"{form}/ignore-1", make(form, [15, 8], None, ignore=-1), -1))
        out.append((f"{form}/ignore0", make(form, [15, 8], None, ignore=0), 0))
    if task == "multiclass":
        out.append(("logits/extra_dim", multiclass_batches("logits", [6, 4], extra_dim=True), None))
        if not scores_only:
            out.append(("labels/extra_dim", multiclass_batches("labels", [6, 4], extra_dim=True), None))
    return out


# --- cases ----------------------------------------------------------------------------------------

cases = []
skipped = []


def as_list(value):
    if isinstance(value, (list, tuple)):
        return [v.detach().clone().float() for v in value]
    return [value.detach().clone().float()]


def curve_result(result, classes):
    """A curve as three lists of 1-d tensors, one per class (torchmetrics returns (C, T) tensors
    with thresholds, lists without)."""
    a, b, t = result
    def rows(x):
        if isinstance(x, torch.Tensor) and x.dim() == 2:
            return [r.clone().float() for r in x]
        return as_list(x)
    a, b = rows(a), rows(b)
    if isinstance(t, torch.Tensor) and t.dim() == 1 and len(a) > 1:
        t = [t.clone().float() for _ in a]
    else:
        t = rows(t)
    return [a, b, t]


def metric_class(name):
    for module in (torchmetrics, torchmetrics.classification, torchmetrics.regression, torchmetrics.aggregation):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"torchmetrics has no metric {name}")


def run_torchmetrics(metric, args, batches, kind):
    m = metric_class(metric)(**args)
    forward = []
    for batch in batches:
        value = m(*batch)
        forward.append(torch.zeros(0) if kind != "value" else value.detach().clone().float().reshape(-1))
    return forward, m.compute()


def add(case_id, metric, args, batches, kind="value", fulgur_args=None):
    # Empty batches: where torchmetrics fails on one, its results without it are the expected
    # ones (an empty batch changes nothing), and the empty batch's own value is not compared.
    empty = [batch[0].numel() == 0 for batch in batches]
    try:
        forward, result = run_torchmetrics(metric, args, batches, kind)
        compared = [True] * len(batches)
    except Exception as error:
        if not any(empty):
            skipped.append(f"{case_id}: {type(error).__name__}: {error}")
            return
        try:
            kept = [b for b, e in zip(batches, empty) if not e]
            forward_kept, result = run_torchmetrics(metric, args, kept, kind)
        except Exception as error2:
            skipped.append(f"{case_id}: {type(error2).__name__}: {error2}")
            return
        it = iter(forward_kept)
        forward = [torch.zeros(0) if e else next(it) for e in empty]
        compared = [not e for e in empty]
    if kind == "value":
        expected = [[result.detach().clone().float().reshape(-1)]]
    else:
        expected = curve_result(result, None)
    cases.append({
        # fulgur_args: what fulgur needs besides torchmetrics' arguments (states of a fixed shape).
        "id": case_id, "metric": metric, "args": dict(args, **(fulgur_args or {})), "kind": kind,
        "batches": [[t.clone() for t in batch] for batch in batches],
        "forward": forward, "compare_forward": compared, "expected": expected,
    })


STAT = ["StatScores", "Accuracy", "Precision", "Recall", "F1Score", "Specificity"]

for task in ["binary", "multiclass", "multilabel"]:
    prefix = task.capitalize()
    extra = {"multiclass": {"num_classes": C}, "multilabel": {"num_labels": L}, "binary": {}}[task]
    averages = [None] if task == "binary" else ["micro", "macro", "weighted", "none"]
    for label, batches, ignore in classification_inputs(task):
        common = dict(extra)
        if ignore is not None:
            common["ignore_index"] = ignore
        for metric in STAT:
            for average in averages:
                args = dict(common)
                if average:
                    args["average"] = average
                add(f"{prefix}{metric}/{average}/{label}", prefix + metric, args, batches)
        for average in averages:
            args = dict(common, beta=0.5)
            if average:
                args["average"] = average
            add(f"{prefix}FBetaScore/{average}/{label}", prefix + "FBetaScore", args, batches)
        for normalize in ["none", "true", "pred", "all"]:
            add(f"{prefix}ConfusionMatrix/{normalize}/{label}", prefix + "ConfusionMatrix",
                dict(common, normalize=normalize), batches)
        if task == "binary":
            add(f"BinaryAccuracy/threshold0.3/{label}", "BinaryAccuracy", dict(common, threshold=0.3), batches)
        if task == "multiclass" and "labels" not in label and "extra_dim" not in label:
            for metric in ["Accuracy", "Precision", "Recall"]:
                for average in ["micro", "macro", "weighted"]:
                    add(f"Multiclass{metric}/top2/{average}/{label}", "Multiclass" + metric,
                        dict(common, top_k=2, average=average), batches)
    # The task wrappers, with their own defaults (micro).
    for label, batches, ignore in classification_inputs(task)[:2]:
        add(f"Accuracy(task={task})/{label}", "Accuracy", dict(extra, task=task), batches)
        add(f"F1Score(task={task})/{label}", "F1Score", dict(extra, task=task), batches)

    curve_averages = {"binary": [None], "multiclass": ["macro", "weighted", "none"],
                      "multilabel": ["micro", "macro", "weighted", "none"]}[task]
    for label, batches, ignore in classification_inputs(task, scores_only=True):
        common = dict(extra)
        if ignore is not None:
            common["ignore_index"] = ignore
        for thresholds in [None, 11]:
            for metric in ["AUROC", "AveragePrecision"]:
                for average in curve_averages:
                    args = dict(common, thresholds=thresholds)
                    if average:
                        args["average"] = average
                    add(f"{prefix}{metric}/{average}/t{thresholds}/{label}", prefix + metric, args, batches)
            add(f"{prefix}ROC/t{thresholds}/{label}", prefix + "ROC", dict(common, thresholds=thresholds), batches, "curve")
            add(f"{prefix}PrecisionRecallCurve/t{thresholds}/{label}", prefix + "PrecisionRecallCurve",
                dict(common, thresholds=thresholds), batches, "curve")
        if task == "binary":
            add(f"BinaryAUROC/max_fpr0.3/{label}", "BinaryAUROC", dict(common, max_fpr=0.3), batches)
            add(f"BinaryAUROC/thresholds_list/{label}", "BinaryAUROC",
                dict(common, thresholds=[0.0, 0.2, 0.5, 0.8, 1.0]), batches)
        if task != "multilabel":
            for norm in ["l1", "l2", "max"]:
                for bins in [15, 4]:
                    add(f"{prefix}CalibrationError/{norm}/{bins}/{label}", prefix + "CalibrationError",
                        dict(common, norm=norm, n_bins=bins), batches)

# --- regression ---------------------------------------------------------------------------------


def regression_batches(sizes, outputs=1, ties=False, positive=False):
    batches = []
    for n in sizes:
        shape = (n,) if outputs == 1 else (n, outputs)
        target = torch.randn(*shape)
        preds = target + 0.5 * torch.randn(*shape)
        if ties:
            target, preds = target.round(), preds.round()
        if positive:
            target = target.abs() + 0.1
        batches.append([preds, target])
    return batches


REGRESSION_INPUTS = [
    ("random", regression_batches([20, 7, 13])),
    ("ties", regression_batches([20, 7, 13], ties=True)),
    ("single", regression_batches([1, 1, 1])),
    ("positive", regression_batches([16, 16], positive=True)),
]

for label, batches in REGRESSION_INPUTS:
    add(f"MeanSquaredError/{label}", "MeanSquaredError", {}, batches)
    add(f"RootMeanSquaredError/{label}", "MeanSquaredError", {"squared": False}, batches)
    add(f"MeanAbsoluteError/{label}", "MeanAbsoluteError", {}, batches)
    add(f"MeanAbsolutePercentageError/{label}", "MeanAbsolutePercentageError", {}, batches)
    add(f"ExplainedVariance/{label}", "ExplainedVariance", {}, batches)
    add(f"R2Score/{label}", "R2Score", {}, batches)
    add(f"R2Score/adjusted/{label}", "R2Score", {"adjusted": 2}, batches)
    add(f"PearsonCorrCoef/{label}", "PearsonCorrCoef", {}, batches)
    add(f"SpearmanCorrCoef/{label}", "SpearmanCorrCoef", {}, batches)

multi = regression_batches([12, 9], outputs=3)
add("MeanSquaredError/outputs3", "MeanSquaredError", {"num_outputs": 3}, multi)
add("MeanAbsoluteError/outputs3", "MeanAbsoluteError", {"num_outputs": 3}, multi)
add("PearsonCorrCoef/outputs3", "PearsonCorrCoef", {"num_outputs": 3}, multi)
add("SpearmanCorrCoef/outputs3", "SpearmanCorrCoef", {"num_outputs": 3}, multi)
for multioutput in ["uniform_average", "raw_values", "variance_weighted"]:
    add(f"R2Score/{multioutput}", "R2Score", {"multioutput": multioutput}, multi, fulgur_args={"num_outputs": 3})
    add(f"ExplainedVariance/{multioutput}", "ExplainedVariance", {"multioutput": multioutput}, multi,
        fulgur_args={"num_outputs": 3})
for reduction in ["sum", "mean", "none"]:
    add(f"CosineSimilarity/{reduction}", "CosineSimilarity", {"reduction": reduction}, multi)
    add(f"CosineSimilarity/single/{reduction}", "CosineSimilarity", {"reduction": reduction},
        regression_batches([1, 1], outputs=3))

# --- aggregation --------------------------------------------------------------------------------

values = [[torch.randn(8)], [torch.randn(3)], [torch.tensor(2.5)]]
with_nan = [[torch.tensor([1.0, float("nan"), 3.0])], [torch.randn(4)], [torch.tensor([float("nan")])]]
weighted = [[torch.randn(6), torch.rand(6)], [torch.randn(2), torch.rand(2)]]
for metric in ["MeanMetric", "SumMetric", "MaxMetric", "MinMetric", "CatMetric"]:
    add(f"{metric}/plain", metric, {}, values)
    add(f"{metric}/nan_ignore", metric, {"nan_strategy": "ignore"}, with_nan)
    add(f"{metric}/nan_replace", metric, {"nan_strategy": 0.5}, with_nan)
add("MeanMetric/weighted", "MeanMetric", {}, weighted)

torch.save({"cases": cases}, sys.argv[1])
print(f"torchmetrics {torchmetrics.__version__}: {len(cases)} cases written, {len(skipped)} rejected by torchmetrics")
for line in skipped:
    print("  rejected:", line[:200])
