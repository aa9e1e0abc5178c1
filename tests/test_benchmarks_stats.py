"""The statistics helpers of benchmarks/compare_reference.py (a script, imported from its path)."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_reference.py"
spec = importlib.util.spec_from_file_location("compare_reference", SCRIPT)
cr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cr)


def test_t_interval_by_hand():
    mean, std, lo, hi = cr.t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and std == 1.0
    half = 4.302652729911275 / math.sqrt(3)  # t_{0.975, 2}
    assert lo == pytest.approx(2.0 - half) and hi == pytest.approx(2.0 + half)


def test_t_interval_single_value_has_no_spread():
    mean, std, lo, hi = cr.t_interval([0.5])
    assert mean == 0.5 and math.isnan(std) and math.isnan(lo) and math.isnan(hi)


def test_two_sample_tests_separated_and_equal():
    a, b = [0.90, 0.91, 0.92, 0.93, 0.94, 0.95], [0.50, 0.51, 0.52, 0.53, 0.54, 0.55]
    p = cr.two_sample_tests(a, b)
    # exact two-sided Mann–Whitney for complete separation of 6 vs 6: 2 / C(12, 6)
    assert p["mannwhitney_p"] == pytest.approx(2 / 924)
    assert p["welch_p"] < 1e-10
    same = cr.two_sample_tests(a, a)
    assert same["welch_p"] == pytest.approx(1.0) and same["mannwhitney_p"] == pytest.approx(1.0)
    assert all(math.isnan(v) for v in cr.two_sample_tests([1.0], b).values())


def test_welch_uses_unequal_variances():
    a = [0.0, 0.1, -0.1, 0.05, -0.05, 0.0]
    b = [1.0, -1.0, 2.0, -2.0, 0.5, 0.7]
    m_a, s_a, m_b, s_b = np.mean(a), np.std(a, ddof=1), np.mean(b), np.std(b, ddof=1)
    se2 = s_a**2 / 6 + s_b**2 / 6
    t = (m_a - m_b) / math.sqrt(se2)
    df = se2**2 / ((s_a**2 / 6) ** 2 / 5 + (s_b**2 / 6) ** 2 / 5)  # Welch–Satterthwaite
    assert cr.two_sample_tests(a, b)["welch_p"] == pytest.approx(2 * stats.t.sf(abs(t), df))


def test_affine_r2_exact_and_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    z = x @ rng.normal(size=(3, 2)) + 1.5
    assert cr.affine_r2(x, z) == pytest.approx(1.0)
    assert cr.affine_r2(x, rng.normal(size=(400, 2))) < 0.05
