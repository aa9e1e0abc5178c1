"""The vocabulary of linid, defined once: sweep axes, methods, heads, metric names and their labels.

Every other module (library, rule scripts, Snakemake helpers) imports these names instead of
spelling them again, so adding an axis or a metric is a one-line change here.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- [R] simulation

#: the axes of a simulation cell (a cell = one data generating process, given a data seed)
CELL_AXES: tuple[str, ...] = (
    "latent_dim",
    "n_classes",
    "n_instances",
    "kappa",
    "conditional",
    "cluster_prior",
    "label_noise",
    "cond_beta",
    "prior_shape",
    "prior_scale",
)
#: the axes every figure draws as its grid (the others get one-factor figures of their own)
GRID_AXES: tuple[str, ...] = ("latent_dim", "n_classes")

#: the head variants of a model: W's rows free, or renormalised to unit norm before every step
HEADS: dict[str, bool] = {"free": False, "unit": True}
CONDITIONALS: tuple[str, ...] = ("vmf", "laplace", "normal", "truncated_laplace", "gennorm")
CLUSTER_PRIORS: tuple[str, ...] = ("uniform", "laplace", "normal", "gennorm")
#: conditionals whose shape depends on ``cond_beta`` (the official ``--beta-param``)
BETA_CONDITIONALS: tuple[str, ...] = ("truncated_laplace", "gennorm")
#: the base cell of the paper's tables (official defaults ``--n 5 --nr-clusters 100 --c-param 10``,
#: ``--nr-indices 10240``, ``--c-p 0 --m-p 0``, ``--beta-param 2``, ``--m-param 1.0``)
DEFAULT_BASE = {
    "latent_dim": 5,
    "n_classes": 100,
    "n_instances": 10240,
    "kappa": 10.0,
    "conditional": "vmf",
    "cluster_prior": "uniform",
    "label_noise": 0.0,
    "cond_beta": 2.0,
    "prior_shape": 3.0,
    "prior_scale": 1.0,
}
#: the official budget of the paper's runs (``--n-epochs 50000``, ``--batch-size 1024``)
PAPER_EPOCHS = 50_000
PAPER_BATCH = 1024

#: arithmetic of the training step: fp32 (default, the paper's), TF32 matmuls (CUDA only), bf16 autocast
PRECISIONS: tuple[str, ...] = ("fp32", "tf32", "bf16")

#: every number ``probes.suite.probe_metrics`` returns for one model, in table order
PROBE_METRICS: tuple[str, ...] = (
    "r2_affine",
    "r2_linear",
    "mae_sv",
    "sv_min",
    "sv_max",
    "r2_w_v",
    "r2_w_v_linear",
    "mae_w_v",
    "mcc_pearson",
    "mcc_spearman",
    "mcc_pearson_aligned",
    "mcc_spearman_aligned",
    "r2_knn",
    "r2_reverse",
)
#: the probe metrics summarised as mean ± std per cell (sv_min / sv_max stay per model)
SUMMARY_METRICS: tuple[str, ...] = tuple(m for m in PROBE_METRICS if m not in ("sv_min", "sv_max"))

#: the controls every trained [R] model is scored against, on the same held-out draws
#: (docs/science.md "Controls"); a control's metric m is the column ``f"{m}_{control}"``
CONTROLS: dict[str, str] = {
    "x": "observations x (no encoder)",
    "init": "untrained encoder (initial BN statistics)",
    "init_bn": "untrained encoder (precise-BN statistics)",
}
#: the probe metrics that make sense for a control (no head W, no κ-scaled singular values)
CONTROL_METRICS: tuple[str, ...] = (
    "r2_affine",
    "r2_linear",
    "mcc_pearson",
    "mcc_pearson_aligned",
    "mcc_spearman_aligned",
    "r2_knn",
    "r2_reverse",
)
#: per-model bootstrap interval of R²_a over its held-out draws (probe.bootstrap)
INTERVAL_COLUMNS: tuple[str, ...] = ("r2_affine_lo", "r2_affine_hi")
#: what training adds over the observations, per model on the same draws: R²_a − R²_a(x)
GAIN = "gain_x"
#: metrics that cannot exceed 1 (R², MCC, correlations, CCA): colour scales and intervals stop there
CEILING_ONE_PREFIXES: tuple[str, ...] = ("r2", "mcc", "monitor_r2", "pearson", "svcca", "cca")


#: canonical correlations (mean, smallest, SVCCA) are never below 0: their intervals stop there
FLOOR_ZERO_PREFIXES: tuple[str, ...] = ("svcca", "cca", "mcca")


def has_floor_zero(metric: str) -> bool:
    """True for canonical correlations, bounded below by 0 (an R² or a Pearson r is not)."""
    return metric.startswith(FLOOR_ZERO_PREFIXES)


def has_ceiling_one(metric: str) -> bool:
    """True for metrics bounded above by 1 (R², MCC, correlations, CCA); a gain is a difference: no."""
    return metric.startswith(CEILING_ONE_PREFIXES)


def control_column(metric: str, control: str) -> str:
    """Column of ``metric`` scored on ``control`` (e.g. ``r2_affine_x``)."""
    if control not in CONTROLS:
        raise ValueError(f"control must be one of {list(CONTROLS)}, got {control!r}")
    return f"{metric}_{control}"


# --------------------------------------------------------------------------- model-to-model

#: layers compared between seeds; ``in_family``: whether the theorem covers the layer
LAYERS: dict[str, bool] = {"f": True, "hidden": False, "f_untrained": True, "hidden_untrained": False}
#: per-pair measures of pairs.csv (r2_affine: affine R² between two models, mean of both ways)
PAIR_METRICS: tuple[str, ...] = ("mcca", "cca_min", "svcca", "r2_affine", "g_span")

# --------------------------------------------------------------------------- labels

METRIC_LABELS: dict[str, str] = {
    "r2_affine": "R²$_a$ (affine probe)",
    "r2_linear": "R²$_o$ (linear probe, no intercept)",
    "mae_sv": "MAE$_o$ (singular values vs 1/κ)",
    "sv_min": "smallest singular value",
    "sv_max": "largest singular value",
    "r2_w_v": "R²$_a$ (W rows → cluster vectors)",
    "r2_w_v_linear": "R²$_o$ (W rows → cluster vectors)",
    "mae_w_v": "MAE$_o$ (W rows → cluster vectors, singular values vs 1)",
    "mcc_pearson": "MCC (Pearson)",
    "mcc_spearman": "MCC (Spearman)",
    "mcc_pearson_aligned": "MCC (Pearson, aligned)",
    "mcc_spearman_aligned": "MCC (Spearman, aligned)",
    "r2_knn": "R² (kNN probe)",
    "r2_reverse": "reverse R² (latents → features)",
    "gain_x": "R²$_a$ gain over the observations x",
    "monitor_r2": "monitor R²",
    "loss": "cross-entropy loss",
    "mcca": "mean CCA between seeds",
    "cca_min": "smallest canonical correlation",
    "svcca": "SVCCA",
    "g_span": "span of the g differences",
}

AXIS_LABELS: dict[str, str] = {
    "latent_dim": "latent dimension d",
    "n_classes": "number of classes |C|",
    "n_instances": "number of instances N",
    "kappa": "concentration κ",
    "conditional": "conditional distribution",
    "cluster_prior": "cluster-vector prior",
    "label_noise": "label-noise probability p",
    "cond_beta": "conditional shape / bound β",
    "prior_shape": "cluster-prior shape p",
    "prior_scale": "cluster-prior scale",
    "step": "training step",
}


def label(name: str) -> str:
    """Human-readable label of a metric or axis column (the name itself when unknown)."""
    return METRIC_LABELS.get(name) or AXIS_LABELS.get(name) or name
