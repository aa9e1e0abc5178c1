"""linid.probes.stats: the one z-score and Pearson's r every probe and comparison uses."""

import numpy as np
import pytest

from linid.probes.stats import pearson, zscore, zscore_fit


def test_zscore_uses_the_fit_rows_and_drops_constant_columns():
    x = np.array([[1.0, 5.0, 0.0], [3.0, 5.0, 1.0], [5.0, 5.0, 2.0], [100.0, 7.0, 3.0]])
    z = zscore(x, fit_rows=[0, 1, 2])  # column 1 is constant on the fit rows: dropped
    assert z.shape == (4, 2)
    assert np.allclose(z[:3, 0], [-1.2247449, 0.0, 1.2247449]) and z[3, 0] == pytest.approx((100 - 3) / np.std([1, 3, 5]))
    assert np.allclose(zscore(x).mean(0), 0) and np.allclose(zscore(x).std(0), 1)
    mu, sd, keep = zscore_fit(x[:3])
    assert keep.tolist() == [True, False, True] and mu[1] == 5.0 and sd[1] == 0.0


def test_pearson():
    assert pearson(np.arange(5.0), 3 * np.arange(5.0) + 1) == pytest.approx(1.0)
    assert pearson(np.arange(5.0), -np.arange(5.0)) == pytest.approx(-1.0)
    assert np.isnan(pearson(np.ones(4), np.arange(4.0)))
