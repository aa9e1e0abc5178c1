"""How many rows a fit or a comparison needs for its number to mean something: the one home of
these rules, asked by the probes and comparisons when they run and by the config checks at the
door (linid.pipeline.semantics), so that a config the door accepts never fails in a job.

Plain integers only (no numpy, no scikit-learn): the workflow reads this module at parse time.

* A **least-squares fit** of p features (plus an intercept) on its fit half, scored on the other
  half (linid.probes.regression): the fit half needs p + intercept + 1 rows (one more than the
  coefficients per target, so that the fit leaves a residual), the score half at least 2 (R² of a
  single row is undefined). Rows are split half/half, so ``2 · (p + intercept + 1)`` rows.
* **CCA** of a (n, p) and b (n, q) (linid.probes.cca): centred, both live in an (n − 1)-dimensional
  space, and when p + q > n − 1 at least p + q − (n − 1) canonical correlations are 1 whatever
  the data (two 64-D embeddings of 30 words "agree" perfectly). It needs n > p + q.
"""

from __future__ import annotations


def fit_rows(dim: int, intercept: bool = True) -> int:
    """Rows a half/half least-squares fit of ``dim`` features needs (fit half and score half)."""
    return 2 * max(int(dim) + int(intercept) + 1, 2)


def cca_rows(p: int, q: int) -> int:
    """Rows CCA of a p- and a q-column matrix needs: more than p + q."""
    return int(p) + int(q) + 1


def comparison_rows(p: int, q: int) -> int:
    """Rows a comparison of a (n, p) and b (n, q) needs: CCA, and the affine fit both ways."""
    return max(cca_rows(p, q), fit_rows(max(p, q), intercept=True))


def max_compared_width(rows: int) -> int:
    """The widest two layers that :func:`comparison_rows` lets ``rows`` rows compare (2w + 4 ≤ rows)."""
    return max((int(rows) - 4) // 2, 0)


def probe_block_problems(d: int, n_affine: int, n_linear: int, knn_neighbors: int) -> list[str]:
    """The [R] probe's two blocks for features and latents of dimension d (linid.probes.suite):
    R²_a, MCC and the kNN control on n_affine rows (an affine fit), R²_o and the singular values
    on n_linear rows (a fit without intercept). One message per problem, naming the size."""
    out = []
    need_a, need_o = fit_rows(d, intercept=True), fit_rows(d, intercept=False)
    if n_affine < need_a:
        out.append(f"n_affine = {n_affine}: its fit half must hold at least d + 2 = {need_a // 2} rows "
                   f"(an affine map of d = {d} has d + 1 coefficients, and R² needs a spread); use at "
                   f"least {need_a}")
    elif knn_neighbors > n_affine // 2:
        out.append(f"knn_neighbors = {knn_neighbors}: more neighbours than the {n_affine // 2} rows of "
                   "n_affine's fit half")
    if n_linear < need_o:
        out.append(f"n_linear = {n_linear}: R²_o of d = {d} latents is fitted on half the rows (d "
                   f"coefficients, plus one row for a residual) and scored on the other half; use at "
                   f"least {need_o}")
    return out
