"""The claims of the source notes, as data: statement, sources, experiment, decision rule.

Each :class:`NoteClaim` names the notes that make it (their file names in ``NOTES``), the
experiment that tests it (a :class:`ClaimSetting` and its arms: recipe changes on the setting's base
recipe, or an arithmetic check of :mod:`.arithmetic`) and the :mod:`.rules` rule that turns the
measured rows into a verdict. Statements are our paraphrases; where a claim is only partly
true, it is split (L1 in the loss versus the proximal step) or the statement says which part
the experiment tests.

Example:
    >>> claim = CLAIMS["weight-decay-equals-l2-sgd"]
    >>> claim.sources, sorted(claim.arms)
    (('002',), ['check'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .rules import AllOf, AtLeast, AtMost, Better, Differs, NotWorse, Rule, Same

__all__ = ["CHECK_ARM", "CLAIMS", "NOTES", "ClaimSetting", "NoteClaim"]

#: The source notes by short id (the files in the project's shared/seeds folder).
NOTES: dict[str, str] = {
    "000": "000_2816aedcbbbd9e98.txt",
    "001": "001_1be6c27e0038c895.txt",
    "002": "002_dff28fa92756500d.txt",
    "003": "003_f7660b7b26968d7b.txt",
    "004": "004_ae206182f9ea1094.txt",
}


@dataclass(frozen=True)
class ClaimSetting:
    """Where a claim's arms train: data, split sizes, model, base recipe, epochs.

    ``quick_epochs`` replaces ``epochs`` under ``--quick``. ``target`` is the validation
    accuracy that ``epochs_to_target`` counts epochs to.
    """

    data: str = "digits"
    model: str = "cnn"
    train_size: int = 200
    val_size: int = 300
    base: str = "baseline"
    epochs: int = 40
    quick_epochs: int = 15
    target: float = 0.9


#: The arm name of an arithmetic check; its value in ``arms`` names the check.
CHECK_ARM = "check"

ARITHMETIC = ClaimSetting(data="none", model="none", epochs=1, quick_epochs=1)


@dataclass(frozen=True)
class NoteClaim:
    """One claim: what the notes say, where, how we test it and how we decide."""

    id: str
    statement: str
    sources: tuple[str, ...]
    setting: ClaimSetting
    arms: Mapping[str, str]
    rule: Rule
    metric: str
    plot: str = "bars"
    note: str = ""
    quick_seeds: int = 3  # an arithmetic claim's seeds in a quick run (fixed, not sequential)
    extra: Mapping[str, str] = field(default_factory=dict)

    def arm_spec(self, arm: str) -> str:
        """The recipe spec of ``arm`` (its changes after the setting's base recipe)."""
        changes = self.arms[arm]
        return ",".join(s for s in (self.setting.base, changes) if s)


_IMAGE = ClaimSetting()
_MLP = ClaimSetting(model="mlp", base="baseline,width=64")
_SGD_MLP = ClaimSetting(model="mlp", base="baseline,optimizer=sgd,lr_schedule=constant,width=64")
_LONG_RUN = ClaimSetting(base="baseline,lr_schedule=constant,lr=1e-2", epochs=100, quick_epochs=40)
# Plain SGD without momentum, so an L1 term in the loss and the proximal step move each weight
# by the same lr * l1 per step (momentum would amplify only the one inside the gradient).
_SPARSE = ClaimSetting(
    model="mlp",
    base="baseline,width=64,optimizer=sgd,momentum=0,lr=0.1,lr_schedule=constant",
    epochs=60,
    quick_epochs=30,
)

_TABLE: tuple[NoteClaim, ...] = (
    NoteClaim(
        "dropout-reduces-overfitting",
        "Dropout lowers the gap between training and test accuracy without lowering test accuracy.",
        ("000", "003", "004"),
        _IMAGE,
        {"baseline": "", "dropout": "dropout=0.5"},
        AllOf(
            (
                Better("gap", "dropout", "baseline", higher_is_better=False),
                NotWorse("test_acc", "dropout", "baseline", margin=0.005),
            )
        ),
        "gap",
    ),
    NoteClaim(
        "dropout-updates-only-kept-units",
        "In the backward pass, only the parameters of units that were kept receive updates "
        "(tested for one SGD step; with Adam, momentum still moves dropped units' weights).",
        ("000",),
        ARITHMETIC,
        {"check": "dropout_gradients"},
        AtMost("sgd_dropped_weight_change", "check", 0.0),
        "sgd_dropped_weight_change",
        plot="none",
        extra={"adam_dropped_weight_change": "Adam, same step, after one step of momentum"},
    ),
    NoteClaim(
        "classic-equals-inverted-expectation",
        "Scaling by (1-p) at inference (classic) and by 1/(1-p) in training (inverted) give the "
        "same expected activation: the training output's mean is the inference output.",
        ("001", "002", "004"),
        ARITHMETIC,
        {"check": "dropout_expectation"},
        AllOf(
            (
                AtMost("inverted_max_z", "check", 4.5),
                AtMost("classic_max_z", "check", 4.5),
            )
        ),
        "classic_max_z",
        plot="none",
        note="Largest |z| of the 64 units' mean training output against inference (20,000 masks).",
    ),
    NoteClaim(
        "classic-equals-inverted-accuracy",
        "Trained alike, a network with classic dropout and one with inverted dropout reach the "
        "same test accuracy (within 2 points: an equivalence claim).",
        ("001", "002", "004"),
        _IMAGE,
        {"inverted": "dropout=0.5", "classic": "dropout=0.5,dropout_scaling=classic"},
        Same("test_acc", "classic", "inverted", margin=0.02),
        "test_acc",
    ),
    NoteClaim(
        "l1-loss-exact-zeros",
        "An L1 penalty added to the loss makes weights exactly zero.",
        ("001", "004"),
        _SPARSE,
        {"none": "", "l1": "l1=3e-3"},
        AtLeast("sparsity", "l1", 0.1),
        "sparsity",
        note="Share of weights that are exactly 0.0 after training; 0.1 is the bar.",
    ),
    NoteClaim(
        "l1-proximal-exact-zeros",
        "An L1 penalty applied as a proximal (soft-threshold) step makes weights exactly zero.",
        ("001", "004"),
        _SPARSE,
        {"none": "", "proximal": "proximal_l1=3e-3"},
        AtLeast("sparsity", "proximal", 0.1),
        "sparsity",
    ),
    NoteClaim(
        "l2-shrinks-weights",
        "The weights' norm shrinks as the L2 strength grows.",
        ("002", "004"),
        _MLP,
        {"l2=0": "", "l2=1e-3": "l2=1e-3", "l2=1e-2": "l2=1e-2", "l2=1e-1": "l2=1e-1"},
        AllOf(
            (
                Better("weight_norm", "l2=1e-3", "l2=0", higher_is_better=False),
                Better("weight_norm", "l2=1e-2", "l2=1e-3", higher_is_better=False),
                Better("weight_norm", "l2=1e-1", "l2=1e-2", higher_is_better=False),
            )
        ),
        "weight_norm",
        plot="sweep",
    ),
    NoteClaim(
        "weight-decay-equals-l2-sgd",
        "With plain SGD, weight decay is the L2 update W <- (1 - lr*lambda) W - lr*grad.",
        ("002",),
        ARITHMETIC,
        {"check": "weight_decay_sgd"},
        AtMost("max_abs_diff", "check", 1e-12),
        "max_abs_diff",
        plot="none",
    ),
    NoteClaim(
        "weight-decay-differs-from-l2-adam",
        "With Adam, an L2 penalty in the loss (coupled) and decoupled weight decay differ.",
        ("001",),
        ARITHMETIC,
        {"check": "weight_decay_adam"},
        AtLeast("max_rel_diff", "check", 1e-3),
        "max_rel_diff",
        plot="none",
    ),
    NoteClaim(
        "early-stopping-at-validation-minimum",
        "Early stopping stops once the validation loss plateaus or rises, and the restored "
        "weights test at least as well as training on to the end.",
        ("000", "001", "004"),
        _LONG_RUN,
        {"full": "", "early_stopping": "early_stopping=5"},
        AllOf(
            (
                AtLeast("stopped_early", "early_stopping", 1.0),
                AtMost("stop_lag_error", "early_stopping", 0.0),
                NotWorse("test_acc", "early_stopping", "full", margin=0.005),
            )
        ),
        "test_acc",
        note="stop_lag_error: |epochs after the best validation loss - patience| at the stop.",
    ),
    NoteClaim(
        "batchnorm-placement",
        "Batch norm works before the ReLU (Ng) or after it (Chollet): both beat no norm.",
        ("000",),
        _IMAGE,
        {"none": "", "before": "norm=batch", "after": "norm=batch,norm_position=after"},
        AllOf(
            (
                Better("test_acc", "before", "none"),
                Better("test_acc", "after", "none"),
            )
        ),
        "test_acc",
    ),
    NoteClaim(
        "batchnorm-running-stats-at-inference",
        "With running averages, a test prediction no longer depends on the rest of its batch "
        "(in training mode, with batch statistics, it does).",
        ("002",),
        ARITHMETIC,
        {"check": "batchnorm_inference"},
        AllOf(
            (
                AtMost("eval_max_diff", "check", 1e-12),
                AtLeast("train_max_diff", "check", 1e-3),
            )
        ),
        "eval_max_diff",
        plot="none",
    ),
    NoteClaim(
        "batchnorm-needs-large-batches",
        "Batch norm needs batches large enough to estimate its statistics: at batch size 2 it "
        "falls behind layer and group norm, at 32 it keeps up with them.",
        ("001",),
        ClaimSetting(model="mlp", base="baseline,width=64", epochs=20, quick_epochs=8),
        {
            f"{norm}@{bs}": f"norm={norm},batch_size={bs}"
            for norm in ("batch", "layer", "group")
            for bs in (2, 8, 32, 128)
        },
        AllOf(
            (
                Better("test_acc", "layer@2", "batch@2", margin=0.02),
                Better("test_acc", "group@2", "batch@2", margin=0.02),
                NotWorse("test_acc", "batch@32", "layer@32", margin=0.02),
            )
        ),
        "test_acc",
        plot="sweep",
    ),
    NoteClaim(
        "batchnorm-allows-higher-lr",
        "Batch norm stabilises training and allows higher learning rates: at SGD learning rate "
        "0.3 (10x a usual 0.03) the batch-norm network beats the plain one.",
        ("000", "004"),
        _SGD_MLP,
        {
            f"{name}@lr={lr}": f"{changes}lr={lr}"
            for name, changes in (("none", ""), ("batch", "norm=batch,"))
            for lr in (0.03, 0.3, 3.0)
        },
        Better("test_acc", "batch@lr=0.3", "none@lr=0.3"),
        "test_acc",
        plot="sweep",
        note="Margin 0 (was 5 points): the claim is that batch norm beats the plain network; "
        "the plain one diverges in some seeds only, so the differences are bimodal and a "
        "margin would need many more seeds for the same claim.",
    ),
    NoteClaim(
        "layernorm-harder-on-fcn",
        "On a fully connected network, layer norm makes a low training loss harder to reach.",
        ("002",),
        ClaimSetting(model="mlp", base="baseline,width=64,lr_schedule=constant", epochs=30),
        {"none": "", "layer": "norm=layer"},
        Better("train_loss", "layer", "none"),
        "train_loss",
        note="Training loss after the same epochs; higher with layer norm reproduces.",
    ),
    NoteClaim(
        "batchnorm-can-replace-dropout",
        "Batch norm often makes dropout unnecessary: adding dropout to a batch-norm network "
        "does not improve its test accuracy.",
        ("004",),
        _IMAGE,
        {"batchnorm": "norm=batch", "batchnorm+dropout": "norm=batch,dropout=0.5"},
        NotWorse("test_acc", "batchnorm", "batchnorm+dropout", margin=0.01),
        "test_acc",
        note="Margin 1 point of test accuracy (the study's default margin of 'no effect'; was "
        "0.5): dropout 'improves' the batch-norm network only by more than that.",
    ),
    NoteClaim(
        "initialization-matters",
        "The initialisation scheme changes how well and how fast a network trains: on a deep "
        "ReLU MLP under SGD, Kaiming and Xavier initialisation end at different losses.",
        ("002", "003"),
        ClaimSetting(
            model="mlp",
            base="baseline,optimizer=sgd,lr=0.05,lr_schedule=constant,depth=6,width=64",
            epochs=20,
            quick_epochs=10,
        ),
        {s: f"init={s}" for s in ("kaiming", "xavier", "lecun", "orthogonal")},
        Differs("train_loss", "kaiming", "xavier", margin=0.02),
        "train_loss",
    ),
    NoteClaim(
        "augmentation-reduces-overfitting",
        "Augmentation (rotations and noise on digits, which flips would change) lowers the "
        "gap between training and test accuracy.",
        ("004",),
        _IMAGE,
        {"baseline": "", "augment": "augment=rotate+noise"},
        Better("gap", "augment", "baseline", higher_is_better=False, margin=0.01),
        "gap",
        note="Margin 1 point of gap (the study's margin): reproduced when the gap falls by more "
        "than a point, refuted when it surely falls by less (or rises).",
    ),
    NoteClaim(
        "regularization-converges-faster",
        "Regularization lets the model converge faster: fewer epochs to 90% validation "
        "accuracy with dropout, and with batch norm, than without.",
        ("001", "003"),
        _IMAGE,
        {"baseline": "", "dropout": "dropout=0.5", "batchnorm": "norm=batch"},
        AllOf(
            (
                Better(
                    "epochs_to_target", "dropout", "baseline", higher_is_better=False, margin=1.0
                ),
                Better(
                    "epochs_to_target", "batchnorm", "baseline", higher_is_better=False, margin=1.0
                ),
            )
        ),
        "epochs_to_target",
        note="Margin 1 epoch (the metric's resolution): faster means more than one epoch "
        "sooner; refuted when surely less than one epoch sooner (or later).",
    ),
)

#: Every claim by id, in the order of the report.
CLAIMS: dict[str, NoteClaim] = {c.id: c for c in _TABLE}
