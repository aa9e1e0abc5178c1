"""Atomic outputs: a writer that dies half-way leaves the old file (or none), never a truncated one."""

from __future__ import annotations

import numpy as np
import pytest

from linid.core.io import atomic_json, atomic_savez, atomic_write, read_json


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


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_outputs_respect_the_umask(tmp_path, umask, mode):
    """mkstemp makes 0600 files; a group on a shared cluster could not read results."""
    import os

    from linid.core.io import atomic_json, atomic_savez

    old = os.umask(umask)
    try:
        atomic_json(tmp_path / "a.json", {"x": 1})
        atomic_savez(tmp_path / "b.npz", x=np.zeros(2))
    finally:
        os.umask(old)
    for name in ("a.json", "b.npz"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode


def test_corrupt_inputs_are_named_with_how_to_rebuild(tmp_path):
    from linid.core.io import CorruptFile, atomic_savez, load_npz, read_json
    from linid.sim.models import build_models, load_model, save_model

    npz, pt, js = tmp_path / "d.npz", tmp_path / "m.pt", tmp_path / "s.json"
    atomic_savez(npz, x=np.arange(10000.0))
    enc, head = build_models(2, 5, 0)
    save_model(pt, enc, head, {})
    for path in (npz, pt):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])  # truncated, as by a full disk
    js.write_text('{"steps": 10')
    for path, load in ((npz, load_npz), (pt, load_model), (js, read_json)):
        with pytest.raises(CorruptFile, match=rf"{path} is corrupt or truncated .*Delete it and run snakemake"):
            load(path)
    with pytest.raises(FileNotFoundError):
        load_npz(tmp_path / "missing.npz")
