"""Online training of encoders (and heads) on fresh draws of the generative process (docs/science.md §2).

:func:`train_pack` trains k ≥ 1 models of one objective together (:mod:`linid.sim.packed`);
:func:`train` is one model as a pack of one. The objective (:mod:`linid.sim.objectives`) decides
the head, the draws and the loss; the loop (:func:`linid.core.training.run`) counts the steps,
reads the losses back every ``log_every`` steps, checks them, and writes checkpoints every
``checkpoint_every`` steps and on SIGTERM/SIGUSR1, resumed bit-for-bit. Data are sampled on the
device in chunks of ``chunk_steps`` batches; model i draws from its own stream
(:func:`data_seed`), so its data never depend on the pack it is in or on its position.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from linid.core.checkpoints import (
    fingerprint,
    load_checkpoint,
    restore_global_rng,
    rng_states,
    save_checkpoint,
)
from linid.core.training import Loop, run
from linid.probes.regression import r2_affine
from linid.runtime import pick_device, precision, progress_line
from linid.sim.config import TrainConfig, n_outputs_for
from linid.sim.models import Encoder, Head, build_models, recalibrate_batchnorm
from linid.sim.objectives import REGISTRY, objective
from linid.sim.packed import GRAPH_WARMUP, GraphedStep, PackedEncoder, PackedHead, capture
from linid.sim.process import GenerativeProcess

log = logging.getLogger(__name__)

#: the modules whose code decides what a training step does: a checkpoint resumes only under the
#: same code of these and of every ``linid`` module they import (found from the import graph);
#: the objectives are imported by name, so their modules are named here from the registry
TRAINING_CODE: tuple[str, ...] = ("linid.sim.training", *(s.module for s in REGISTRY.values()))


def data_seed(dataset_seed: int, model_seed: int) -> int:
    """Seed of a model's training batches: fixed by its dataset and its own seed, nothing else."""
    return (dataset_seed * 1_000_003 + model_seed) * 7919 + 3


def monitor_r2(features: torch.Tensor, targets: torch.Tensor) -> float:
    """R²_a of the monitor set (first half fits, second half scores): ``probes.regression.r2_affine``."""
    return r2_affine(features.double().cpu().numpy(), targets.double().cpu().numpy())


def bn_seed(seed: int) -> int:
    """The generator seed of the precise-BN draws at ``seed`` (a step): a stream of its own, never
    the bare number a dataset or a model seed would also use."""
    return int(seed) * 1_000_033 + 5_000_011


def objective_of(cfg: TrainConfig):
    """The objective a TrainConfig trains (its method with its settings)."""
    return objective(cfg.method, cfg.settings)


def features(encoder: Encoder, cfg: TrainConfig, x: torch.Tensor) -> torch.Tensor:
    """What the probes read of a model: its objective's representation of f(x)."""
    return objective_of(cfg).represent(encoder(x))


def calibrated_copy(
    encoder: Encoder, process: GenerativeProcess, cfg: TrainConfig, seed: int
) -> Encoder:
    """A copy of the encoder in eval mode with precise-BN statistics from fresh draws (own RNG stream)."""
    enc = copy.deepcopy(encoder)
    if cfg.bn_batches > 0:
        device = next(enc.parameters()).device
        gen = torch.Generator(device=device).manual_seed(bn_seed(seed))
        batches = [process.sample(cfg.batch_size, gen).x for _ in range(cfg.bn_batches)]
        recalibrate_batchnorm(enc, batches)
    return enc.eval()


def initial_point(encoder: Encoder, process: GenerativeProcess, cfg: TrainConfig, monitor) -> dict:
    """Step 0 of a curve: the monitor R² of the model before any update (precise-BN statistics from
    draws seeded 0, as every later point is seeded with its step). Its loss, the first batch's on these
    weights, is filled in once the first step has computed it (:func:`_log_point`)."""
    enc = calibrated_copy(encoder, process, cfg, seed=0)
    with torch.no_grad():
        r2 = monitor_r2(features(enc, cfg, monitor[0]), monitor[1])
    return {"step": 0, "monitor_r2": r2, "seconds": 0.0}


@dataclass
class TrainResult:
    encoder: Encoder
    head: Head
    curve: list[dict]
    steps_done: int
    resumed_from: int
    seconds: float
    device: str


def check_packable(members: list[tuple[GenerativeProcess, TrainConfig]]) -> None:
    """Models share a pack when their configs differ in the seed only and their shapes agree."""
    if not members:
        raise ValueError("a pack needs at least one model")
    p0, c0 = members[0]
    ref = {**asdict(c0), "seed": None}
    shape0 = (p0.cfg.latent_dim, n_outputs_for(c0.method, p0.cfg.n_classes, p0.cfg.n_instances))
    for p, c in members[1:]:
        if {**asdict(c), "seed": None} != ref:
            raise ValueError(f"pack members must share every training setting but the seed: {c} vs {c0}")
        shape = (p.cfg.latent_dim, n_outputs_for(c.method, p.cfg.n_classes, p.cfg.n_instances))
        if shape != shape0:
            raise ValueError(f"pack members must agree in (d, rows of W): {shape} vs {shape0}")


def train_pack(
    members: list[tuple[GenerativeProcess, TrainConfig]],
    *,
    monitors: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
    device: torch.device | None = None,
    checkpoint: Path | None = None,
    on_log: Callable[[int, int, dict], None] | None = None,
    labels: list[str] | None = None,
) -> list[TrainResult]:
    """Train every (process, config) of ``members`` in one pack; one :class:`TrainResult` each.

    A step of the pack is one batched forward pass, the objective's k mean losses summed (model i's
    depends on its own parameters only, so its gradient is its own) and one Adam over the stacks
    (elementwise: each model's update is exactly its own). ``on_log(i, step, metrics)`` is called per
    model at every log/eval point; ``labels`` name the models in errors. A non-finite loss stops
    the pack naming the model and the step. A checkpoint covers the whole pack (stacked weights,
    optimiser, every model's random streams) and resumes it exactly; SIGTERM/SIGUSR1 write one and
    raise :class:`~linid.runtime.Interrupted`.
    """
    check_packable(members)
    device = device or pick_device()
    k = len(members)
    labels = labels or [f"model {i}" for i in range(k)]
    cfg = members[0][1]
    obj = objective_of(cfg)
    singles = []
    for proc, c in members:
        n_out = n_outputs_for(c.method, proc.cfg.n_classes, proc.cfg.n_instances)
        singles.append(build_models(proc.cfg.latent_dim, n_out, c.seed, temperature=c.temperature,
                                    learn_temperature=c.learn_temperature))
    singles = [(e.to(device), h.to(device)) for e, h in singles]
    encoder = PackedEncoder([e for e, _ in singles]).to(device)
    head = PackedHead([h for _, h in singles]).to(device)
    procs = [p.to(device) for p, _ in members]
    gens = [torch.Generator(device=device).manual_seed(data_seed(p.cfg.seed, c.seed)) for p, c in members]
    use_graph = cfg.cuda_graph and device.type == "cuda"
    # foreach, not fused: per-element rounding independent of the stack (docs/speed.md)
    opt = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=cfg.lr,
                           foreach=True, capturable=use_graph)
    if cfg.precision == "tf32" and device.type != "cuda":
        log.warning("precision tf32 has no effect on %s (TF32 is a CUDA matmul mode): fp32 math", device)
    mons = [(x.to(device), z.to(device)) for x, z in monitors] if monitors else None
    fp = fingerprint({"pack": [asdict(c) for _, c in members]}, {"data": [asdict(p.cfg) for p, _ in members]},
                     TRAINING_CODE)

    loop = Loop(cfg.steps, name=f"pack of {k}", log_every=cfg.log_every, checkpoint_every=cfg.checkpoint_every,
                labels=labels, context=f"method={cfg.method}, lr={cfg.lr}")
    curves: list[list[dict]] = [[] for _ in range(k)]
    start, chunk_states = 0, None
    ckpt = load_checkpoint(checkpoint, fp) if checkpoint is not None else None
    if ckpt is not None:
        encoder.load_state_dict(ckpt["encoder"])
        head.load_state_dict(ckpt["head"])
        opt.load_state_dict(ckpt["optimizer"])
        restore_global_rng(ckpt["rng"])
        chunk_states = list(ckpt["chunk_rng"])
        curves = json.loads(ckpt["curves"])
        loop.window = [t.to(device) for t in ckpt["window"]]
        start = int(ckpt["step"])
        log.info("pack of %d: resuming from checkpoint %s at step %d", k, checkpoint, start)
    bs, chunk = cfg.batch_size, cfg.chunk_steps
    m = obj.samples  # observations per item: a step encodes m · bs inputs per model
    state = {"current": [], "xs": None, "ys": None, "graph": None, "use_graph": use_graph,
             "side": torch.cuda.Stream(device) if use_graph else None}

    def write_checkpoint(done: int) -> None:
        if done % chunk == 0:  # the next chunk starts from the generators' current states
            state["current"] = [g.get_state() for g in gens]
        save_checkpoint(checkpoint, {
            "fingerprint": fp, "step": done, "encoder": encoder.state_dict(), "head": head.state_dict(),
            "optimizer": opt.state_dict(), "rng": rng_states(gens[0]), "chunk_rng": state["current"],
            "curves": json.dumps(curves),
            "window": torch.stack(loop.window).cpu() if loop.window else torch.empty(0),
        })
        log.info("pack of %d: checkpoint at step %d -> %s", k, done, checkpoint)

    def step_fn(x: torch.Tensor, y: torch.Tensor, zero_grad: bool) -> torch.Tensor:
        """One step of every model; returns the k losses (a fresh tensor, safe to keep)."""
        if cfg.normalize_w:
            head.normalize_rows()
        with precision(cfg.precision, device):
            out = obj.outputs(head, encoder(x))
        per_model = obj.loss(out, y)
        if zero_grad:
            opt.zero_grad(set_to_none=True)
        per_model.sum().backward()
        opt.step()
        return per_model.detach().clone()

    def step(i: int) -> torch.Tensor:
        """Step i of the pack: a new chunk of draws every ``chunk_steps`` steps, then one update."""
        j = i % chunk
        if state["xs"] is None or j == 0:
            if state["xs"] is None and chunk_states is not None:  # resume inside the chunk being consumed
                for g, saved in zip(gens, chunk_states, strict=True):
                    g.set_state(saved)
            state["current"] = [g.get_state() for g in gens]
            draws = [obj.draw(p, chunk * bs, g) for p, g in zip(procs, gens, strict=True)]
            state["xs"] = torch.stack([x.view(chunk, bs * m, -1) for x, _ in draws], dim=1)  # (chunk, k, m·bs, d)
            state["ys"] = torch.stack([y.view(chunk, bs) for _, y in draws], dim=1)
        xs, ys = state["xs"], state["ys"]
        if state["graph"] is None and state["use_graph"] and i - start >= GRAPH_WARMUP:
            state["graph"] = capture(step_fn, xs[j], ys[j], opt, state["side"], labels_of=f"pack of {k}")
            state["use_graph"] = state["graph"] is not None
            state["side"] = state["side"] if state["use_graph"] else None
        graph: GraphedStep | None = state["graph"]
        if graph is not None:
            return graph.replay(xs[j], ys[j])
        side = state["side"]
        if side is not None:
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                loss = step_fn(xs[j], ys[j], zero_grad=True)
            torch.cuda.current_stream().wait_stream(side)
            return loss
        return step_fn(xs[j], ys[j], zero_grad=True)

    if start == 0 and mons is not None:
        for i in range(k):
            curves[i].append(initial_point(encoder.unpack(i, singles[i][0]), procs[i], members[i][1], mons[i]))
            if on_log is not None:
                on_log(i, 0, curves[i][-1])
    t0 = time.perf_counter()

    def log_point(done: int, losses: torch.Tensor, last: bool) -> None:
        _log_point(done, last, losses, curves, cfg, encoder, head, singles, procs, members, mons, on_log, t0, start)

    encoder.train()
    run(loop, step, start=start, on_log=log_point, save=write_checkpoint if checkpoint is not None else None)
    if cfg.normalize_w:
        head.normalize_rows()
    seconds = time.perf_counter() - t0
    results = []
    for i, ((enc_like, head_like), proc, (_, c)) in enumerate(zip(singles, procs, members, strict=True)):
        enc = calibrated_copy(encoder.unpack(i, enc_like), proc, c, seed=c.steps)
        results.append(TrainResult(enc, head.unpack(i, head_like), curves[i], c.steps, start, seconds,
                                   str(device)))
    return results


def _log_point(done, last, losses, curves, cfg, encoder, head, singles, procs, members, mons,
               on_log, t0, start) -> None:
    """One log point of every model: mean loss since the last one, monitor R² at eval points. The
    first window's first loss, taken on the initial weights before any update, is the curve's step
    0 loss (read from what training computed: no extra step, draw or sync)."""
    evaluate = mons is not None and (done % cfg.eval_every == 0 or last)
    if done == len(losses):  # this window began at step 0: its first loss is the initial model's
        for i in range(len(curves)):
            first = {"step": 0, "loss": float(losses[0, i])}  # computed before the first update
            if curves[i] and curves[i][0]["step"] == 0:
                curves[i][0]["loss"] = first["loss"]
            else:
                curves[i].insert(0, {**first, "seconds": 0.0})
            if on_log is not None:
                on_log(i, 0, first)
    for i in range(len(curves)):
        point = {"step": done, "loss": float(losses[:, i].contiguous().mean())}  # as if alone
        if evaluate:
            c = members[i][1]
            enc_i = calibrated_copy(encoder.unpack(i, singles[i][0]), procs[i], c, seed=done)
            with torch.no_grad():
                point["monitor_r2"] = monitor_r2(features(enc_i, c, mons[i][0]), mons[i][1])
        if cfg.learn_temperature:
            point["temperature"] = float(head.log_temperature[i].detach().exp())
        point["seconds"] = time.perf_counter() - t0
        curves[i].append(point)
        if on_log is not None:
            on_log(i, done, point)
    if evaluate or last or done % (10 * cfg.log_every) == 0:
        points = [c[-1] for c in curves]
        r2s = [p["monitor_r2"] for p in points if "monitor_r2" in p]
        log.info(progress_line(f"pack of {len(curves)}", done, cfg.steps, start,
                               points[0]["seconds"], sum(p["loss"] for p in points) / len(points),
                               min(r2s) if r2s else None) + (" (loss: mean of the pack; R²: its lowest)"))


def train(
    process: GenerativeProcess,
    cfg: TrainConfig,
    *,
    monitor: tuple[torch.Tensor, torch.Tensor] | None = None,
    device: torch.device | None = None,
    checkpoint: Path | None = None,
    on_log: Callable[[int, dict], None] | None = None,
    label: str = "",
) -> TrainResult:
    """Train one model (f, and W where the objective has a head) on online samples: a pack of one.

    ``monitor`` = (x, z) held-out arrays for a cheap periodic affine R²; ``on_log(step, metrics)``
    is called at every log/eval point (e.g. to stream to MLflow); ``label`` names the cell in errors.
    """

    def per_model(_: int, step: int, point: dict) -> None:
        on_log(step, point)

    return train_pack(
        [(process, cfg)],
        monitors=[monitor] if monitor is not None else None,
        device=device,
        checkpoint=checkpoint,
        on_log=per_model if on_log is not None else None,
        labels=[label or "train"],
    )[0]
