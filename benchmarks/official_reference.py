"""Independent re-implementation of the synthetic experiment in the official code of Reizinger et
al. (2025), github.com/klindtlab/csi, used to cross-check the ``linid`` package at a matched budget.

This file deliberately does NOT import ``linid``: it is written from the official scripts' call
sites, in plain numpy + torch + scikit-learn, and follows *their* behaviour (including the oddities
listed below), not linid's. What it reproduces, and where in the official tree it comes from:

* ``simulation/main_sup.py`` / ``simulation/main_diet.py``: ``main()`` seeds numpy, ``random`` and
  torch from ``--seed`` (no seeding when it is absent) and every draw afterwards comes from those
  global generators, in the official order: cluster vectors -> mixing g -> the initial score of g
  -> encoder init -> head W init -> per step ``sample_latents(batch)`` -> the periodic evaluations
  (``--n-log-steps``), which draw fresh latents from the same streams.
  ``create_generative_process``: cluster vectors uniform on the sphere (``--m-p 0``; 1 / 2 give
  the projected Laplace / Normal around e_1 with scale 1), instance i ~ randint(0, N), class
  c = i mod |C|, z | c ~ vMF(v_c, kappa) (``--c-p 0``), projected Laplace(v_c, kappa/10)
  (``--c-p 1``) or projected Normal(v_c, kappa/10) (``--c-p 2``).
  ``create_encoder``: ``get_mlp`` with hidden sizes [10n, 50n x (L-2), 10n] and output n.
  ``train_diet``: head ``Linear(n, |C|)`` with class labels (main_sup) or ``Linear(n, N)`` with
  instance labels (main_diet), Adam(lr=1e-3) on encoder + head, cross-entropy, optional unit-norm
  rows of W before every step (``--normalize-rows-W``, main_diet only).
* ``simulation/src/spaces.py`` (``NSphereSpace``) and ``simulation/src/vmf.py`` (Wood's rejection
  sampler for the vMF weight, batched exactly as ``sample_vMF`` draws it).
* ``simulation/src/invertible_network_utils.py`` (``construct_invertible_mlp`` as called with
  n_layers=4, leaky_relu(0.2), cond_thresh_ratio=0.0, n_iter_cond_thresh=25000): the condition
  threshold is the minimum over a pool of 25000 column-normalised U(-1, 1) matrices and each layer
  is redrawn until its condition number is <= that threshold. The redraws are evaluated here in
  vectorised blocks; the global numpy state is then rewound and advanced by exactly the numbers the
  official one-at-a-time loop would have consumed, so the stream (and the accepted matrix) match.
* ``simulation/src/encoders.py`` (``get_mlp``: Linear -> BatchNorm1d -> LeakyReLU(0.01) per
  hidden layer, plain Linear output) and ``simulation/src/disentanglement_utils.py``
  (``linear_disentanglement``: ``LinearRegression()`` fitted on the first half, ``r2_score`` on the
  second; ``orthogonal_linear_disentanglement[_perf]``: no intercept; the singular-value MAE is
  fitted on all samples).

Deviation by design: ``--steps`` replaces ``n_epochs * max(N // batch, 1)`` so that a training
budget can be matched, and a final evaluation (``test_disentanglement``: encoder in eval mode, so
BatchNorm uses running statistics, on 8192 fresh latents) is run after the last step; the official
scripts only evaluate every ``n_log_steps`` steps and at step ``n_epochs * (N // batch) - 1``.
Those in-loop evaluations are kept (they consume the shared RNG streams as in the official code)
and are returned as ``trajectory``. Two controls are added to the result, computed after training on
the final evaluation's own 8192 draws (they draw nothing, so every other number is unchanged):
``r2_affine_x``, the affine R^2 of z from the observations x = g(z) themselves (how far the mixing
is from affine), and ``r2_affine_untrained``, the same for the encoder at initialisation (a copy
taken before training, eval mode, so BatchNorm uses its initial statistics). ``--device``
defaults to ``cpu`` (official: cuda when available; ``--device auto`` restores that). With the
same seed and arguments on the CPU this file reproduces the official scripts' losses and in-loop
scores digit for digit (checked against the official modules for sup, diet,
diet + --normalize-rows-W, c_p 1/2, m_p 2, N < batch).

Official behaviour kept on purpose (it may surprise):

* N < batch: N // batch = 0, so one step per epoch, and the "last step" evaluation condition
  (step == n_epochs * 0 - 1) never fires; with N >= batch that evaluation is at the
  second-to-last step, not the last.
* Evaluations switch the encoder to eval mode (BatchNorm running statistics) and draw fresh
  latents from the training RNG streams, so evaluating changes the later training batches.
* Building g constructs each ``nn.Linear`` (consuming the torch stream) before its weights are
  overwritten. The threshold is the pool minimum, so the number of redraws per layer is
  heavy-tailed (its expectation is infinite); ``layer_draws`` reports it.
* With --normalize-rows-W the rows are normalised *before* each step, so the W that is evaluated
  is the un-normalised one after the last Adam step; the initial score of g uses
  concentration=50 whatever kappa is; the W singular-value MAE is against 1, the z one against
  1/kappa, and both are fitted on all samples (the train/test split flag is ignored there).
  Without it, main_diet only reports affine R^2 (z and W); main_sup reports no W metric.

Run (from the repository root)::

    .venv/bin/python benchmarks/official_reference.py --method sup --n 5 --nr-clusters 100 \\
        --steps 5000 --seed 0 --threads 2 --json /tmp/sup.json
    .venv/bin/python benchmarks/official_reference.py --method diet --nr-indices 1000 \\
        --steps 5000 --seed 0 --normalize-rows-W --json /tmp/diet.json
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, r2_score
from threadpoolctl import threadpool_limits
from torch import nn

LatentSampler = Callable[[int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]

# --------------------------------------------------------------------------------------------------
# Distributions on the sphere (official: src/spaces.py NSphereSpace, src/vmf.py)
# --------------------------------------------------------------------------------------------------


def _to_sphere(x: torch.Tensor) -> torch.Tensor:
    return x / torch.sqrt(torch.sum(x**2, dim=-1, keepdim=True))


def sphere_uniform(size: int, n: int, device: torch.device) -> torch.Tensor:
    """Normalised standard Gaussian (torch stream)."""
    return _to_sphere(torch.randn((size, n), device=device))


def sphere_normal(mean: torch.Tensor, std: float, size: int, device: torch.device) -> torch.Tensor:
    """mean + std * N(0, I), projected back to the sphere (torch stream, on ``device``)."""
    mean = mean.reshape(-1, mean.shape[-1]).to(device)
    std_vec = (torch.ones(mean.shape[-1]) * std).to(device)
    return _to_sphere(torch.randn((size, mean.shape[-1]), device=device) * std_vec + mean)


def sphere_laplace(
    mean: torch.Tensor, scale: float, size: int, device: torch.device
) -> torch.Tensor:
    """mean + Laplace(0, scale) i.i.d. per coordinate, projected back to the sphere.

    As in the official code the Laplace noise is drawn on the CPU torch generator and then moved.
    """
    n = mean.shape[-1]
    mean = mean.reshape(-1, n).to(device)
    noise = torch.distributions.Laplace(torch.zeros(n), float(scale)).rsample((size,))
    return _to_sphere(noise.to(device) + mean)


def _vmf_weights(kappa: float, n: int, size: int) -> np.ndarray:
    """Wood (1994) rejection sampler for w = <z, mu>; batched rounds of ``size`` proposals."""
    m = n - 1  # S^{n-1}
    b = m / (np.sqrt(4.0 * kappa**2 + m**2) + 2.0 * kappa)
    x0 = (1.0 - b) / (1.0 + b)
    c = kappa * x0 + m * np.log(1.0 - x0**2)
    accepted: list[np.ndarray] = []
    count = 0
    while count < size:
        beta = np.random.beta(m / 2.0, m / 2.0, size=size)
        w = (1.0 - (1.0 + b) * beta) / (1.0 - (1.0 - b) * beta)
        u = np.random.uniform(low=0.0, high=1.0, size=size)
        keep = kappa * w + m * np.log(1.0 - x0 * w) - c >= np.log(u)
        accepted.append(w[keep])
        count += int(keep.sum())
    return np.concatenate(accepted)[:size]


def sphere_vmf(mean: torch.Tensor, kappa: float, size: int, device: torch.device) -> torch.Tensor:
    """vMF(mean_i, kappa) per row, numpy stream; returned as float32 on ``device``."""
    mu = mean.detach().cpu().numpy()
    if mu.ndim == 1:
        mu = np.repeat(mu[None, :], size, axis=0)
    if not np.allclose(np.sqrt((mu**2).sum(-1)), 1.0):
        raise ValueError("vMF mean directions must lie on the unit sphere")
    n = mu.shape[1]
    w = _vmf_weights(kappa, n, size)
    # a uniform direction orthogonal to mu (Gaussian draw minus its projection onto mu)
    v = np.random.randn(size, n)
    along = np.einsum("ij,ij->i", mu, v)[:, None] / np.linalg.norm(mu, axis=-1, keepdims=True)
    ortho = v - mu * along
    ortho = ortho / np.linalg.norm(ortho, axis=-1, keepdims=True)
    z = ortho * np.sqrt(1.0 - w**2)[:, None] + w[:, None] * mu
    return torch.Tensor(z).to(device)


# --------------------------------------------------------------------------------------------------
# Mixing g (official: src/invertible_network_utils.py construct_invertible_mlp, "pcl" init)
# --------------------------------------------------------------------------------------------------


def _unit_columns(mats: np.ndarray) -> np.ndarray:
    """Column-normalise a stack (k, n, n) of matrices (L2 norm of each column = 1)."""
    return mats / np.sqrt(np.sum(mats * mats, axis=-2, keepdims=True))


def _draw_conditioned_matrix(n: int, thresh: float, block: int) -> tuple[np.ndarray, float, int]:
    """First U(-1,1), column-normalised n x n draw with cond <= thresh, and how many draws it took.

    Candidates are drawn in blocks; afterwards the global numpy state is rewound and advanced by
    exactly (accepted index + 1) * n * n uniforms, i.e. what the sequential loop consumes.
    """
    draws = 0
    while True:
        state = np.random.get_state()
        cands = _unit_columns(np.random.uniform(-1.0, 1.0, (block, n, n)))
        conds = np.linalg.cond(cands)
        hits = np.flatnonzero(conds <= thresh)
        if hits.size:
            k = int(hits[0])
            np.random.set_state(state)
            np.random.uniform(-1.0, 1.0, (k + 1) * n * n)
            return cands[k], float(conds[k]), draws + k + 1
        draws += block


def make_mixing(
    n: int,
    n_layers: int = 4,
    slope: float = 0.2,
    pool_size: int = 25000,
    thresh_ratio: float = 0.0,
    block: int = 4096,
) -> tuple[nn.Sequential, dict[str, Any]]:
    """Frozen bias-free MLP: Linear, LeakyReLU(slope), ..., Linear; no activation after the last."""
    pool = _unit_columns(np.random.uniform(-1.0, 1.0, (pool_size, n, n)))
    pool_conds = np.sort(np.linalg.cond(pool))
    thresh = float(pool_conds[int(pool_size * thresh_ratio)])
    modules: list[nn.Module] = []
    conds: list[float] = []
    draws: list[int] = []
    for i in range(n_layers):
        # the official loop builds the Linear (consuming the torch stream) before drawing weights
        lin = nn.Linear(n, n, bias=False)
        mat, cond, n_draws = _draw_conditioned_matrix(n, thresh, block)
        lin.weight.data = torch.tensor(mat, dtype=torch.float32)
        modules.append(lin)
        conds.append(cond)
        draws.append(n_draws)
        if i < n_layers - 1:
            modules.append(nn.LeakyReLU(negative_slope=slope))
    g = nn.Sequential(*modules)
    for p in g.parameters():
        p.requires_grad = False
    info = {"cond_threshold": thresh, "layer_conds": conds, "layer_draws": draws}
    return g, info


# --------------------------------------------------------------------------------------------------
# Generative process (official: create_generative_process in main_sup.py / main_diet.py)
# --------------------------------------------------------------------------------------------------


def make_process(
    args: argparse.Namespace, device: torch.device
) -> tuple[torch.Tensor, LatentSampler, nn.Sequential, dict[str, Any]]:
    n = args.n
    e1 = torch.zeros(n)
    e1[0] = 1.0
    if args.m_p == 0:
        centres = sphere_uniform(args.nr_clusters, n, device)
    elif args.m_p == 1:
        centres = sphere_laplace(e1, 1.0, args.nr_clusters, device)
    else:
        centres = sphere_normal(e1, 1.0, args.nr_clusters, device)

    kappa = float(args.c_param)

    def sample_latents(size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, args.nr_indices, (size,), device=device)
        cls = idx % args.nr_clusters
        mean = centres[cls]
        if args.c_p == 0:
            z = sphere_vmf(mean, kappa, size, device)
        elif args.c_p == 1:
            z = sphere_laplace(mean, kappa / 10, size, device)
        else:
            z = sphere_normal(mean, kappa / 10, size, device)
        return z, idx, cls

    g, info = make_mixing(n, n_layers=args.n_mixing_layer)
    return centres, sample_latents, g.to(device), info


def make_encoder(args: argparse.Namespace) -> nn.Sequential:
    """get_mlp(n, n, [10n] + [50n] * (L - 2) + [10n], "bn"), built on the CPU as officially."""
    n = args.n
    widths = [10 * n] + [50 * n] * (args.n_hidden_layers - 2) + [10 * n]
    modules: list[nn.Module] = []
    width_in = n
    for width in widths:
        modules.append(nn.Linear(width_in, width))
        if not args.no_batch_norm:
            modules.append(nn.BatchNorm1d(width))
        modules.append(nn.LeakyReLU())
        width_in = width
    modules.append(nn.Linear(width_in, n))
    return nn.Sequential(*modules)


# --------------------------------------------------------------------------------------------------
# Metrics (official: src/disentanglement_utils.py and the test_* helpers of the main scripts)
# --------------------------------------------------------------------------------------------------


def _np(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


def r2_split(target: Any, feats: Any, intercept: bool = True) -> float:
    """Fit target ~ feats on the first half, R^2 (uniform average over outputs) on the second."""
    target, feats = _np(target), _np(feats)
    half = len(target) // 2
    reg = LinearRegression(fit_intercept=intercept).fit(feats[:half], target[:half])
    return float(r2_score(target[half:], reg.predict(feats[half:])))


def singular_value_mae(target: Any, feats: Any, scale: float) -> float:
    """No-intercept fit target ~ feats on ALL rows; MAE of its singular values against 1/scale."""
    target, feats = _np(target), _np(feats)
    coef = LinearRegression(fit_intercept=False).fit(feats, target).coef_.T
    sv = np.linalg.svd(coef, compute_uv=False)
    return float(mean_absolute_error(np.ones(coef.shape[0]) / scale, sv))


@torch.no_grad()
def affine_scores(
    sample: LatentSampler, maps: dict[str, Callable[[torch.Tensor], torch.Tensor]]
) -> dict[str, float]:
    """One draw of 8192 fresh latents; affine R^2 of z from m(z) for every map m (no RNG use)."""
    z, _, _ = sample(8192)
    return {name: r2_split(z, m(z)) for name, m in maps.items()}


def eval_affine(sample: LatentSampler, h: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """test_disentanglement: 8192 fresh latents, affine R^2 of z from h(z)."""
    return affine_scores(sample, {"h": h})["h"]


@torch.no_grad()
def eval_ortho(
    sample: LatentSampler, h: Callable[[torch.Tensor], torch.Tensor], concentration: float
) -> tuple[float, float]:
    """test_disentanglement_ortho: 4096 latents -> (no-intercept R^2, singular-value MAE)."""
    z, _, _ = sample(4096)
    hz = h(z)
    return r2_split(z, hz, intercept=False), singular_value_mae(z, hz, concentration)


def eval_w(centres: torch.Tensor, weight: torch.Tensor, normalized: bool) -> dict[str, float]:
    """W -> v: regress v_{i mod |C|} from row i of W (rows in index order, first half fits)."""
    targets = centres[torch.arange(weight.shape[0], device=centres.device) % centres.shape[0]]
    if normalized:
        return {
            "r2_W_ortho": r2_split(targets, weight, intercept=False),
            "sv_mae_W": singular_value_mae(targets, weight, 1.0),
        }
    return {"r2_W_affine": r2_split(targets, weight)}


# --------------------------------------------------------------------------------------------------
# Experiment
# --------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    t_start = time.perf_counter()
    if args.seed is not None:
        np.random.seed(args.seed)
        random.seed(args.seed)
        torch.manual_seed(args.seed)
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    diet = args.method == "diet"
    norm_w = bool(args.normalize_rows_W)

    centres, sample, g, mix_info = make_process(args, device)

    # initial score of g (consumes the streams exactly as main() does)
    initial: dict[str, float] = {}
    if diet and norm_w:
        # main_diet.py calls test_disentanglement_ortho(h=g) with its default concentration=50
        initial["r2_ortho"], initial["sv_mae"] = eval_ortho(sample, g, 50.0)
    else:
        initial["r2_affine"] = eval_affine(sample, g)

    f = make_encoder(args).to(device)
    f_init = copy.deepcopy(f).eval()  # the untrained encoder, for a control (no RNG draws)
    n_out = args.nr_indices if diet else args.nr_clusters
    head = nn.Linear(args.n, n_out, bias=args.W_bias_used, device=device)
    opt = torch.optim.Adam(list(f.parameters()) + list(head.parameters()), lr=1e-3, weight_decay=0)

    per_epoch = args.nr_indices // args.batch_size
    if args.steps is not None:
        total = args.steps
        last_logged = total - 1 if per_epoch >= 1 else -1
    else:
        total = args.n_epochs * max(per_epoch, 1)
        last_logged = args.n_epochs * per_epoch - 1  # official; never reached when N < batch

    def h(z: torch.Tensor) -> torch.Tensor:
        return f(g(z))

    def evaluate_official() -> dict[str, float]:
        out: dict[str, float] = {}
        if diet and norm_w:
            out["r2_ortho"], out["sv_mae"] = eval_ortho(sample, h, float(args.c_param))
        else:
            out["r2_affine"] = eval_affine(sample, h)
        if diet:
            out.update(eval_w(centres, head.weight.data, norm_w))
        return out

    trajectory: list[dict[str, float]] = []
    losses: list[float] = []
    f.train()
    t_train = time.perf_counter()
    for step in range(1, total + 1):
        z, idx, cls = sample(args.batch_size)
        if norm_w:
            head.weight.data = head.weight.data / torch.norm(
                head.weight.data, p=2, dim=-1, keepdim=True
            )
        loss = F.cross_entropy(head(h(z)), idx if diet else cls)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
        logged = args.n_log_steps > 0 and step % args.n_log_steps == 0
        if logged or step == last_logged:
            f.eval()
            point: dict[str, float] = {"step": step, "loss": losses[-1]}
            point.update(evaluate_official())
            trajectory.append(point)
            f.train()
            if not args.quiet:
                print(
                    " ".join(
                        f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in point.items()
                    ),
                    flush=True,
                )
    train_seconds = time.perf_counter() - t_train

    # final evaluation after the last step (not in the official scripts; see module docstring)
    f.eval()
    final: dict[str, float] = {}
    if diet and norm_w:
        final["r2_ortho"], final["sv_mae"] = eval_ortho(sample, h, float(args.c_param))
    # the affine score, plus two controls on the same 8192 draws: x = g(z) itself and the
    # untrained encoder (initial weights, eval mode); they draw nothing, so r2_affine is unchanged
    scores = affine_scores(sample, {"h": h, "x": g, "init": lambda z: f_init(g(z))})
    final["r2_affine"] = scores["h"]
    final["r2_affine_x"] = scores["x"]
    final["r2_affine_untrained"] = scores["init"]
    if diet:
        final.update(eval_w(centres, head.weight.data, norm_w))
        if norm_w:
            final.update(eval_w(centres, head.weight.data, False))  # affine W -> v as well

    tail = losses[-100:]
    return {
        "reference": "klindtlab/csi simulation/main_sup.py, main_diet.py (re-implementation)",
        "args": vars(args),
        "device": str(device),
        "torch": torch.__version__,
        "steps": total,
        "final_loss": losses[-1] if losses else None,
        "loss_last100_mean": float(np.mean(tail)) if tail else None,
        **final,
        "initial_g": initial,
        "trajectory": trajectory,
        "cond_threshold": mix_info["cond_threshold"],
        "layer_conds": mix_info["layer_conds"],
        "layer_draws": mix_info["layer_draws"],
        "train_seconds": train_seconds,
        "seconds": time.perf_counter() - t_start,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--method",
        choices=["sup", "diet"],
        default="sup",
        help="sup: main_sup.py (class labels); diet: main_diet.py (instance labels)",
    )
    p.add_argument("--seed", type=int, default=None, help="global seed (official default: none)")
    p.add_argument("--n", type=int, default=5, help="latent / observation dimension")
    p.add_argument("--nr-clusters", type=int, default=100)
    p.add_argument("--nr-indices", type=int, default=10240, help="N, number of instances")
    p.add_argument(
        "--m-p",
        type=int,
        choices=[0, 1, 2],
        default=0,
        help="cluster vectors: 0 uniform, 1/2 projected Laplace/Normal around e_1",
    )
    p.add_argument(
        "--c-p",
        type=int,
        choices=[0, 1, 2],
        default=0,
        help="conditional: 0 vMF(kappa), 1 Laplace(kappa/10), 2 Normal(kappa/10)",
    )
    p.add_argument("--c-param", type=float, default=10.0, help="kappa")
    p.add_argument("--n-mixing-layer", type=int, default=4)
    p.add_argument("--n-hidden-layers", type=int, default=6)
    p.add_argument("--no-batch-norm", action="store_true")
    p.add_argument("--W-bias-used", action="store_true")
    p.add_argument("--normalize-rows-W", action="store_true", help="DIET only (main_diet.py)")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument(
        "--n-epochs",
        type=int,
        default=50000,
        help="official budget: n_epochs * max(N // batch, 1) steps",
    )
    p.add_argument("--steps", type=int, default=None, help="total steps; overrides --n-epochs")
    p.add_argument(
        "--n-log-steps",
        type=int,
        default=1000,
        help="in-loop evaluation period as in the official loop (0: none)",
    )
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="cpu",
        help="auto = the official choice (cuda when available)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch and BLAS threads")
    p.add_argument("--json", default=None, help="write the result to this JSON file")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.normalize_rows_W and args.method != "diet":
        p.error("--normalize-rows-W exists only in main_diet.py (use --method diet)")
    if args.n < 2:
        p.error("--n must be >= 2 (vMF on S^{n-1})")
    if args.n_hidden_layers < 2:
        p.error("--n-hidden-layers must be >= 2")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        result = run(args)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    summary = {k: v for k, v in result.items() if k not in ("args", "trajectory")}
    print(json.dumps(summary, indent=1), flush=True)


if __name__ == "__main__":
    main()
