"""Objectives as plug-ins: the registry is the one list; InfoNCE's loss, draws, packing and resume."""

import re
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from linid.pipeline.config import ConfigError, load_schema, validate_config
from linid.runtime import Interrupted
from linid.sim.features import extract
from linid.sim.objectives import METHODS, REGISTRY, objective, spec
from linid.sim.process import DGPConfig, make_process, unmix
from linid.sim.training import TrainConfig, train, train_pack
from tests.helpers import signal_after_steps

ROOT = Path(__file__).resolve().parents[2]
PROCS = [make_process(DGPConfig(latent_dim=3, n_classes=20, n_instances=200, cond_candidates=200, seed=s))
         for s in range(3)]
FAST = dict(batch_size=64, log_every=10, eval_every=10**9, checkpoint_every=10**9, chunk_steps=8, bn_batches=4)


def _infonce(steps, seeds=(0, 1, 2), **kw):
    return [(PROCS[s], TrainConfig(**{**FAST, **kw, "method": "infonce", "steps": steps, "seed": s}))
            for s in seeds]


# -- the registry is the one list ---------------------------------------------------------------


def test_every_registered_objective_is_in_the_schema_the_wildcard_and_the_probes():
    """Fails when an objective is registered but missing from the schema's method list, the
    ``method`` wildcard constraint or the probes' choices (its module, head and representation)."""
    schema = load_schema(ROOT / "workflow/schemas/config.schema.yaml")
    assert schema["$defs"]["method"]["enum"] == list(REGISTRY)
    for name in METHODS:
        assert f"{name}:" in schema["$defs"]["method"]["description"]
    common = (ROOT / "workflow/rules/common.smk").read_text()
    constraint = re.search(r'^\s*method=(.+),$', common, re.M).group(1)
    assert constraint == '"|".join(METHODS)'  # derived from the registry, never a hand-kept list
    for name in METHODS:
        assert re.fullmatch("|".join(METHODS), name)
        obj = objective(name)
        targets = obj.head_targets(PROCS[0])
        # the W → v probes run exactly where the registration declares a head
        assert (targets is None) == (spec(name).head is None), name
        assert obj.samples >= 1 and callable(obj.represent)
    settings = schema["properties"]["simulation"]["properties"]["objectives"]["properties"]
    assert set(settings) == {s.name for s in REGISTRY.values() if s.settings}
    assert settings["infonce"]["properties"]["tau"]["default"] == 1.0


def _config(**sim):
    return {"name": "t", "simulation": {"sweeps": {"s": {"axes": {"latent_dim": [3], "n_classes": [4]},
                                                         "seeds": [0], **sim}}}}


def test_an_unknown_method_or_setting_is_refused_at_the_door_never_trained_as_another():
    schema = load_schema(ROOT / "workflow/schemas/config.schema.yaml")
    with pytest.raises(ConfigError, match=r"'simclr' is not one of \['supervised', 'diet', 'infonce'\]"):
        validate_config(_config(methods=["simclr"]), schema)
    bad = _config(methods=["infonce"])
    bad["simulation"]["objectives"] = {"infonce": {"similarity": "cosine", "temperature": 2}}
    with pytest.raises(ConfigError) as err:
        validate_config(bad, schema)
    assert "'cosine' is not one of ['dot', 'l2']" in str(err.value) and "temperature" in str(err.value)
    with pytest.raises(ValueError, match=r"method must be one of .* \(the registered objectives\), got .simclr."):
        TrainConfig(method="simclr")
    with pytest.raises(ValueError, match="has no setting"):
        objective("infonce", {"temprature": 0.5})
    good = _config(methods=["supervised", "infonce"])
    validate_config(good, schema)
    assert good["simulation"]["objectives"]["infonce"] == spec("infonce").defaults


# -- InfoNCE --------------------------------------------------------------------------------------


def _direct_loss(a, p, tau, similarity):
    """cl-ica's loss written out per anchor, with its rolled negatives (main_mlp.py:266-272,
    losses.py:187-200 and 447-469): the anchor itself is among its negatives."""
    a, p = a.double(), p.double()
    rolled = torch.roll(a, 1, 0)
    out = []
    for i in range(len(a)):
        if similarity == "dot":
            pos = float(a[i] @ p[i])
            neg = [float(a[i] @ rolled[k]) for k in range(len(a))]
        else:
            pos = -float(((a[i] - p[i]) ** 2).sum())
            neg = [-float(((a[i] - rolled[k]) ** 2).sum()) for k in range(len(a))]
        terms = np.array(neg + [pos]) / tau
        out.append(-pos / tau + np.log(np.exp(terms).sum()))
    return float(np.mean(out))


@pytest.mark.parametrize("similarity,normalize", [("dot", True), ("l2", False), ("l2", True)])
def test_the_infonce_loss_is_cl_icas_written_out(similarity, normalize):
    obj = objective("infonce", {"tau": 0.7, "similarity": similarity, "normalize": normalize})
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(2, 2 * 9, 4, generator=gen)  # k = 2 models, 9 pairs, interleaved (x, x̃)
    loss = obj.loss(obj.outputs(None, h), torch.zeros(2, 9, dtype=torch.long))
    for m in range(2):
        pairs = h[m].view(9, 2, 4)
        a, p = pairs[:, 0], pairs[:, 1]
        if normalize:
            a, p = torch.nn.functional.normalize(a, dim=-1), torch.nn.functional.normalize(p, dim=-1)
        assert float(loss[m]) == pytest.approx(_direct_loss(a, p, 0.7, similarity), rel=1e-5, abs=1e-5)


def test_infonce_draws_positive_pairs_from_the_vmf_around_z_through_the_same_mixing():
    kappa = 50.0
    obj = objective("infonce", {"kappa": kappa})
    x, _ = obj.draw(PROCS[0], 4000, torch.Generator().manual_seed(1))
    assert x.shape == (4000, 2, 3)
    z, z_tilde = (unmix(x[:, i].double(), [w.double() for w in PROCS[0].mixing_weights], PROCS[0].cfg.mixing_slope)
                  for i in range(2))
    cos = (z * z_tilde).sum(1) / (z.norm(dim=1) * z_tilde.norm(dim=1))
    # vMF on S², mean cosine coth(κ) − 1/κ
    assert float(cos.mean()) == pytest.approx(1 / np.tanh(kappa) - 1 / kappa, abs=0.003)
    assert torch.allclose(z.norm(dim=1), torch.ones(4000, dtype=z.dtype), atol=1e-3)


def test_infonce_learns_unit_sphere_features_without_a_head():
    res = train(PROCS[0], TrainConfig(**{**FAST, "method": "infonce", "steps": 150, "lr": 3e-3,
                                         "eval_every": 150}),
                monitor=(PROCS[0].sample(2000, torch.Generator().manual_seed(5)).x,
                         PROCS[0].sample(2000, torch.Generator().manual_seed(5)).z))
    assert res.head.weight.shape == (0, 3)
    assert res.curve[-1]["loss"] < res.curve[0]["loss"]
    assert res.curve[-1]["monitor_r2"] > res.curve[0]["monitor_r2"] + 0.1
    ev = PROCS[0].sample(500, torch.Generator().manual_seed(7))
    arrays = {"eval_x": ev.x.numpy(), "eval_z": ev.z.numpy(), "eval_class": ev.klass.numpy(),
              "eval_instance": ev.instance.numpy()}
    out = extract(res.encoder, res.head, PROCS[0], TrainConfig(method="infonce"), arrays)
    assert "w_rows" not in out and float(out["sv_kappa"]) == 1.0  # no W → v probes; orthogonal map
    assert np.allclose(np.linalg.norm(out["features"], axis=1), 1.0, atol=1e-5)


def test_an_infonce_models_training_does_not_depend_on_its_pack():
    alone = train_pack(_infonce(20, seeds=(2,)))[0]
    third = train_pack(_infonce(20, seeds=(0, 1, 2)))[2]
    assert [p.get("loss") for p in third.curve] == [p.get("loss") for p in alone.curve]
    for name, value in third.encoder.state_dict().items():
        assert torch.equal(value, alone.encoder.state_dict()[name]), name


def test_infonce_resumes_bit_for_bit(tmp_path):
    ckpt = tmp_path / "pack.ckpt"
    members = _infonce(30, seeds=(0, 1), checkpoint_every=10)
    with signal_after_steps(13, signal.SIGTERM), pytest.raises(Interrupted, match="SIGTERM at step 13"):
        train_pack(members, checkpoint=ckpt)
    resumed = train_pack(members, checkpoint=ckpt)
    fresh = train_pack(members)
    assert resumed[0].resumed_from == 13
    for r, f in zip(resumed, fresh, strict=True):
        assert [p.get("loss") for p in r.curve] == [p.get("loss") for p in f.curve]
        for name, value in r.encoder.state_dict().items():
            assert torch.equal(value, f.encoder.state_dict()[name]), name
