"""Linear probes of one layer's features (docs/byo.md §2): what a linear read-out recovers.

- Continuous factors: least squares with intercept on a seeded train split, R² and Pearson r of
  the prediction on the test split.
- Binary factors: the ImageNet-X protocol of [R] §4.3, as the official ``imagenetx/decode.py`` runs
  it: z-score, then per repetition a stratified split, both halves balanced by keeping the first
  n_min samples of each class, and a default ``LogisticRegression``; test accuracy and ROC-AUC,
  mean and std over repetitions.
- Class labels: multinomial logistic regression on the seeded split, test accuracy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.utils import shuffle

from linid.byo.files import Factors
from linid.probes.arrays import Array, as_matrix
from linid.probes.stats import pearson, zscore, zscore_fit

Index = NDArray[np.intp]

# decode.py: `LogisticRegression(random_state=SEED + rep)` leaves max_iter at sklearn's 100, which
# z-scored wide features (ResNet-50: 2048) can exhaust before lbfgs converges. Same model, more room.
MAX_ITER = 10_000
# decode.py's balance_classes shuffles with the module constant SEED = 42, whatever the repetition.
BALANCE_SHUFFLE_SEED = 42

PROBE_COLUMNS = ["factor", "kind", "metric", "value", "std", "n_train", "n_test", "note"]


def split(n: int, test_fraction: float, seed: int) -> tuple[Index, Index]:
    """(train, test) row indices, sorted: test = the first round(n·test_fraction) of a permutation.

    The permutation is ``np.random.default_rng(seed).permutation(n)``; both parts hold ≥ 2 rows.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    n_test = int(round(n * test_fraction))
    if n_test < 2 or n - n_test < 2:
        raise ValueError(
            f"cannot split {n} rows with test_fraction={test_fraction}: "
            f"{n - n_test} train and {n_test} test rows, need at least 2 each"
        )
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def continuous_probes(
    features: ArrayLike,
    factors: ArrayLike,
    names: list[str],
    train: ArrayLike,
    test: ArrayLike,
) -> list[dict]:
    """Per factor: least squares y ≈ W z + b on the train rows, R² and Pearson r on the test rows.

    Features are z-scored with train statistics (columns constant on train dropped); the fit is
    ``np.linalg.lstsq`` (SVD, minimum-norm when rank-deficient) on [z, 1]. R² = 1 − SS_res/SS_tot
    of the test rows, nan when the factor is constant on them.
    """
    x = as_matrix(features, "features")
    y = as_matrix(factors, "continuous factors")
    tr, te = np.asarray(train, dtype=np.intp), np.asarray(test, dtype=np.intp)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"features have {x.shape[0]} rows but factors have {y.shape[0]}")
    if len(names) != y.shape[1]:
        raise ValueError(f"{len(names)} name(s) for {y.shape[1]} continuous factor(s)")
    z = zscore(x, fit_rows=tr)
    design = np.hstack([z, np.ones((x.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(design[tr], y[tr], rcond=None)
    pred = design[te] @ coef
    out = []
    for j, name in enumerate(names):
        t, p = y[te, j], pred[:, j]
        ss_tot = float(np.sum((t - t.mean()) ** 2))
        r2 = 1.0 - float(np.sum((t - p) ** 2)) / ss_tot if ss_tot > 0 else float("nan")
        out.append({"factor": str(name), "r2": r2, "pearson_r": pearson(t, p)})
    return out


def balance_classes(x: Array, y: NDArray[np.int64]) -> tuple[Array, NDArray[np.int64]]:
    """decode.py ``balance_classes``: the first n_min rows of each class, shuffled with seed 42."""
    x0, x1 = x[y == 0], x[y == 1]
    m = min(len(x0), len(x1))
    xb = np.vstack((x0[:m], x1[:m]))
    yb = np.concatenate((np.zeros(m, dtype=np.int64), np.ones(m, dtype=np.int64)))
    xb, yb = shuffle(xb, yb, random_state=BALANCE_SHUFFLE_SEED)
    return xb, yb


def _fit_logistic(
    x: Array, y: NDArray[np.int64], random_state: int, what: str
) -> LogisticRegression:
    """``LogisticRegression(random_state, max_iter=MAX_ITER)``; non-convergence warns naming what."""
    clf = LogisticRegression(random_state=random_state, max_iter=MAX_ITER)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(x, y)
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            msg = f"{what}: logistic regression did not converge in max_iter={MAX_ITER} iterations"
            warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return clf


def binary_probes(
    features: ArrayLike,
    binary: ArrayLike,
    names: list[str],
    seed: int,
    test_fraction: float = 0.3,
    n_rep: int = 10,
    *,
    drop_dead: bool = False,
) -> list[dict]:
    """The ImageNet-X protocol of decode.py per binary factor: balanced logistic-regression probes.

    Features: with ``drop_dead`` only the columns with mean > 0 are kept (decode.py's filter for
    dead ReLU units; on signed features it also drops live ones), columns constant over all rows
    are always dropped, the rest z-scored over all rows. Per repetition r: stratified
    ``train_test_split(test_size=test_fraction, random_state=seed + r)``, train and test each
    balanced by :func:`balance_classes`, ``LogisticRegression(random_state=seed + r)`` (sklearn
    defaults, max_iter = MAX_ITER), accuracy and ROC-AUC of P(class 1) on the balanced test rows.
    Returns per factor the mean and std (over repetitions) and the balanced set sizes.
    """
    x = as_matrix(features, "features")
    b = np.asarray(binary)
    if b.ndim != 2 or b.shape[0] != x.shape[0]:
        raise ValueError(f"binary factors must be ({x.shape[0]}, m), got shape {b.shape}")
    if len(names) != b.shape[1]:
        raise ValueError(f"{len(names)} name(s) for {b.shape[1]} binary factor(s)")
    if int(n_rep) != n_rep or n_rep < 1:
        raise ValueError(f"n_rep must be a positive integer, got {n_rep!r}")
    if drop_dead:
        x = x[:, x.mean(axis=0) > 0]
    mu, sd, keep = zscore_fit(x)
    if not keep.any():
        raise ValueError("every feature is constant (after dropping dead ones): nothing to probe")
    z = (x[:, keep] - mu[keep]) / sd[keep]

    out = []
    for j, name in enumerate(names):
        y = b[:, j]
        if not np.all(np.isin(y, [0, 1])):
            raise ValueError(f"binary factor '{name}' holds values other than 0/1")
        y = y.astype(np.int64)
        counts = np.bincount(y, minlength=2)
        acc, auc = [], []
        for rep in range(int(n_rep)):
            rs = int(seed) + rep
            try:
                x_tr, x_te, y_tr, y_te = train_test_split(
                    z, y, test_size=test_fraction, random_state=rs, stratify=y
                )
            except ValueError as e:
                raise ValueError(
                    f"binary factor '{name}' (class counts {counts.tolist()}) cannot be split "
                    f"with test_fraction={test_fraction}: {e}"
                ) from None
            for part, yy in (("train", y_tr), ("test", y_te)):
                c = np.bincount(yy, minlength=2)
                if c.min() < 2:
                    raise ValueError(
                        f"binary factor '{name}': its minority class is too small "
                        f"(class counts {counts.tolist()}); the {part} split holds "
                        f"{c.tolist()} samples per class, need at least 2 of each"
                    )
            xb_tr, yb_tr = balance_classes(x_tr, y_tr)
            xb_te, yb_te = balance_classes(x_te, y_te)
            clf = _fit_logistic(xb_tr, yb_tr, rs, f"binary factor '{name}', repetition {rep}")
            acc.append(float(np.mean(clf.predict(xb_te) == yb_te)))
            auc.append(float(roc_auc_score(yb_te, clf.predict_proba(xb_te)[:, 1])))
        out.append(
            {
                "factor": str(name),
                "accuracy": float(np.mean(acc)),
                "accuracy_std": float(np.std(acc)),
                "roc_auc": float(np.mean(auc)),
                "roc_auc_std": float(np.std(auc)),
                "n_train": int(len(yb_tr)),
                "n_test": int(len(yb_te)),
            }
        )
    return out


def label_probe(features: ArrayLike, labels: ArrayLike, train: ArrayLike, test: ArrayLike) -> float:
    """Test accuracy of a multinomial logistic regression of the class labels (train z-scoring)."""
    x = as_matrix(features, "features")
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"labels must be ({x.shape[0]},), got shape {y.shape}")
    tr, te = np.asarray(train, dtype=np.intp), np.asarray(test, dtype=np.intp)
    if np.unique(y[tr]).size < 2:
        raise ValueError("labels: the train split holds a single class")
    z = zscore(x, fit_rows=tr)
    clf = _fit_logistic(z[tr], y[tr], 0, "label probe")
    return float(np.mean(clf.predict(z[te]) == y[te]))


def probe_layer(
    features: ArrayLike,
    factors: Factors,
    *,
    seed: int,
    test_fraction: float,
    n_rep: int,
    drop_dead: bool = False,
) -> pd.DataFrame:
    """Every probe of one layer as a long table: factor, kind, metric, value, std, n_train, n_test.

    kind "continuous" (metrics r2, pearson_r; std nan: one split), "binary" (accuracy, roc_auc;
    mean and std over ``n_rep`` repetitions of the ImageNet-X protocol) and "label" (factor
    "label", metric accuracy on the test split of :func:`split`).
    """
    x = as_matrix(features, "features")
    if factors.n is not None and factors.n != x.shape[0]:
        raise ValueError(f"features have {x.shape[0]} rows but the factors have {factors.n}")
    train, test = split(x.shape[0], test_fraction, seed)
    rows: list[dict] = []
    nan = float("nan")
    if np.all(np.ptp(x, axis=0) == 0):  # a dead layer: every probe undefined, the table kept
        note = "the layer is constant (dead): nothing to probe"
        names = [(f, "continuous", ("r2", "pearson_r")) for f in
                 (factors.continuous_names if factors.continuous is not None else [])]
        names += [(f, "binary", ("accuracy", "roc_auc")) for f in
                  (factors.binary_names if factors.binary is not None else [])]
        names += [("label", "label", ("accuracy",))] if factors.labels is not None else []
        return pd.DataFrame(
            [{"factor": f, "kind": kind, "metric": m, "value": nan, "std": nan, "n_train": len(train),
              "n_test": len(test), "note": note} for f, kind, metrics in names for m in metrics],
            columns=PROBE_COLUMNS)
    if factors.continuous is not None:
        for r in continuous_probes(x, factors.continuous, factors.continuous_names, train, test):
            for metric in ("r2", "pearson_r"):
                rows.append(
                    {
                        "factor": r["factor"],
                        "kind": "continuous",
                        "metric": metric,
                        "value": r[metric],
                        "std": nan,
                        "n_train": len(train),
                        "n_test": len(test),
                    }
                )
    if factors.binary is not None:
        res = binary_probes(
            x,
            factors.binary,
            factors.binary_names,
            seed,
            test_fraction=test_fraction,
            n_rep=n_rep,
            drop_dead=drop_dead,
        )
        for r in res:
            for metric in ("accuracy", "roc_auc"):
                rows.append(
                    {
                        "factor": r["factor"],
                        "kind": "binary",
                        "metric": metric,
                        "value": r[metric],
                        "std": r[f"{metric}_std"],
                        "n_train": r["n_train"],
                        "n_test": r["n_test"],
                    }
                )
    if factors.labels is not None:
        rows.append(
            {
                "factor": "label",
                "kind": "label",
                "metric": "accuracy",
                "value": label_probe(x, factors.labels, train, test),
                "std": nan,
                "n_train": len(train),
                "n_test": len(test),
            }
        )
    return pd.DataFrame(rows, columns=PROBE_COLUMNS).assign(note="")
