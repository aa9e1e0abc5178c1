"""Image data sets in their published layouts, and csi's targets, split and pixel scaling."""

from __future__ import annotations

import itertools

import h5py
import numpy as np
import pytest
from sklearn.preprocessing import minmax_scale

from linid.images import data, dsprites, source
from linid.images.data import DatasetFormatError, ImageDataset

RNG = np.random.default_rng(0)

SHAPES3D_LEVELS = [np.linspace(0, 1, 10, endpoint=False)] * 3 + [
    np.linspace(0.75, 1.25, 8), np.arange(4.0), np.linspace(-30, 30, 15)]


def _images(n: int, *shape: int) -> np.ndarray:
    return RNG.integers(0, 256, size=(n, *shape), dtype=np.uint8)


def _shapes3d_labels(n: int) -> np.ndarray:
    """n label rows on the 3dshapes grid; the first two rows hold every factor's extremes."""
    labels = np.stack([RNG.choice(lv, n) for lv in SHAPES3D_LEVELS], axis=1)
    labels[0] = [lv[0] for lv in SHAPES3D_LEVELS]
    labels[1] = [lv[-1] for lv in SHAPES3D_LEVELS]
    return labels


@pytest.fixture
def shapes3d_h5(tmp_path):
    path = tmp_path / "3dshapes.h5"
    images, labels = _images(40, 64, 64, 3), _shapes3d_labels(40)
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images)
        f.create_dataset("labels", data=labels)
    return path, images, labels


def _cars3d(n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Images [n, 64, 64, 3] and fb's Cars3D lat_values (grid index / (size − 1))."""
    sizes = np.array([4, 24, 183])
    rows = RNG.choice(int(np.prod(sizes)), n, replace=False)
    return _images(n, 64, 64, 3), np.stack(np.unravel_index(rows, sizes), 1) / (sizes - 1.0)


def _smallnorb(n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Images [n, 64, 64, 1] and min-max-scaled labels (category, instance, elevation, ...)."""
    labels = np.stack([RNG.integers(0, k, n) for k in (5, 10, 9, 18, 6)], 1).astype(float)
    labels[0], labels[1] = 0, [4, 9, 8, 17, 5]
    return _images(n, 64, 64, 1), minmax_scale(labels)


# --------------------------------------------------------------------------- layouts ---------


def test_shapes3d_h5(shapes3d_h5):
    path, images, labels = shapes3d_h5
    ds = data.load(path, "shapes3d")
    assert ds.name == "shapes3d" and len(ds) == 40
    assert ds.images.shape == (40, 3, 64, 64) and ds.images.dtype == np.uint8
    np.testing.assert_array_equal(ds.images, images.transpose(0, 3, 1, 2))
    assert ds.factor_names == ("floorCol", "wallCol", "objCol", "objSize", "objType",
                               "objAzimuth")
    np.testing.assert_array_equal(ds.factors, minmax_scale(labels))  # fb scales the loaded rows
    assert ds.factors.min() == 0 and ds.factors.max() == 1
    assert ds.categorical == "objType" and ds.categorical_index == 4
    assert ds.continuous == ("objSize", "objAzimuth")
    assert ds.periodic == ("floorCol", "wallCol", "objCol") and ds.other == ()
    np.testing.assert_array_equal(data.official_targets(ds.factors)[:, 4], labels[:, 4])


def test_mpi3d_factors_follow_fb_grid_construction():
    # fb builds lat_values by nested loops over np.linspace(0, 1, size), posY innermost
    levels = [np.linspace(0, 1, k) for k in data.MPI3D_SIZES]
    head = np.array(list(itertools.islice(itertools.product(*levels), 5000)))
    np.testing.assert_array_equal(data.mpi3d_factors(np.arange(5000)), head)
    assert data.MPI3D_N == 1_036_800
    full = data.mpi3d_factors(np.arange(data.MPI3D_N))
    np.testing.assert_array_equal(minmax_scale(full), full)  # fb's minmax_scale is the identity
    np.testing.assert_array_equal(full[-1], np.ones(7))
    np.testing.assert_array_equal(full[40], [0, 0, 0, 0, 0, 1 / 39, 0])
    targets = data.official_targets(full)
    np.testing.assert_array_equal(targets, np.stack(np.unravel_index(np.arange(data.MPI3D_N),
                                                                     data.MPI3D_SIZES), 1))


@pytest.mark.parametrize("layout", ["mpi3d", "mpi3d_real"])
def test_mpi3d_subsample_npz(tmp_path, layout):
    rows = np.sort(RNG.choice(data.MPI3D_N, 25, replace=False))
    images = _images(25, 64, 64, 3)
    path = tmp_path / f"{layout}.npz"
    np.savez(path, images=images, indices=rows)
    ds = data.load(path, layout)
    assert ds.name == layout and ds.images.shape == (25, 3, 64, 64)
    np.testing.assert_array_equal(ds.images, images.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(ds.factors, data.mpi3d_factors(rows))
    assert ds.categorical == "objShape" and ds.continuous == ("posX", "posY")
    assert ds.other == ("objCol", "objSize", "cameraHeight", "backCol") and ds.periodic == ()


def test_mpi3d_without_indices_must_be_the_full_grid(tmp_path):
    path = tmp_path / "mpi3d_toy.npz"
    np.savez(path, images=_images(10, 64, 64, 3))
    with pytest.raises(DatasetFormatError, match=r"mpi3d_toy\.npz: key 'images': .*1036800"):
        data.load(path, "mpi3d")


@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_generic_cars3d(tmp_path, suffix):
    images, factors = _cars3d()
    path = tmp_path / f"cars3d{suffix}"
    arrays = {"images": images, "factors": factors,
              "factor_names": np.array(["elevation", "azimuth", "object_type"]),
              "categorical": np.array("object_type"), "periodic": np.array(["azimuth"])}
    if suffix == ".npz":
        np.savez(path, **arrays)
    else:
        with h5py.File(path, "w") as f:
            for k, v in arrays.items():
                f.create_dataset(k, data=v.astype(object) if v.dtype.kind == "U" else v,
                                 dtype=h5py.string_dtype() if v.dtype.kind == "U" else None)
    ds = data.load(path, "generic")
    assert ds.name == "cars3d" and ds.images.shape == (30, 3, 64, 64)
    np.testing.assert_array_equal(ds.images, images.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(ds.factors[:, :2], factors[:, :2])
    # the class factor: the file's values, or (when they are no grid from 0, as a 30-row sample of
    # the 183 object types) class indices whose recorded levels give the file's values back
    cat = ds.factors[:, 2]
    if ds.category_levels:
        assert not data.csi_grid(factors[:, 2])
        cat = np.asarray(ds.category_levels)[cat.astype(int)]
    np.testing.assert_array_equal(cat, factors[:, 2])
    roles = data.CSI_ROLES["cars3d"]
    assert ds.factor_names == data.FACTOR_NAMES["cars3d"]
    assert (ds.categorical,) == roles["categorical"]
    assert ds.continuous == roles["continuous"]  # the default: every remaining factor
    assert ds.periodic == roles["periodic"] and ds.other == ()


@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_generic_smallnorb_round_trip(tmp_path, suffix):
    images, factors = _smallnorb()
    ds = ImageDataset("smallnorb", data.channel_first(images), factors,
                      data.FACTOR_NAMES["smallnorb"], "category", continuous=("elevation",),
                      periodic=("rotation",), other=("lighting", "instance"))
    path = tmp_path / f"norb{suffix}"
    data.save_generic(path, ds)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    back = data.load(path, "generic")
    assert back == ImageDataset(back.name, back.images, back.factors, ds.factor_names,
                                "category", ("elevation",), ("rotation",),
                                ("lighting", "instance"))
    assert back.name == "smallnorb" and back.images.shape == (30, 1, 64, 64)
    np.testing.assert_array_equal(back.images, images.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(back.factors, factors)


def test_generic_grey_images_without_channel_axis(tmp_path):
    path = tmp_path / "g.npz"
    images = np.random.default_rng(1).random((6, 64, 64))
    np.savez(path, images=images, factors=np.arange(12.0).reshape(6, 2),
             factor_names=np.array(["a", "b"]), categorical=np.array("b"))
    ds = data.load(path, "generic")
    assert ds.images.shape == (6, 1, 64, 64) and ds.images.dtype == np.float64
    assert ds.categorical == "b" and ds.continuous == ("a",) and ds.name == "g"


def test_csi_roles_are_the_official_ones():
    """Every data set's roles name each fb factor exactly once (smallNORB: instance is 'other')."""
    for name, names in data.FACTOR_NAMES.items():
        r = source.roles(name, names)
        listed = (r["categorical"],) + r["continuous"] + r["periodic"] + r["other"]
        assert sorted(listed) == sorted(names), name
    assert data.CSI_ROLES["smallnorb"]["categorical"] == ("category", "instance")
    assert source.roles("smallnorb", data.FACTOR_NAMES["smallnorb"])["categorical"] == "category"
    assert data.NUM_CHANNELS == {"dsprites": 1, "shapes3d": 3, "mpi3d": 3, "mpi3d_real": 3,
                                 "cars3d": 3, "smallnorb": 1}


# ---------------------------------------------------------------------------- errors ---------


def test_error_missing_file(tmp_path):
    with pytest.raises(DatasetFormatError, match=r"nothere\.npz: no such file"):
        data.load(tmp_path / "nothere.npz", "dsprites")


def test_error_not_an_archive(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"junk\.npz: not a readable \.npz"):
        data.load(path, "generic")


def test_error_missing_key(tmp_path):
    path = tmp_path / "3dshapes.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=_images(3, 64, 64, 3))
    with pytest.raises(DatasetFormatError, match=r"3dshapes\.h5: missing key 'labels': expected "
                                                 r"float \[n, 6\]"):
        data.load(path, "shapes3d")


def test_error_wrong_shape(tmp_path):
    path = tmp_path / "ds.npz"
    np.savez(path, imgs=np.zeros((4, 32, 32), np.uint8), latents_values=np.ones((4, 6)))
    with pytest.raises(DatasetFormatError,
                       match=r"ds\.npz: key 'imgs': expected uint8 images \[n, 64, 64\].*"
                             r"got shape \(4, 32, 32\)"):
        data.load(path, "dsprites")


def test_error_mismatched_lengths(tmp_path):
    path = tmp_path / "g.npz"
    np.savez(path, images=_images(5, 64, 64, 3), factors=np.zeros((4, 2)),
             factor_names=np.array(["a", "b"]), categorical=np.array("a"))
    with pytest.raises(DatasetFormatError, match=r"g\.npz: key 'factors': expected 5 rows .*got 4"):
        data.load(path, "generic")


def test_error_factor_names_length(tmp_path):
    path = tmp_path / "g.npz"
    np.savez(path, images=_images(5, 64, 64, 3), factors=np.zeros((5, 2)),
             factor_names=np.array(["a", "b", "c"]), categorical=np.array("a"))
    with pytest.raises(DatasetFormatError, match=r"key 'factor_names': expected 2 names"):
        data.load(path, "generic")


def test_error_unknown_layout(tmp_path):
    with pytest.raises(ValueError, match=r"x\.npz: unknown layout 'cars3d'; expected one of"):
        data.load(tmp_path / "x.npz", "cars3d")


def test_error_factor_not_in_factor_names(tmp_path):
    path = tmp_path / "g.npz"
    np.savez(path, images=_images(5, 64, 64, 3), factors=np.zeros((5, 2)),
             factor_names=np.array(["a", "b"]), categorical=np.array("colour"))
    with pytest.raises(DatasetFormatError,
                       match=r"g\.npz: key 'categorical': factor 'colour' is not one of "
                             r"factor_names \('a', 'b'\)"):
        data.load(path, "generic")


def test_error_dsprites_values_off_grid(tmp_path):
    path = tmp_path / "ds.npz"
    values = dsprites.latent_values(dsprites.latent_classes(np.arange(4)))
    values[2, 2] = 1.5
    np.savez(path, imgs=np.zeros((4, 64, 64), np.uint8), latents_values=values)
    with pytest.raises(DatasetFormatError, match=r"key 'latents_values': column 2 \(scale\)"):
        data.load(path, "dsprites")


# ---------------------------------------------------------------- the official transforms ----


def test_official_targets_on_the_dsprites_grid():
    grid = dsprites.latent_classes()
    factors = data.dsprites_scaler().transform(dsprites.latent_values(grid))[:, 1:]
    np.testing.assert_array_equal(factors, minmax_scale(dsprites.latent_values(grid))[:, 1:])
    targets = data.official_targets(factors)
    assert targets.dtype == np.int64
    np.testing.assert_array_equal(targets, grid[:, 1:])
    with pytest.raises(ValueError, match="column 0 has 1 distinct"):
        data.official_targets(np.ones((3, 1)))


def test_official_targets_truncation_merges_cars3d_classes():
    """csi's float division then truncation maps Cars3D's 183 object types to 138 targets."""
    t = data.official_targets((np.arange(183) / 182.0)[:, None])[:, 0]
    assert len(np.unique(t)) == 138 and t[4] == t[5] == 4 and t[-1] == 182


def test_split_indices_is_csi_split():
    for n, seed in [(1000, 42), (737, 51), (10, 0)]:
        train, val, test = data.split_indices(n, seed)
        assert len(val) == len(test) == int(n * 0.1)
        assert len(train) == n - 2 * int(n * 0.1)
        joined = np.concatenate([train, val, test])
        assert len(np.unique(joined)) == n and joined.min() == 0 and joined.max() == n - 1
        state = np.random.get_state()
        try:
            np.random.seed(seed)
            indices = np.random.choice(n, n, replace=False)
        finally:
            np.random.set_state(state)
        k = int(n * 0.1)
        np.testing.assert_array_equal(val, indices[:k])
        np.testing.assert_array_equal(test, indices[k:2 * k])
        np.testing.assert_array_equal(train, indices[2 * k:])


def test_to_float_is_divide_by_255():
    u8 = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    out = data.to_float(u8)
    assert out.dtype == np.float32 and out.shape == (1, 1, 16, 16)
    np.testing.assert_array_equal(out[:, 0], (u8 / 255.0).astype(np.float32))
    binary = np.array([[[0, 1]]], dtype=np.uint8)  # dSprites: {0, 1} → {0, 1/255}, as in csi
    np.testing.assert_array_equal(data.to_float(binary).ravel(), np.float32([0, 1 / 255]))
    rgb = _images(2, 8, 8, 3)
    np.testing.assert_array_equal(data.to_float(rgb),
                                  (rgb.transpose(0, 3, 1, 2) / 255.0).astype(np.float32))
    f = np.full((1, 3, 4, 4), 127.5)
    np.testing.assert_array_equal(data.to_float(f), np.float32(0.5))
