"""Tests for linid.byo (docs/byo.md): files and their checks, probes, layer comparison, figures, digits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import shuffle
from threadpoolctl import threadpool_limits

from linid.byo import compare, digits, files, probes
from linid.byo.files import Factors
from linid.report import byo_figures as figures


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small SVDs on a shared 2-core machine: extra BLAS threads only oversubscribe it (35× slower)."""
    with threadpool_limits(limits=1):
        yield


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _features(n: int = 2000, p: int = 8, seed: int = 0) -> np.ndarray:
    """Non-Gaussian, correlated 'activations' (a ReLU of a random mix, plus noise)."""
    rng = _rng(seed)
    x = rng.standard_normal((n, p)) @ rng.standard_normal((p, p))
    return np.maximum(x, 0.0) + 0.05 * rng.standard_normal((n, p))


# ----------------------------------------------------------------------------- probes


def test_split_is_a_seeded_partition():
    train, test = probes.split(100, 0.3, seed=4)
    assert len(test) == 30 and len(train) == 70
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(100))
    perm = np.random.default_rng(4).permutation(100)
    assert set(test) == set(perm[:30])
    again = probes.split(100, 0.3, seed=4)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)
    assert not np.array_equal(probes.split(100, 0.3, seed=5)[1], test)
    with pytest.raises(ValueError, match="test_fraction"):
        probes.split(100, 1.0, seed=0)
    with pytest.raises(ValueError, match="at least 2"):
        probes.split(3, 0.3, seed=0)


def test_continuous_probe_recovers_a_linear_map_and_not_noise():
    x = _features()
    rng = _rng(1)
    y = np.column_stack([x @ rng.standard_normal(x.shape[1]) + 3.0, rng.standard_normal(len(x))])
    train, test = probes.split(len(x), 0.3, seed=0)
    lin, noise = probes.continuous_probes(x, y, ["lin", "noise"], train, test)
    assert lin["factor"] == "lin"
    assert lin["r2"] > 0.999 and lin["pearson_r"] > 0.999
    assert noise["r2"] <= 0.05 and abs(noise["pearson_r"]) < 0.15


def test_continuous_probe_ignores_dead_columns():
    x = _features(n=500)
    x = np.hstack([x, np.zeros((len(x), 2))])  # two dead units: z-scoring must not divide by 0
    y = (x[:, :3] @ np.array([1.0, -2.0, 0.5]))[:, None]
    train, test = probes.split(len(x), 0.3, seed=0)
    (r,) = probes.continuous_probes(x, y, ["f"], train, test)
    assert np.isfinite(r["r2"]) and r["r2"] > 0.999


def _official_balance_classes(x, y):
    """imagenetx/decode.py balance_classes, verbatim apart from names (SEED = 42)."""
    x0, x1 = x[y == 0], x[y == 1]
    n = min(len(x0), len(x1))
    xb = np.vstack((x0[:n], x1[:n]))
    yb = np.concatenate((np.zeros(n, dtype=int), np.ones(n, dtype=int)))
    return shuffle(xb, yb, random_state=42)


def test_balance_classes_matches_the_official_code():
    rng = _rng(3)
    x = rng.standard_normal((50, 3))
    y = (rng.random(50) < 0.3).astype(np.int64)
    xb, yb = probes.balance_classes(x, y)
    ref_x, ref_y = _official_balance_classes(x, y)
    assert np.array_equal(xb, ref_x) and np.array_equal(yb, ref_y)
    m = int(min(np.bincount(y)))
    assert np.bincount(yb).tolist() == [m, m]
    # the first m samples of each class, not a random subset
    assert {tuple(r) for r in xb[yb == 0]} == {tuple(r) for r in x[y == 0][:m]}


def test_binary_probe_finds_a_linear_threshold_and_not_noise():
    x = _features()
    rng = _rng(2)
    score = x @ rng.standard_normal(x.shape[1])
    threshold = (score > np.quantile(score, 0.65)).astype(int)  # imbalanced: 35 % ones
    random = rng.integers(0, 2, len(x))
    lin, rnd = probes.binary_probes(
        x, np.column_stack([threshold, random]), ["thr", "rnd"], seed=0, n_rep=3
    )
    assert lin["factor"] == "thr"
    assert lin["accuracy"] > 0.95 and lin["roc_auc"] > 0.98
    assert abs(rnd["accuracy"] - 0.5) < 0.1 and abs(rnd["roc_auc"] - 0.5) < 0.1
    # balanced: each part keeps all its minority (ones) and as many zeros
    n_pos = int(threshold.sum())
    assert lin["n_train"] % 2 == 0 and lin["n_test"] % 2 == 0
    assert lin["n_train"] + lin["n_test"] == 2 * n_pos
    assert lin["accuracy_std"] >= 0.0 and lin["roc_auc_std"] >= 0.0


def test_binary_probe_rejects_a_tiny_minority_naming_the_factor():
    x = _features(n=200)
    y = np.zeros(200, dtype=int)
    y[:3] = 1  # 3 positives: one split gets fewer than 2
    with pytest.raises(ValueError, match="rare_flag"):
        probes.binary_probes(x, y[:, None], ["rare_flag"], seed=0, n_rep=1)


def test_drop_dead_follows_decode_py():
    x = _features(n=600)
    y = (x[:, 0] > np.median(x[:, 0])).astype(int)[:, None]
    signed = x - x.mean(axis=0) - 1e-3  # every mean < 0: decode.py's filter drops them all
    (r,) = probes.binary_probes(signed, y, ["f"], seed=0, n_rep=2)
    assert r["accuracy"] > 0.9
    with pytest.raises(ValueError, match="constant"):
        probes.binary_probes(signed, y, ["f"], seed=0, n_rep=2, drop_dead=True)
    dead = np.hstack([x, np.zeros((len(x), 3))])  # dead ReLU units: dropped either way, no NaN
    for flag in (False, True):
        (r,) = probes.binary_probes(dead, y, ["f"], seed=0, n_rep=2, drop_dead=flag)
        assert np.isfinite(r["accuracy"]) and r["accuracy"] > 0.9


def test_probe_layer_long_table():
    x = _features(n=1200, p=6)
    rng = _rng(5)
    labels = np.argmax(x[:, :3], axis=1)
    f = Factors(
        continuous=np.column_stack([x[:, 0] - x[:, 1], rng.standard_normal(len(x))]),
        continuous_names=["diff", "noise"],
        binary=(x[:, 2:3] > np.median(x[:, 2])).astype(np.int64),
        binary_names=["big2"],
        labels=labels,
    )
    t = probes.probe_layer(x, f, seed=0, test_fraction=0.3, n_rep=2)
    assert list(t.columns) == probes.PROBE_COLUMNS
    assert len(t) == 2 * 2 + 2 + 1
    v = t.set_index(["factor", "metric"])["value"]
    assert v["diff", "r2"] > 0.99 and v["noise", "r2"] < 0.05
    assert v["big2", "accuracy"] > 0.9
    assert v["label", "accuracy"] > 0.9
    assert set(t["kind"]) == {"continuous", "binary", "label"}
    assert t.loc[t["kind"] == "binary", "std"].notna().all()
    with pytest.raises(ValueError, match="rows"):
        probes.probe_layer(x[:100], f, seed=0, test_fraction=0.3, n_rep=1)


# ----------------------------------------------------------------------------- compare


def test_layer_matrix_rotated_copy_is_identical_and_random_is_not():
    rng = _rng(7)
    l1, l2 = _features(seed=1, p=6), _features(seed=2, p=4)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    a = {"l1": l1, "l2": l2}
    b = {"r1": 3.0 * l1 @ q + 1.0, "r2": -0.5 * l2, "noise": rng.standard_normal((len(l1), 5))}
    t = compare.layer_matrix(a, b, svcca_k=None, max_rows=None, seed=0)
    assert len(t) == 2 * 3
    assert list(t[["layer_a", "layer_b"]].itertuples(index=False, name=None)) == [
        (la, lb) for la in a for lb in b
    ]
    cell = t.set_index(["layer_a", "layer_b"])
    for la, lb in (("l1", "r1"), ("l2", "r2")):
        row = cell.loc[(la, lb)]
        assert row["mcca"] > 0.999 and row["cca_min"] > 0.999 and row["svcca"] > 0.999
        assert row["r2_ab"] > 0.999 and row["r2_ba"] > 0.999
    for la in a:
        assert cell.loc[(la, "noise"), "mcca"] < 0.1
        assert cell.loc[(la, "noise"), "r2_ab"] < 0.05
    # independent features of different layers share no directions either
    assert cell.loc[("l1", "r2"), "mcca"] < 0.1


def test_layer_matrix_subsamples_rows_and_refuses_or_reduces_wide_layers():
    x = _features(n=400, p=5)
    t = compare.layer_matrix({"x": x}, {"y": 2 * x}, svcca_k=None, max_rows=100, seed=1)
    assert t["n_rows"].tolist() == [100] and t["mcca"].iloc[0] > 0.999
    rng = _rng(9)
    wide = x @ rng.standard_normal((5, 60)) + 0.01 * rng.standard_normal((400, 60))
    with pytest.raises(ValueError, match="'wide' has 60 columns but only 100 rows"):
        compare.layer_matrix({"wide": wide}, {"x": x}, svcca_k=None, max_rows=100, seed=0)
    t = compare.layer_matrix({"wide": wide}, {"x": x}, svcca_k=5, max_rows=100, seed=0)
    assert t["dim_a"].tolist() == [5] and t["dim_b"].tolist() == [5]
    assert t["mcca"].iloc[0] > 0.99  # wide = a linear map of x (+ tiny noise): its top-5 PCs too
    with pytest.raises(ValueError, match=r"exceeds the \(rows − 4\)/2 = 48"):
        compare.layer_matrix({"wide": wide}, {"x": x}, svcca_k=60, max_rows=100, seed=0)
    with pytest.raises(ValueError, match="same rows"):
        compare.layer_matrix({"x": x}, {"y": x[:50]}, svcca_k=None, max_rows=None, seed=0)


# ----------------------------------------------------------------------------- files


def _good(tmp_path, n: int = 40):
    rng = _rng(11)
    fac = tmp_path / "factors.npz"
    np.savez(
        fac,
        continuous=rng.standard_normal((n, 2)),
        continuous_names=np.array(["a", "b"]),
        binary=np.column_stack([np.arange(n) % 2, np.arange(n) % 3 == 0]).astype(int),
        binary_names=np.array(["odd", "third"]),
        labels=np.arange(n) % 4,
    )
    models = {}
    for name in ("m1", "m2"):
        models[name] = tmp_path / f"{name}.npz"
        np.savez(
            models[name],
            layers=np.array(["second", "first"]),
            first=rng.standard_normal((n, 3)).astype(np.float32),
            second=rng.standard_normal((n, 5)),
        )
    return fac, models


def test_valid_inputs_have_no_problems_and_load(tmp_path):
    fac, models = _good(tmp_path)
    assert files.check_inputs(fac, models) == []
    assert files.check_inputs(None, models) == []
    m = files.load_model(models["m1"])
    assert list(m) == ["second", "first"]  # the 'layers' order, not the archive order
    assert all(v.dtype == np.float64 for v in m.values())
    f = files.load_factors(fac)
    assert f.n == 40 and f.continuous_names == ["a", "b"] and f.binary_names == ["odd", "third"]
    assert f.binary.dtype == np.int64 and f.labels.tolist()[:5] == [0, 1, 2, 3, 0]
    np.savez(tmp_path / "nonames.npz", continuous=np.ones((3, 2)) * [[1], [2], [3]])
    g = files.load_factors(tmp_path / "nonames.npz")
    assert g.continuous_names == ["continuous_0", "continuous_1"] and g.binary is None


def _problem(tmp_path, case: str) -> tuple[list[str], list[str]]:
    """Break one thing of a valid set; return (problems, words the message must contain)."""
    fac, models = _good(tmp_path)
    rng = _rng(0)
    n = 40
    bad = tmp_path / "bad.npz"
    if case == "missing file":
        models["m2"] = tmp_path / "nope.npz"
        want = ["nope.npz", "does not exist"]
    elif case == "not an npz":
        bad.write_text("layer,value\n1,2\n")
        models["m2"] = bad
        want = ["bad.npz", "not an .npz"]
    elif case == "npy instead of npz":
        with bad.open("wb") as fh:
            np.save(fh, rng.standard_normal((n, 3)))
        models["m2"] = bad
        want = ["bad.npz", "single .npy"]
    elif case == "no layers":
        np.savez(bad)
        models["m2"] = bad
        want = ["bad.npz", "no layers"]
    elif case == "layer not 2-D":
        np.savez(bad, ok=rng.standard_normal((n, 3)), flat=rng.standard_normal(n))
        models["m2"] = bad
        want = ["bad.npz", "'flat'", "2-D", f"({n},)"]
    elif case == "row counts differ":
        np.savez(bad, ok=rng.standard_normal((n, 3)), short=rng.standard_normal((n - 5, 3)))
        models["m2"] = bad
        want = ["bad.npz", "'short'", f"{n - 5} rows", f"has {n}", "factors.npz"]
    elif case == "names length":
        np.savez(
            bad, continuous=rng.standard_normal((n, 2)), continuous_names=np.array(["a", "b", "c"])
        )
        fac = bad
        want = ["bad.npz", "continuous_names", "3 name(s)", "2 column(s)"]
    elif case == "nan in layer":
        x = rng.standard_normal((n, 3))
        x[4, 1] = np.nan
        x[7, 0] = np.inf
        np.savez_compressed(bad, hot=x)
        models["m2"] = bad
        want = ["bad.npz", "'hot'", "2 NaN/inf"]
    elif case == "binary not 0/1":
        np.savez(bad, binary=(np.arange(n) % 3)[:, None], binary_names=np.array(["tri"]))
        fac = bad
        want = ["bad.npz", "'tri'", "other than 0/1", "2"]
    elif case == "binary one class":
        np.savez(bad, binary=np.ones((n, 1), dtype=bool), binary_names=np.array(["always"]))
        fac = bad
        want = ["bad.npz", "'always'", "only one class"]
    elif case == "fewer than 2 models":
        models = {"m1": models["m1"]}
        want = ["at least 2 model", "m1"]
    elif case == "layers order":
        np.savez(
            bad, layers=np.array(["x", "ghost"]), x=rng.standard_normal((n, 2)), y=np.ones((n, 2))
        )
        models["m2"] = bad
        want = ["bad.npz", "'ghost'", "'y'"]
    elif case == "unknown factor key":
        np.savez(bad, label=np.arange(n) % 2)
        fac = bad
        want = ["bad.npz", "'label'", "unknown"]
    else:  # pragma: no cover
        raise AssertionError(case)
    return files.check_inputs(fac, models), want


CASES = [
    "missing file",
    "not an npz",
    "npy instead of npz",
    "no layers",
    "layer not 2-D",
    "row counts differ",
    "names length",
    "nan in layer",
    "binary not 0/1",
    "binary one class",
    "fewer than 2 models",
    "layers order",
    "unknown factor key",
]


@pytest.mark.parametrize("case", CASES)
def test_check_inputs_names_each_problem(tmp_path, case):
    problems, want = _problem(tmp_path, case)
    assert problems, f"{case}: no problem reported"
    text = "\n".join(problems)
    for word in want:
        assert word in text, f"{case}: {word!r} not in {problems}"


def test_loaders_refuse_bad_files(tmp_path):
    np.savez(tmp_path / "f.npz", binary=np.full((5, 1), 2))
    with pytest.raises(ValueError, match="other than 0/1"):
        files.load_factors(tmp_path / "f.npz")
    x = np.ones((5, 2))
    x[0, 0] = np.nan
    np.savez(tmp_path / "m.npz", a=x)
    with pytest.raises(ValueError, match="NaN"):
        files.load_model(tmp_path / "m.npz")


# ----------------------------------------------------------------------------- digits end to end


@pytest.fixture(scope="module")
def digits_example(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    return out, digits.export_digits_example(out, seeds=(0, 1))


def test_digits_example_files(digits_example):
    out, res = digits_example
    assert set(res["models"]) == {"mlp_seed0", "mlp_seed1", "mlp_init"}
    assert res["factors"].exists() and res["info"].exists()
    assert files.check_inputs(res["factors"], res["models"]) == []
    m = files.load_model(res["models"]["mlp_seed0"])
    assert list(m) == ["pixels", "hidden1", "hidden2", "hidden3"]
    assert [v.shape for v in m.values()] == [(1797, 64), (1797, 64), (1797, 64), (1797, 32)]
    f = files.load_factors(res["factors"])
    assert f.labels.shape == (1797,) and set(f.labels) == set(range(10))
    assert f.binary_names == ["is_even", "is_round", "ink_above_median"]
    assert f.continuous_names == ["ink", "com_x", "com_y", "width", "height", "slant"]
    assert res["accuracy"]["mlp_seed0"] > 0.9 and res["accuracy"]["mlp_init"] < 0.3


def test_digits_trained_models_agree_more_than_with_init_and_decode(digits_example, tmp_path):
    _, res = digits_example
    m0, m1, init = (
        files.load_model(res["models"][k]) for k in ("mlp_seed0", "mlp_seed1", "mlp_init")
    )
    tt = compare.layer_matrix(m0, m1, svcca_k=None, max_rows=None, seed=0)
    ti = compare.layer_matrix(m0, init, svcca_k=None, max_rows=None, seed=0)
    diag = {
        name: t[t["layer_a"] == t["layer_b"]].set_index("layer_a")["mcca"]
        for name, t in (("tt", tt), ("ti", ti))
    }
    assert diag["tt"]["pixels"] > 0.999  # the same input array in every file
    for layer in ("hidden1", "hidden2", "hidden3"):
        assert diag["tt"][layer] > diag["ti"][layer] + 0.05, (layer, diag)

    f = files.load_factors(res["factors"])
    p = probes.probe_layer(m0["hidden3"], f, seed=0, test_fraction=0.3, n_rep=2)
    v = p.set_index(["factor", "metric"])["value"]
    assert v["label", "accuracy"] > 0.9
    assert v["is_even", "accuracy"] > 0.85 and v["com_y", "r2"] > 0.5

    tables = [
        tt.assign(model_a="mlp_seed0", model_b="mlp_seed1"),
        ti.assign(model_a="mlp_seed0", model_b="mlp_init"),
    ]
    paths = figures.layer_matrices(pd.concat(tables), tmp_path / "matrix")
    bars = figures.probe_bars(
        pd.concat(
            [
                p.assign(model="mlp_seed0", layer="hidden3"),
                probes.probe_layer(init["hidden3"], f, seed=0, test_fraction=0.3, n_rep=2).assign(
                    model="mlp_init", layer="hidden3"
                ),
            ]
        ),
        tmp_path / "bars",
    )
    for path in (*paths, *bars):
        assert path.exists()
    assert {q.suffix for q in paths} == {".png", ".pdf"}
    for q in (*paths, *bars):
        if q.suffix == ".png":
            assert q.stat().st_size > 5000



def _plain_digits_loop(net, x, y, gen, epochs, batch_size, lr):
    """train_mlp as it was before the one loop (linid.core.training): the frozen expectation."""
    import torch

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            opt.zero_grad()
            torch.nn.CrossEntropyLoss()(net(x[idx]), y[idx]).backward()
            opt.step()


def _plain_lm_loop(model, seqs, steps, batch_size, lr, seed):
    """train_lm as it was before the one loop: the frozen expectation."""
    import torch
    from torch.nn import functional as F

    gen = torch.Generator().manual_seed(seed + 11)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        b = seqs[torch.randint(len(seqs), (batch_size,), generator=gen)]
        logits = model(b[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return float(loss.detach())


def test_the_byo_trainers_keep_the_plain_loops_weights():
    """Bit for bit: the same draws in the same order (the digits pass's randperm at its first batch)."""
    import torch

    from linid.byo import text_lm

    x = torch.randn(100, 64, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (100,), generator=torch.Generator().manual_seed(1))
    nets = []
    for train in (digits.train_mlp, _plain_digits_loop):
        torch.manual_seed(5)
        net = digits._mlp((16,), 64, 10)
        train(net, x, y, torch.Generator().manual_seed(5), 3, 32, 1e-3)  # 4 batches a pass, the last short
        nets.append(net.state_dict())
    assert all(torch.equal(nets[0][k], nets[1][k]) for k in nets[1])

    seqs = torch.randint(0, 20, (200, 5), generator=torch.Generator().manual_seed(0))
    runs = []
    for train in (text_lm.train_lm, _plain_lm_loop):
        torch.manual_seed(0)
        m = text_lm.TinyLM(20, 8, 1, 5)
        runs.append((train(m, seqs, 12, 16, 3e-3, 0), m.state_dict()))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(runs[0][1][k], runs[1][1][k]) for k in runs[1][1])


def test_the_byo_trainers_stop_a_diverging_model_naming_it():
    import torch

    from linid.byo import text_lm
    from linid.core.errors import NonFiniteLoss

    x = torch.randn(100, 64, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (100,), generator=torch.Generator().manual_seed(1))
    net = digits._mlp((16,), 64, 10)
    with pytest.raises(NonFiniteLoss, match=r"digits MLP seed 7: non-finite training loss at step \d+ \(lr=1e\+30\)"):
        digits.train_mlp(net, x, y, torch.Generator().manual_seed(0), 3, 32, 1e30, label="digits MLP seed 7")
    seqs = torch.randint(0, 20, (200, 5), generator=torch.Generator().manual_seed(0))
    with pytest.raises(NonFiniteLoss, match=r"tiny LM a: non-finite training loss at step \d+"):
        text_lm.train_lm(text_lm.TinyLM(20, 8, 1, 5), seqs, 20, 16, 1e30, 0, label="tiny LM a")


def test_digits_cli(tmp_path):
    digits.main([str(tmp_path / "cli"), "--seeds", "3", "--epochs", "1", "--hidden", "8"])
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == [
        "digits_example.json",
        "factors.npz",
        "mlp_init.npz",
        "mlp_seed3.npz",
    ]


@pytest.mark.parametrize("compressed", [False, True])
def test_nan_search_streams_in_chunks(tmp_path, monkeypatch, compressed):
    from linid.core import npz

    monkeypatch.setattr(npz, "CHUNK_BYTES", 64)  # 8 float64 per read: many chunks
    _, models = _good(tmp_path)
    x = np.asfortranarray(_rng(1).standard_normal((40, 3)))
    x[39, 2] = np.nan  # the very last value read
    (np.savez_compressed if compressed else np.savez)(tmp_path / "late.npz", late=x)
    models["m2"] = tmp_path / "late.npz"
    assert files.check_inputs(None, models) == [
        f"model 'm2' ({tmp_path / 'late.npz'}): layer 'late' holds 1 NaN/inf value(s)"
    ]


# ----------------------------------------------------------------------------- [K] Fig. 4 SVCCA protocol


def test_svcca_protocol_rotated_copy_is_one_and_noise_is_low():
    from linid.byo import svcca

    rng = _rng(3)
    x = rng.standard_normal((3000, 40)) @ rng.standard_normal((40, 40))
    q, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    # a rotated copy spans the same column space: every coefficient is 1 at k = the width; below it,
    # the per-feature standardisation does not commute with a rotation, so use a copy whose features
    # are permuted and rescaled (each one's standardisation is then the same)
    rho = svcca.svcca_coefficients(x, x @ q * 3.0 + 1.0, k=40)
    assert rho.shape == (40,) and np.allclose(rho, 1.0, atol=1e-8) and np.all(np.diff(rho) <= 1e-12)
    perm = x[:, rng.permutation(40)] * rng.uniform(0.5, 2.0, 40) - 4.0
    assert np.allclose(svcca.svcca_coefficients(x, perm, k=16), 1.0, atol=1e-8)
    noise = svcca.svcca_coefficients(x, rng.standard_normal((3000, 40)), k=16)
    assert noise.max() < 0.15  # independent data: ≈ √(k / n) scale
    held = svcca.svcca_heldout(x, x @ q, k=40, seed=0)
    assert np.allclose(held, 1.0, atol=1e-6)
    assert svcca.svcca_heldout(x, rng.standard_normal((3000, 40)), k=16, seed=0).max() < 0.2
    # k beyond the rank is capped
    assert svcca.svcca_coefficients(x[:, :3], x[:, :3], k=64).shape == (3,)


def test_svcca_protocol_matches_layers_from_the_end_or_by_name():
    from linid.byo import svcca

    a, b = ["e", "h1", "h2", "h3"], ["e", "h1", "h2", "h3", "h4", "h5"]
    assert svcca.match_layers(a, b, "from_end", 2) == [("h3", "h5", -1), ("h2", "h4", -2)]
    assert len(svcca.match_layers(a, b, "from_end", 13)) == 4
    assert svcca.match_layers(a, b, "by_name", None)[-1] == ("h3", "h3", -1)
    with pytest.raises(ValueError, match="share no layer"):
        svcca.match_layers(["x"], ["y"], "by_name", None)
    assert svcca.adjacent_pairs(["s", "m", "l", "xl"]) == [("s", "m"), ("m", "l"), ("l", "xl")]
    rng = _rng(0)
    ma = {n: rng.standard_normal((200, 8)) for n in a}
    mb = {n: rng.standard_normal((200, 8)) for n in b}
    t = svcca.protocol_table(ma, mb, ks=[2, 4], match="from_end", n_last=3, heldout=False, seed=0)
    assert len(t) == 3 * (2 + 4) and set(t["offset"]) == {-1, -2, -3}


def test_svcca_figure_is_one_panel_per_k_with_the_mean_over_pairs(tmp_path, monkeypatch):
    from linid.report import byo_figures as figures

    rows = [{"model_a": a, "model_b": b, "layer_a": "h", "layer_b": "h", "offset": off, "k": k, "index": i,
             "rho": rho} for (a, b), rho in ((("s", "m"), 0.9), (("m", "l"), 0.5))
            for off in (-1, -5, -6) for k in (2, 4) for i in range(k)]
    drawn = []
    real = figures.plt.subplots

    def spy(*args, **kw):
        fig, axes = real(*args, **kw)
        drawn.append(axes)
        return fig, axes

    monkeypatch.setattr(figures.plt, "subplots", spy)
    paths = figures.svcca_panels(pd.DataFrame(rows), tmp_path / "fig4")
    assert paths[0].stat().st_size > 5000
    axes = drawn[0][0]
    assert [ax.get_title() for ax in axes] == ["2 principal components", "4 principal components"]
    lines = axes[1].get_lines()
    assert [ln.get_label() for ln in lines] == ["last layer", "(last − 4)th layer"]  # −6 is not a panel
    assert np.allclose(lines[0].get_ydata(), 0.7) and len(lines[0].get_ydata()) == 4  # mean of 0.9 and 0.5


def test_text_lm_example_writes_byo_files_that_learn(tmp_path):
    import math

    from linid.byo import svcca, text_lm

    info = text_lm.export_text_lm_example(tmp_path, {"models": {"a": (16, 0), "b": (16, 1)}, "n_train": 4000,
                                                     "n_rows": 60, "steps": 150, "layers": 2, "vocab_size": 30})
    assert files.check_inputs(None, {n: tmp_path / f"{n}.npz" for n in ("a", "b")}) == []
    a, b = files.load_model(tmp_path / "a.npz"), files.load_model(tmp_path / "b.npz")
    assert list(a) == ["h0", "h1", "h2"] and a["h2"].shape == (60 * 5, 16)
    assert all(r["heldout_loss"] < math.log(30) for r in info.values())  # better than uniform guessing
    t = svcca.protocol_table(a, b, ks=[4], match="from_end", n_last=3, heldout=False, seed=0)
    assert len(t) == 3 * 4 and t["rho"].between(0, 1).all()
