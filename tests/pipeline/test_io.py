"""Atomic outputs: a writer that dies half-way leaves the old file (or none), never a truncated one."""

from __future__ import annotations

import numpy as np
import pytest

from linid.pipeline.io import atomic_json, atomic_savez, atomic_write, read_json


class Killed(Exception):
    pass


def _die_half_way(tmp):
    tmp.write_text('{"half": ')  # a truncated JSON document
    raise Killed


def test_failed_write_leaves_no_file_and_no_temp(tmp_path):
    target = tmp_path / "sub" / "out.json"
    with pytest.raises(Killed):
        atomic_write(target, _die_half_way)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_failed_write_keeps_the_previous_version(tmp_path):
    target = tmp_path / "out.json"
    atomic_json(target, {"r2": 0.99})
    with pytest.raises(Killed):
        atomic_write(target, _die_half_way)
    assert read_json(target) == {"r2": 0.99}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_savez_roundtrip_keeps_name_and_values(tmp_path):
    target = tmp_path / "feat.npz"
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    atomic_savez(target, features=a, z=np.float64(2.5))
    with np.load(target) as f:
        assert sorted(f.files) == ["features", "z"]
        np.testing.assert_array_equal(f["features"], a)
        assert float(f["z"]) == 2.5
    assert [p.name for p in tmp_path.iterdir()] == ["feat.npz"]


def test_json_numpy_scalars_and_nan(tmp_path):
    target = tmp_path / "m.json"
    atomic_json(target, {"x": np.float32(0.5), "v": np.arange(3), "nan": float("nan")})
    got = read_json(target)
    assert got["x"] == 0.5 and got["v"] == [0, 1, 2] and np.isnan(got["nan"])
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        atomic_json(target, {"bad": object()})
    assert read_json(target)["x"] == 0.5  # the failed dump did not touch the file
