"""Image training: learns, keeps the best validation epoch, stops early, resumes exactly."""

import os
import signal

import numpy as np
import pytest
import torch

from linid.images.training import ImageTrainConfig, encode, train_image_model
from linid.runtime import Interrupted


def _bars(n: int = 600, seed: int = 0):
    """Images of a bright vertical bar at one of 8 columns; the class is left (0) or right (1) half."""
    g = np.random.default_rng(seed)
    col = g.integers(0, 8, n)
    imgs = np.zeros((n, 1, 64, 64), dtype=np.uint8)
    for i, c in enumerate(col):
        imgs[i, 0, :, 8 * c : 8 * c + 4] = 1
    return torch.from_numpy(imgs), torch.from_numpy((col >= 4).astype(np.int64))


def _split(n):
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    return idx[: int(0.8 * n)], idx[int(0.8 * n) :]


def test_an_mlp_learns_the_category_and_stops_early():
    x, y = _bars()
    tr, va = _split(len(x))
    cfg = ImageTrainConfig(model="mlp", seed=42, batch_size=64, max_epochs=20, early_stop_accuracy=0.99)
    res = train_image_model(x, y, tr, va, 2, cfg)
    assert res.best_val_accuracy == 1.0 and res.stopped_early and res.epochs < 20
    assert [r["epoch"] for r in res.curve] == list(range(1, res.epochs + 1))
    feats = encode(res.net, x, va, 128)["features"]
    assert feats.shape == (len(va), 512) and feats.dtype == torch.float32


def test_the_best_validation_epoch_is_kept_not_the_last():
    x, y = _bars()
    tr, va = _split(len(x))
    y_noisy = y.clone()
    y_noisy[tr] = torch.randint(0, 2, (len(tr),), generator=torch.Generator().manual_seed(1))  # labels unlearnable
    cfg = ImageTrainConfig(model="linear", seed=1, batch_size=32, max_epochs=4, lr=0.01)
    res = train_image_model(x, y_noisy, tr, va, 2, cfg)
    accs = [r["val_accuracy"] for r in res.curve]
    assert res.best_val_accuracy == max(accs) and res.best_epoch == 1 + int(np.argmax(accs))
    from linid.images.training import accuracy
    assert accuracy(res.net, res.readout, x, y_noisy, va, 256) == pytest.approx(res.best_val_accuracy)


def test_interrupted_training_resumes_to_the_same_model(tmp_path):
    x, y = _bars(300)
    tr, va = _split(len(x))
    cfg = ImageTrainConfig(model="mlp", seed=3, batch_size=32, max_epochs=3, early_stop_accuracy=1.0)
    straight = train_image_model(x, y, tr, va, 2, cfg)
    ckpt = tmp_path / "run.ckpt"

    def stop_after_first(row):
        if row["epoch"] == 1:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted, match="SIGTERM at epoch 1"):
        train_image_model(x, y, tr, va, 2, cfg, checkpoint=ckpt, on_epoch=stop_after_first)
    assert ckpt.exists()
    resumed = train_image_model(x, y, tr, va, 2, cfg, checkpoint=ckpt)
    assert [r["epoch"] for r in resumed.curve] == [1, 2, 3]
    for a, b in zip(straight.net.state_dict().values(), resumed.net.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # a checkpoint of another config is ignored, not resumed
    other = ImageTrainConfig(model="mlp", seed=4, batch_size=32, max_epochs=3, early_stop_accuracy=1.0)
    assert len(train_image_model(x, y, tr, va, 2, other, checkpoint=ckpt).curve) == 3



def _plain_epochs(x, y, tr, va, cfg):
    """train_image_model as it was before the one loop (no early stop reached, no checkpoint):
    the frozen expectation of its curve and last weights."""
    from torch import nn

    from linid.images.models import FEATURES, build
    from linid.images.training import accuracy, to_unit

    net = build(cfg.model, x.shape[1], cfg.seed)
    readout = nn.Linear(FEATURES, 2)
    opt = torch.optim.Adam([*net.parameters(), *readout.parameters()], lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    curve = []
    for epoch in range(1, cfg.max_epochs + 1):
        net.train()
        loss_sum, steps = torch.zeros(()), 0
        order = tr[torch.randperm(len(tr), generator=gen)]
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            loss = nn.CrossEntropyLoss()(readout(net(to_unit(x[idx]))), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            steps += 1
        curve.append((epoch, float(loss_sum) / steps, accuracy(net, readout, x, y, va, cfg.eval_batch_size)))
    return curve, net.state_dict()


def test_the_one_loop_keeps_the_plain_loops_curve_and_checkpoints_every_epoch(tmp_path):
    x, y = _bars(100)
    tr, va = _split(len(x))
    cfg = ImageTrainConfig(model="linear", seed=1, batch_size=16, max_epochs=2, lr=0.01, early_stop_accuracy=1.0)
    ckpt = tmp_path / "run.ckpt"
    res = train_image_model(x, y, tr, va, 2, cfg, checkpoint=ckpt)
    expected, last_state = _plain_epochs(x, y, tr, va, cfg)
    assert [(r["epoch"], r["loss"], r["val_accuracy"]) for r in res.curve] == expected
    saved = torch.load(ckpt, weights_only=False)
    assert saved["epoch"] == 2  # the last epoch is checkpointed too (until the outputs are written)
    assert all(torch.equal(saved["net"][k], v) for k, v in last_state.items())


def test_a_diverging_image_model_is_stopped_naming_the_epoch(tmp_path):
    from linid.core.errors import NonFiniteLoss

    x, y = _bars(100)
    tr, va = _split(len(x))
    cfg = ImageTrainConfig(model="linear", seed=0, batch_size=16, max_epochs=3, lr=1e30)
    with pytest.raises(NonFiniteLoss, match=r"bars linear: non-finite training loss at epoch 1;"):
        train_image_model(x, y, tr, va, 2, cfg, label="bars linear", checkpoint=tmp_path / "c.ckpt")
    assert not (tmp_path / "c.ckpt").exists()  # nothing of a diverged epoch is kept


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="nothing to train"):
        ImageTrainConfig(model="pixels", seed=0)
    with pytest.raises(ValueError, match="lr"):
        ImageTrainConfig(model="mlp", seed=0, lr=float("nan"))
    x, y = _bars(50)
    with pytest.raises(ValueError, match="empty split"):
        train_image_model(x, y, torch.arange(50), torch.arange(0), 2, ImageTrainConfig(model="mlp", seed=0))
