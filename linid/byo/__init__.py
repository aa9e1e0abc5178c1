"""Bring your own activations (docs/byo.md): probe and compare feature arrays of pre-trained models.

- :mod:`linid.byo.files`: the ``.npz`` formats (one factors file, one file per model), loading,
  and :func:`~linid.byo.files.check_inputs`, which lists every problem before any job starts.
- :mod:`linid.byo.probes`: linear probes of one layer: continuous factors (least squares R²),
  binary factors (the ImageNet-X logistic-regression protocol of [R] §4.3), class labels.
- :mod:`linid.byo.compare`: layer × layer comparison of two models (mCCA, SVCCA, affine R²).
- :mod:`linid.byo.digits`: a worked example on scikit-learn's digits (small torch MLPs).

Its figures (layer matrices, probe bars) are :mod:`linid.report.byo_figures`.
"""
