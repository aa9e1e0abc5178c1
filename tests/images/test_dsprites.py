"""The dSprites renderer: the official grid, binary deterministic images, geometry, the npz schema."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import minmax_scale

from linid.images import data, dsprites


@pytest.fixture(scope="module")
def grid() -> np.ndarray:
    return dsprites.latent_classes()


def _classes(shape=0, scale=5, orientation=0, pos_x=16, pos_y=16) -> np.ndarray:
    """Level indices [n, 6] broadcast from per-factor levels (color is always level 0)."""
    cols = np.broadcast_arrays(0, shape, scale, orientation, pos_x, pos_y)
    return np.stack([np.ravel(c) for c in cols], axis=1).astype(np.int64)


def test_grid_size_and_order(grid):
    assert dsprites.N_IMAGES == 737_280 == grid.shape[0]
    assert dsprites.LATENT_NAMES == ("color", "shape", "scale", "orientation", "posX", "posY")
    assert dsprites.LATENT_SIZES == (1, 3, 6, 40, 32, 32)
    assert grid.dtype == np.int64 and grid.shape == (737_280, 6)
    # row-major, posY fastest: the stride of each factor is the product of the later sizes
    np.testing.assert_array_equal(grid[0], [0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(grid[1], [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(grid[32], [0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(grid[32 * 32], [0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(grid[40 * 32 * 32], [0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(grid[6 * 40 * 32 * 32], [0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(grid[-1], [0, 2, 5, 39, 31, 31])
    i = 2 * 245_760 + 3 * 40_960 + 17 * 1024 + 5 * 32 + 30
    np.testing.assert_array_equal(grid[i], [0, 2, 3, 17, 5, 30])
    idx = np.array([5, 0, 737_279, 123_456])
    np.testing.assert_array_equal(dsprites.latent_classes(idx), grid[idx])
    with pytest.raises(ValueError, match=r"\[0, 737280\)"):
        dsprites.latent_classes(np.array([737_280]))


def test_latent_values_are_the_official_levels(grid):
    v = dsprites.latent_values(grid)
    assert v.dtype == np.float64 and v.shape == (737_280, 6)
    for j, levels in enumerate(
        [[1.0], [1.0, 2.0, 3.0], np.linspace(0.5, 1, 6), np.linspace(0, 2 * np.pi, 40),
         np.linspace(0, 1, 32), np.linspace(0, 1, 32)]
    ):
        np.testing.assert_array_equal(np.unique(v[:, j]), levels)
    # the values the fb loader hard-codes (datasets/dsprites.py), printed to 8 decimals
    np.testing.assert_allclose(dsprites.LATENT_LEVELS[3][[1, 13, 39]],
                               [0.16110732, 2.0943951, 6.28318531], atol=1e-8)
    np.testing.assert_allclose(dsprites.LATENT_LEVELS[4][[1, 15]], [0.03225806, 0.48387097],
                               atol=1e-8)
    np.testing.assert_array_equal(v[40 * 32 * 32 + 3], [1.0, 1.0, 0.6, 0.0, 0.0, 3 / 31])


def test_render_is_binary_deterministic_and_chunk_independent(grid):
    idx = dsprites.subsample(300, seed=0)
    a = dsprites.render(grid[idx])
    assert a.dtype == np.uint8 and a.shape == (300, 64, 64)
    assert set(np.unique(a)) == {0, 1}
    np.testing.assert_array_equal(a, dsprites.render(grid[idx]))
    np.testing.assert_array_equal(a, dsprites.render(grid[idx], chunk=7))
    assert (a.sum(axis=(1, 2)) > 0).all()


def test_window_never_clips_the_shape(grid, monkeypatch):
    """The 32×32 evaluation window gives the same images as evaluating the whole canvas."""
    extremes = _classes(shape=np.arange(3)[:, None, None], scale=5,
                        orientation=np.arange(0, 40, 3)[None, :, None],
                        pos_x=np.array([0, 31, 0, 31])[None, None, :],
                        pos_y=np.array([0, 0, 31, 31])[None, None, :])
    classes = np.concatenate([extremes, grid[dsprites.subsample(100, seed=1)]])
    windowed = dsprites.render(classes)
    monkeypatch.setattr(dsprites, "WINDOW", 96)  # a window larger than the canvas
    np.testing.assert_array_equal(windowed, dsprites.render(classes))


def test_shapes_stay_inside_the_canvas(grid):
    """At the largest scale and the extreme positions, the outermost pixel ring stays dark."""
    k = grid[(grid[:, 2] == 5) & (np.isin(grid[:, 4], [0, 31]) | np.isin(grid[:, 5], [0, 31]))]
    assert len(k) == 3 * 40 * (4 * 31)
    im = dsprites.render(k)
    assert im[:, [0, -1], :].sum() + im[:, :, [0, -1]].sum() == 0
    assert im[:, [1, -2], :].sum() + im[:, :, [1, -2]].sum() > 0  # ... and only that ring


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_area_grows_with_scale(shape, grid):
    base = grid[dsprites.subsample(60, seed=shape)]
    k = np.repeat(base, 6, axis=0)
    k[:, 1] = shape
    k[:, 2] = np.tile(np.arange(6), len(base))
    area = dsprites.render(k).sum(axis=(1, 2)).reshape(len(base), 6).astype(int)
    assert (np.diff(area, axis=1) > 0).all()


def test_square_area_invariant_under_quarter_turns():
    rng = np.random.default_rng(0)
    n = 200
    scale = rng.choice(dsprites.LATENT_LEVELS[2], n)
    theta = rng.uniform(0, 2 * np.pi, n)
    px, py = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    a = dsprites.render_values(1, scale, theta, px, py).sum(axis=(1, 2)).astype(float)
    for quarter in (1, 2, 3):
        b = dsprites.render_values(1, scale, theta + quarter * np.pi / 2, px, py)
        assert np.abs(b.sum(axis=(1, 2)) / a - 1).max() <= 0.02
    # at scale 1 the lit area is the analytic 18² = 324 px² within 4 % at every grid angle
    k = _classes(shape=0, scale=5, orientation=np.arange(40), pos_x=9, pos_y=22)
    assert np.abs(dsprites.render(k).sum(axis=(1, 2)) / 324 - 1).max() < 0.04


def test_orientation_two_pi_repeats_zero():
    """0 and 2π are both grid levels (as in the official file) and draw the same image."""
    k0 = _classes(shape=np.arange(3), orientation=0, pos_x=7, pos_y=25)
    k39 = _classes(shape=np.arange(3), orientation=39, pos_x=7, pos_y=25)
    np.testing.assert_array_equal(dsprites.render(k0), dsprites.render(k39))


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_centroid_follows_position(shape):
    rows, cols = np.mgrid[0:64, 0:64]

    def centroids(k):
        im = dsprites.render(k).astype(float)
        m = im.sum(axis=(1, 2))
        return (im * rows).sum(axis=(1, 2)) / m, (im * cols).sum(axis=(1, 2)) / m

    r, c = centroids(_classes(shape=shape, scale=2, orientation=7, pos_x=np.arange(32), pos_y=11))
    assert (np.diff(c) > 0).all()  # posX moves along the columns
    assert np.ptp(r) < 1.0
    r, c = centroids(_classes(shape=shape, scale=2, orientation=7, pos_x=20, pos_y=np.arange(32)))
    assert (np.diff(r) > 0).all()  # posY moves along the rows, downwards
    assert np.ptp(c) < 1.0


def test_shapes_differ_and_have_the_documented_size():
    im = dsprites.render(_classes(shape=np.arange(3), scale=5, orientation=3, pos_x=16,
                                  pos_y=16))
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(im[i].astype(int) - im[j]).sum() > 30
    # square 18 px wide; ellipse 24 × 12 px; heart (implicit curve in 9 px units) ≈ 3.66·81 px²
    np.testing.assert_allclose(im.sum(axis=(1, 2)), [324, np.pi * 72, 3.6595 * 81], rtol=0.04)


def test_subsample():
    a = dsprites.subsample(1000, seed=3)
    assert a.dtype == np.int64 and len(a) == 1000 and len(np.unique(a)) == 1000
    assert (np.diff(a) > 0).all() and a.min() >= 0 and a.max() < dsprites.N_IMAGES
    np.testing.assert_array_equal(a, dsprites.subsample(1000, seed=3))
    assert not np.array_equal(a, dsprites.subsample(1000, seed=4))
    np.testing.assert_array_equal(
        a, np.sort(np.random.default_rng(3).choice(737_280, size=1000, replace=False)))
    with pytest.raises(ValueError, match=r"n=737281 .* 737280"):
        dsprites.subsample(737_281, seed=0)


def test_write_npz_round_trip(tmp_path, grid):
    idx = dsprites.subsample(2000, seed=5)
    path = tmp_path / "sub" / "dsprites.npz"
    dsprites.write_npz(path, idx)
    assert [p.name for p in path.parent.iterdir()] == ["dsprites.npz"]  # no temporary left
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == {"imgs", "latents_values", "latents_classes", "metadata"}
        assert z["imgs"].dtype == np.uint8 and z["imgs"].shape == (2000, 64, 64)
        assert z["latents_values"].dtype == np.float64 and z["latents_values"].shape == (2000, 6)
        assert z["latents_classes"].dtype == np.int64
        np.testing.assert_array_equal(z["latents_classes"], grid[idx])
        np.testing.assert_array_equal(z["latents_values"], dsprites.latent_values(grid[idx]))
        np.testing.assert_array_equal(z["imgs"], dsprites.render(grid[idx]))
        classes = z["latents_classes"]
    ds = data.load(path, "dsprites")
    assert ds.images.shape == (2000, 1, 64, 64) and ds.images.dtype == np.uint8
    assert ds.factor_names == ("shape", "scale", "orientation", "posX", "posY")
    assert ds.categorical == "shape" and ds.periodic == ("orientation",)
    # the factors of the subsample are exactly those of minmax_scale over the full official file
    full = minmax_scale(dsprites.latent_values(grid))[:, 1:]
    np.testing.assert_array_equal(ds.factors, full[idx])
    # csi's integer targets of the rendered file are the level indices
    np.testing.assert_array_equal(data.official_targets(ds.factors), classes[:, 1:])
    # uncompressed writes the same arrays
    dsprites.write_npz(tmp_path / "raw.npz", idx[:50], compress=False)
    np.testing.assert_array_equal(data.load(tmp_path / "raw.npz", "dsprites").images,
                                  ds.images[:50])


def test_write_npz_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "d.npz"

    def boom(*args, **kwargs):
        raise RuntimeError("render failed")

    monkeypatch.setattr(dsprites, "render", boom)
    with pytest.raises(RuntimeError, match="render failed"):
        dsprites.write_npz(path, np.arange(10))
    assert list(tmp_path.iterdir()) == []
