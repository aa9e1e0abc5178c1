"""The one validation every probe shares: finite 2-D float64 arrays paired by rows, and the halves."""

import numpy as np
import pytest

from linid.probes.arrays import as_matrix, check_pair, halves


def test_as_matrix_converts_and_names_the_problem():
    out = as_matrix([[1, 2], [3, 4]], "f")
    assert out.dtype == np.float64 and out.shape == (2, 2)
    with pytest.raises(ValueError, match="f must be a 2-D array"):
        as_matrix(np.zeros(3), "f")
    with pytest.raises(ValueError, match="g must be non-empty"):
        as_matrix(np.zeros((0, 2)), "g")
    with pytest.raises(ValueError, match="h contains 2 non-finite"):
        as_matrix([[np.nan, 1.0], [np.inf, 0.0]], "h")


def test_check_pair_rows_and_minimum():
    with pytest.raises(ValueError, match="a and b must have the same number of rows, got 3 and 4"):
        check_pair(np.zeros((3, 1)), np.zeros((4, 1)), names=("a", "b"))
    with pytest.raises(ValueError, match="at least 4 rows"):
        check_pair(np.zeros((3, 1)), np.zeros((3, 1)))
    x, y = check_pair(np.ones((5, 2)), np.zeros((5, 1)))
    assert x.shape == (5, 2) and y.shape == (5, 1)


def test_halves_fit_on_first_half_score_on_the_rest():
    x = np.arange(10.0)[:, None]
    xf, yf, xt, yt = halves(x, 2 * x)
    assert xf[:, 0].tolist() == [0, 1, 2, 3, 4] and xt[:, 0].tolist() == [5, 6, 7, 8, 9]
    assert np.array_equal(yt, 2 * xt)
