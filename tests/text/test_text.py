"""Tests for linid.text (docs/text.md): the generated corpus follows its model, the user's corpus
files, the NCE loss, training, the comparisons and the sweep's cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from linid.core.errors import NonFiniteLoss
from linid.pipeline.config import semantic_problems
from linid.report.text_tables import markdown_summary, pair_table, summary_table
from linid.text import cells, compare, corpus, model, training


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(limits=1):
        yield


# ----------------------------------------------------------------------------- generated corpus


def _chi2(windows: np.ndarray, truth: corpus.Truth) -> tuple[float, int]:
    """Pearson χ² of the targets' counts per observed context against p*(· | context)."""
    half = windows.shape[1] // 2
    ctx = np.delete(windows, half, axis=1)
    keys, inverse = np.unique(ctx, axis=0, return_inverse=True)
    V = truth.q.shape[0]
    counts = np.zeros((len(keys), V))
    np.add.at(counts, (inverse.ravel(), windows[:, half]), 1)
    expected = counts.sum(1, keepdims=True) * truth.conditional(keys)
    return float(((counts - expected) ** 2 / expected).sum()), len(keys) * (V - 1)


def test_generated_corpus_follows_its_model():
    cfg = corpus.TruthConfig(vocab_size=3, true_dim=2, rank=2, half=2, zipf=0.0, signal=2.0, seed=3)
    truth = corpus.make_truth(cfg)
    windows = corpus.sample_windows(truth, 60_000, seed=4)
    assert windows.shape == (60_000, 5) and windows.min() >= 0 and windows.max() < 3
    stat, df = _chi2(windows, truth)
    assert stat < df + 5 * np.sqrt(2 * df)  # χ²(df): mean df, std √(2 df)
    # a different model (another seed's truth) is rejected by far: the test can fail
    other = corpus.make_truth(corpus.TruthConfig(**{**cfg.__dict__, "seed": 5}))
    assert _chi2(windows, other)[0] > df + 20 * np.sqrt(2 * df)
    # the context tokens follow the unigram (uniform here)
    ctx = np.delete(windows, 2, axis=1).ravel()
    assert np.allclose(np.bincount(ctx) / ctx.size, 1 / 3, atol=0.01)


def test_truth_rank_signal_and_zipf():
    truth = corpus.make_truth(corpus.TruthConfig(vocab_size=200, true_dim=3, rank=1, signal=2.0, seed=0))
    assert np.all(truth.q[:, 1:] == 0) and np.all(truth.r[:, 1:] == 0) and np.all(truth.c[:, 1:] == 0)
    assert np.linalg.matrix_rank(truth.q) == 1 and truth.rank == 1
    u = truth.unigram
    assert np.isclose(u.sum(), 1) and np.all(np.diff(u) < 0) and np.allclose(truth.b, np.log(u))
    rng = np.random.default_rng(1)
    h = rng.choice(200, size=(4000, 4), p=u)
    w = rng.choice(200, size=4000, p=u)
    s = truth.scores(h).numpy()[np.arange(4000), w] - truth.b[w]
    assert 1.7 < s.std() < 2.3  # the configured signal, up to Monte-Carlo error
    with pytest.raises(ValueError, match="rank"):
        corpus.TruthConfig(true_dim=2, rank=3)


# ----------------------------------------------------------------------------- user corpora


def test_tokenize_and_vocabulary():
    assert corpus.tokenize("The cat\tsat.\n\nthe  CAT") == ["the", "cat", "sat.", "the", "cat"]
    assert corpus.tokenize("The Cat", lowercase=False) == ["The", "Cat"]
    # ties broken by first occurrence; <unk> always id 0
    assert corpus.build_vocab(["b", "a", "a", "b", "c"], 3) == ["<unk>", "b", "a"]
    with pytest.raises(ValueError, match="vocab_size"):
        corpus.build_vocab(["a"], 1)


def test_text_file_windows_run_across_lines(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c\nA d a\nb e\n", encoding="utf-8")
    windows, vocab = corpus.text_windows(path, vocab_size=3, half=1)
    assert vocab == ["<unk>", "a", "b"]  # a: 3, b: 2; c, d, e → <unk>
    ids = [1, 2, 0, 1, 0, 1, 2, 0]  # a b c a d a b e
    assert windows.tolist() == [ids[i : i + 3] for i in range(6)]
    with pytest.raises(ValueError, match="window needs"):
        corpus.text_windows(path, vocab_size=3, half=4)


def test_ids_file(tmp_path):
    np.save(tmp_path / "ids.npy", np.array([0, 3, 1, 2, 2], dtype=np.int32))
    windows, vocab = corpus.ids_windows(tmp_path / "ids.npy", half=2)
    assert windows.tolist() == [[0, 3, 1, 2, 2]] and vocab == ["0", "1", "2", "3"]
    np.save(tmp_path / "bad.npy", np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="integer"):
        corpus.ids_windows(tmp_path / "bad.npy", half=1)


def test_build_corpus_round_trip(tmp_path):
    p = dict(source="generated", vocab_size=20, n_windows=500, true_dim=2, rank=1, zipf=1.0, signal=1.0,
             half=2, eval_fraction=0.1, seed=0, path="", lowercase=True)
    train, held, vocab, truth = corpus.build_corpus(p)
    assert len(train) == 450 and len(held) == 50 and len(vocab) == 20
    corpus.save_corpus(tmp_path / "c.npz", train, held, vocab, truth)
    t2, h2, v2, tr2 = corpus.load_corpus(tmp_path / "c.npz")
    assert np.array_equal(t2, train) and np.array_equal(h2, held) and v2 == vocab
    assert tr2.rank == 1 and np.array_equal(tr2.q, truth.q)
    # the same settings give the same corpus
    assert np.array_equal(corpus.build_corpus(p)[0], train)


# ----------------------------------------------------------------------------- model and loss


def _direct_nce(m, ctx, tgt, noise, log_kpn=None, normalise=False, reduction="mean") -> float:
    """The NCE loss written out window by window in float64 (docs/text.md §4)."""
    q, r, c, b = (x.detach().double().numpy() for x in (m.q, m.r, m.c, m.b))
    lk = np.zeros(q.shape[0]) if log_kpn is None else log_kpn.double().numpy()
    n, k = noise.shape
    total = 0.0
    for i in range(n):
        qhat = sum(c[j] * r[int(ctx[i, j])] for j in range(ctx.shape[1]))
        s_all = qhat @ q.T + b
        if normalise:
            s_all = s_all - np.log(np.exp(s_all).sum())
        d = s_all - lk
        pos = -np.log(1 / (1 + np.exp(-d[int(tgt[i])])))
        neg = [-np.log(1 - 1 / (1 + np.exp(-d[int(noise[i, j])]))) for j in range(k)]
        total += pos + (np.sum(neg) if reduction == "sum" else np.mean(neg))
    return total / n


def test_nce_loss_equals_a_direct_computation():
    torch.manual_seed(0)
    m = model.LogBilinear(7, model.TextModelConfig(dim=3, half=2, init="normal", init_std=0.7))
    with torch.no_grad():
        m.c.copy_(torch.randn(4, 3))
        m.b.copy_(torch.randn(7))
    ctx = torch.randint(7, (5, 4))
    tgt = torch.randint(7, (5,))
    noise = torch.randint(7, (5, 6))
    log_kpn = torch.log(6 * torch.softmax(torch.randn(7), 0))
    values = {}
    for shift in (None, log_kpn):
        for normalise in (False, True):
            for reduction in ("mean", "sum"):
                got = float(model.nce_loss(m, ctx, tgt, noise, shift, normalise, reduction).detach())
                want = _direct_nce(m, ctx, tgt, noise, shift, normalise, reduction)
                assert np.isclose(got, want, rtol=1e-5), (shift is not None, normalise, reduction)
                values[shift is not None, normalise, reduction] = got
    # the default is the notebook's: bare score, mean over the noise words, no normaliser
    assert np.isclose(float(model.nce_loss(m, ctx, tgt, noise).detach()), values[False, False, "mean"])
    # the variants differ (each setting reaches the loss): mean ≠ sum with k = 6 noise words
    assert values[False, False, "sum"] > values[False, False, "mean"] + 0.1
    with pytest.raises(ValueError, match="reduction"):
        model.nce_loss(m, ctx, tgt, noise, reduction="max")
    # all_scores agrees with score
    qhat = m.context(ctx)
    assert torch.allclose(m.all_scores(ctx)[torch.arange(5), tgt], m.score(qhat, tgt), atol=1e-6)


def test_training_passes_the_loss_settings_through():
    # one step of SGD from the same start: the settings reach the loss (different updates), and the
    # defaults are the notebook's
    defaults = training.TextTrainConfig()
    assert (defaults.steps, defaults.batch_size, defaults.lr, defaults.noise_samples) == (50_000, 200, 0.003, 25)
    assert (defaults.noise_shift, defaults.noise_reduction, defaults.normaliser) == (False, "mean", "none")
    w = np.random.default_rng(0).integers(0, 9, size=(300, 5))
    noise = model.noise_distribution(torch.as_tensor(w[:, 2]), 9, "unigram")
    after = {}
    for red in ("mean", "sum"):
        m = model.build_model(9, model.TextModelConfig(init="normal"), seed=0)
        cfg = training.TextTrainConfig(steps=1, batch_size=32, lr=0.1, optimizer="sgd", noise_reduction=red)
        training.train_text(m, torch.as_tensor(w), noise, cfg, torch.Generator().manual_seed(1))
        after[red] = m.q.detach().clone()
    assert not torch.allclose(after["mean"], after["sum"])
    with pytest.raises(ValueError, match="noise_reduction"):
        training.TextTrainConfig(noise_reduction="max")



def _plain_text_loop(m, windows, noise_probs, cfg, generator):
    """train_text as it was before the one loop (linid.core.training): the frozen expectation."""
    ctx_cols = torch.tensor([0, 1, 3, 4])
    log_kpn = torch.log(cfg.noise_samples * noise_probs).clamp(min=-1e4).float() if cfg.noise_shift else None
    cdf = torch.cumsum(noise_probs.double(), 0)
    cdf = (cdf / cdf[-1]).float()
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(m.parameters(), lr=cfg.lr)
    else:
        opt = torch.optim.SGD(m.parameters(), lr=cfg.lr, momentum=0.9)
    every, curve = max(1, cfg.steps // 50), []
    for step in range(cfg.steps):
        idx = torch.randint(len(windows), (cfg.batch_size,), generator=generator)
        u = torch.rand((cfg.batch_size, cfg.noise_samples), generator=generator)
        noise = torch.searchsorted(cdf, u).clamp_(max=m.vocab_size - 1)
        batch = windows[idx]
        loss = model.nce_loss(m, batch[:, ctx_cols], batch[:, 2], noise, log_kpn, cfg.normaliser == "exact",
                              cfg.noise_reduction)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % every == 0 or step == cfg.steps - 1:
            curve.append((step, float(loss.detach())))
    return curve


@pytest.mark.parametrize("settings", [
    dict(steps=120, normaliser="exact", noise_shift=True, noise_reduction="sum"),
    dict(steps=53, optimizer="sgd", lr=0.1),
    dict(steps=1),
])
def test_the_one_loop_keeps_the_plain_loops_curve_and_weights(settings):
    """Bit for bit: the same draws in the same order, the loss at steps 0, s, 2s, … and the last."""
    w = torch.as_tensor(np.random.default_rng(0).integers(0, 9, size=(300, 5)))
    noise = model.noise_distribution(w[:, 2], 9, "unigram")
    cfg = training.TextTrainConfig(batch_size=32, **settings)
    runs = []
    for train in (training.train_text, _plain_text_loop):
        m = model.build_model(9, model.TextModelConfig(init="normal"), seed=0)
        runs.append((train(m, w, noise, cfg, torch.Generator().manual_seed(1)), m.state_dict()))
    (curve, state), (expected, frozen) = runs
    assert curve == expected
    assert all(torch.equal(state[k], frozen[k]) for k in frozen)


def test_a_diverging_text_model_is_stopped_naming_the_step():
    w = torch.as_tensor(np.random.default_rng(0).integers(0, 9, size=(300, 5)))
    noise = model.noise_distribution(w[:, 2], 9, "unigram")
    m = model.build_model(9, model.TextModelConfig(init="normal"), seed=0)
    cfg = training.TextTrainConfig(steps=100, batch_size=32, lr=1e30, optimizer="sgd")
    with pytest.raises(NonFiniteLoss, match=r"training diverged: non-finite training loss at step \d+ "
                       r"\(optimizer=sgd, lr=1e\+30\)"):
        training.train_text(m, w, noise, cfg, torch.Generator().manual_seed(1))


def test_the_bare_score_is_read_with_the_noise_offset():
    # a score at the notebook loss's optimum, s = log p(w | h) − log p_noise(w) (+ const), is the
    # conditional only after adding log p_noise back; with the shift, s is the conditional itself
    rng = np.random.default_rng(0)
    logits = torch.as_tensor(rng.standard_normal((40, 6)))  # 40 contexts × 6 words: log p up to Z(h)
    log_p = torch.log_softmax(logits, 1)
    p_noise = torch.softmax(torch.as_tensor(rng.standard_normal(6) * 2), 0)
    held = np.column_stack([np.repeat(np.arange(40)[:, None], 2, 1), rng.integers(0, 6, 40),
                            np.repeat(np.arange(40)[:, None], 2, 1)])  # context ids = the row of logits

    def nll(score):
        return training.heldout_nll(lambda ctx: score[ctx[:, 0]], held)

    truth = nll(log_p)
    bare = log_p - torch.log(p_noise) - 3.0
    off = training.implied_score_offset(p_noise, training.TextTrainConfig(noise_shift=False))
    assert np.isclose(nll(bare + off), truth, atol=1e-6) and nll(bare) > truth + 0.05
    assert training.implied_score_offset(p_noise, training.TextTrainConfig(noise_shift=True)) is None


def test_notebook_initialisation():
    m = model.build_model(500, model.TextModelConfig(dim=2, half=2), seed=0)  # init notebook: the default
    for name, bound in (("r", 0.001), ("q", 0.05), ("b", 0.05)):
        x = getattr(m, name).detach()
        assert x.abs().max() <= bound and x.abs().max() > 0.9 * bound, name  # U(−bound, bound)
    assert 0 < m.c.detach().abs().max() <= 0.001
    assert abs(float(m.q.detach().mean())) < 0.01 and m.c.shape == (4, 2)
    n = model.build_model(500, model.TextModelConfig(init="normal", init_std=0.1), seed=0)
    assert torch.equal(n.c.detach(), torch.ones(4, 2)) and torch.equal(n.b.detach(), torch.zeros(500))
    assert 0.08 < float(n.q.detach().std()) < 0.12
    assert torch.equal(model.build_model(500, model.TextModelConfig(), seed=0).q, m.q)  # seeded
    with pytest.raises(ValueError, match="init"):
        model.TextModelConfig(init="xavier")


def test_noise_distributions():
    t = torch.tensor([0, 0, 1, 3])
    assert torch.allclose(model.noise_distribution(t, 4, "unigram"), torch.tensor([0.5, 0.25, 0, 0.25]).double())
    assert torch.allclose(model.noise_distribution(t, 4, "uniform"), torch.full((4,), 0.25).double())
    with pytest.raises(ValueError, match="noise"):
        model.noise_distribution(t, 4, "zipf")


def test_training_lowers_the_loss_is_seeded_and_learns_the_truth():
    p = dict(source="generated", vocab_size=30, n_windows=20_000, true_dim=2, rank=2, zipf=0.5, signal=3.0,
             half=2, eval_fraction=0.1, seed=0, path="", lowercase=True)
    w, held, vocab, truth = corpus.build_corpus(p)
    noise = model.noise_distribution(torch.as_tensor(w[:, 2]), 30, "unigram")
    # the demo's loss (exact normaliser, [MT]'s shift and sum): consistent for a softmax-generated truth
    mcfg = model.TextModelConfig(dim=2, init="normal")
    tcfg = training.TextTrainConfig(steps=600, batch_size=256, lr=0.03, normaliser="exact", noise_shift=True,
                                    noise_reduction="sum")
    runs = {s: training.train_seed(w, 30, noise, mcfg, tcfg, s, torch.device("cpu")) for s in (0, 1)}
    again = training.train_seed(w, 30, noise, mcfg, tcfg, 0, torch.device("cpu"))
    assert all(torch.equal(again[1][k], runs[0][1][k]) for k in runs[0][1])
    curve = runs[0][2]["curve"]
    assert curve[-1][1] < 0.8 * curve[0][1]
    emb = {s: {"q": st["q"].numpy(), "r": st["r"].numpy(), "q_init": ini["q"].numpy(), "r_init": ini["r"].numpy()}
           for s, (ini, st, _) in runs.items()}
    pairs = compare.cell_pairs(emb, np.arange(30), {"q": truth.q, "r": truth.r}, seed=0)
    mcca = pairs.groupby(["space", "state", "kind"])["mcca"].mean()
    assert mcca["q", "trained", "truth"] > 0.9 and mcca["q", "trained", "replicas"] > 0.9
    assert mcca["q", "untrained", "truth"] < 0.6


# ----------------------------------------------------------------------------- comparisons


def test_a_linear_copy_agrees_and_noise_does_not():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 2)) * [3.0, 0.2]
    b = a @ np.array([[1.0, 2.0], [-0.5, 1.0]]) + 4.0
    m = compare.compare_embeddings(a, b, seed=1)
    assert all(m[k] > 0.999 for k in compare.METRICS) and m["n_words"] == 400
    m = compare.compare_embeddings(a, rng.standard_normal((400, 2)), seed=1)
    assert all(m[k] < 0.2 for k in ("r2_ab", "r2_ba", "r2w_ab", "r2w_ba", "cca_min")) and m["mcca"] < 0.2
    # one shared direction and one independent one: plain R² can stay high, whitened R² and min CCA fall
    shared = rng.standard_normal(400)
    x = np.column_stack([shared, 0.3 * rng.standard_normal(400)]) @ np.array([[1.0, 1.0], [1.0, -1.0]])
    y = np.column_stack([shared, 0.3 * rng.standard_normal(400)]) @ np.array([[1.0, 1.0], [1.0, -1.0]])
    m = compare.compare_embeddings(x, y, seed=1)
    assert m["r2_ab"] > 0.75 and m["r2w_ab"] < 0.6 and m["cca_min"] < 0.2


def test_whiten_is_unit_covariance_on_the_fit_rows():
    x = np.random.default_rng(0).standard_normal((300, 3)) @ np.diag([5.0, 1.0, 0.1])
    z = compare.whiten(x, 150)
    assert np.allclose(np.cov(z[:150], rowvar=False), np.eye(3), atol=1e-8)


def test_cell_pairs_and_tables():
    rng = np.random.default_rng(0)
    emb = {s: {k: rng.standard_normal((50, 2)) for k in ("q", "r", "q_init", "r_init")} for s in (0, 1, 2)}
    truth = {"q": rng.standard_normal((50, 1)), "r": rng.standard_normal((50, 1))}
    df = compare.cell_pairs(emb, np.arange(40), truth, seed=0)
    assert len(df) == 2 * 2 * (3 + 3) and set(df["b"]) == {"1", "2", "truth"}
    assert (df["n_words"] == 40).all()
    df.insert(0, "cell", "rank1")
    cell = {"cell": "rank1", "source": "generated", "rank": 1, "dim": 2, "diverse": False}
    pairs = pair_table([df], [cell])
    summary = summary_table(pairs, [cell])
    assert len(summary) == 8 and (summary["n_pairs"] == 3).all() and summary["r2w_ci_lo"].notna().all()
    md = markdown_summary(summary)
    assert md.count("| rank1 |") == 4 and "R²w trained" in md
    few = compare.cell_pairs(emb, np.arange(5), truth, seed=0)  # 5 words for 2-D embeddings: undefined
    assert few[compare.METRICS].isna().all().all() and few["note"].str.startswith("undefined: 5 compared").all()


# ----------------------------------------------------------------------------- cells and config


def _text(**over):
    t = {"enabled": True, "seeds": [0, 1], "axes": {},
         "corpus": {"source": "generated", "path": "", "vocab_size": 50, "n_windows": 1000, "true_dim": 2, "rank": 2},
         "model": {"dim": 2}, "train": {"steps": 10, "noise": "unigram", "noise_samples": 25}}
    t.update(over)
    return t


def test_cells_grid_ids_and_problems():
    cs = cells.text_cells(_text(axes={"rank": [2, 1], "dim": [2, 3]}))
    assert [c.cell_id for c in cs] == ["rank2_dim2", "rank2_dim3", "rank1_dim2", "rank1_dim3"]
    assert cs[3].corpus["rank"] == 1 and cs[3].model["dim"] == 3 and cs[3].row["diverse"] is False
    assert cs[0].row["diverse"] is True
    assert [c.cell_id for c in cells.text_cells(_text())] == ["base"]
    assert cells.text_cells(_text(enabled=False)) == []
    with pytest.raises(ValueError, match="unknown axis"):
        cells.text_cells(_text(axes={"depth": [1]}))
    bad = cells.text_cells(_text(axes={"rank": [3]}))
    assert "rank = 3 > true_dim = 2" in cells.cell_problems(bad)[0]


def test_config_refuses_a_missing_corpus_file(tmp_path):
    base = {"simulation": {"enabled": False}}
    text = _text(corpus={**_text()["corpus"], "source": "text", "path": str(tmp_path / "none.txt")})
    assert any("no such file" in p for p in semantic_problems({**base, "text": text}))
    text = _text(corpus={**_text()["corpus"], "source": "text", "path": ""})
    assert any("needs the corpus file" in p for p in semantic_problems({**base, "text": text}))
    assert semantic_problems({**base, "text": _text()}) == []
    assert any("nothing to run" in p for p in semantic_problems(base))


def test_cell_params_do_not_depend_on_the_key_order():
    t = _text(axes={"rank": [2, 1]})
    shuffled = {**t, "corpus": dict(reversed(list(t["corpus"].items()))),
                "train": dict(reversed(list(t["train"].items())))}
    a, b = cells.text_cells(t), cells.text_cells(shuffled)
    assert [list(c.corpus.items()) for c in a] == [list(c.corpus.items()) for c in b]
    assert [list(c.train.items()) for c in a] == [list(c.train.items()) for c in b]


def test_a_users_text_corpus_runs_through_training_comparison_tables_and_figure(tmp_path):
    from linid.report.text_figures import agreement_figure

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(12)]
    text = "\n".join(" ".join(rng.choice(words, size=20, p=np.r_[[0.2] * 3, [0.4 / 9] * 9])) for _ in range(200))
    (tmp_path / "my.txt").write_text(text.upper(), encoding="utf-8")  # lower-cased on reading
    p = dict(source="text", path=str(tmp_path / "my.txt"), lowercase=True, vocab_size=10, half=2,
             eval_fraction=0.1, seed=0)
    train, held, vocab, truth = corpus.build_corpus(p)
    assert truth is None and vocab[0] == "<unk>" and set(vocab[1:4]) == {"w0", "w1", "w2"}
    assert len(train) + len(held) == 4000 - 4
    noise = model.noise_distribution(torch.as_tensor(train[:, 2]), len(vocab), "uniform")
    tcfg = training.TextTrainConfig(steps=50, batch_size=64, noise="uniform")
    emb = {}
    for s in (0, 1):
        init, state, _ = training.train_seed(train, len(vocab), noise, model.TextModelConfig(), tcfg, s,
                                             torch.device("cpu"))
        emb[s] = {"q": state["q"].numpy(), "r": state["r"].numpy(), "q_init": init["q"].numpy(),
                  "r_init": init["r"].numpy()}
    words_ok = corpus.compared_words(train, len(vocab), 5, exclude=(0,))
    assert 0 not in words_ok and len(words_ok) == 9
    df = compare.cell_pairs(emb, words_ok, None, seed=0)
    assert set(df["kind"]) == {"replicas"} and len(df) == 4
    df.insert(0, "cell", "base")
    cell = {"cell": "base", "source": "text", "vocab_size": 10, "dim": 2}
    summary = summary_table(pair_table([df], [cell]), [cell])
    assert "| base |" in markdown_summary(summary)
    assert agreement_figure(summary, tmp_path / "agree")[0].stat().st_size > 5000
