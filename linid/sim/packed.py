"""Many models per process: k encoder + head pairs trained as stacked parameters (issue: packed training).

Each layer of the k encoders is one ``(k, out, in)`` tensor; a step is one batched matmul per layer,
BatchNorm statistics per model, one fused Adam over the stacks (Adam is elementwise, so each model's
update is exactly its own) and the sum of the k mean cross-entropies (model i's loss depends on
model i's parameters only, so its gradient is its own). Model i draws its batches from the same
random stream as the single-model trainer (:func:`linid.sim.training.train`) with its seed, so its
data never depend on the pack it is in or on its position. Numerically the batched kernels differ
from the single-model ones in rounding only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from linid.core.errors import NonFiniteLoss
from linid.runtime import Interrupted, pick_device, precision, progress_line, stop_on_signals
from linid.sim.checkpoints import (
    fingerprint,
    load_checkpoint,
    restore_global_rng,
    rng_states,
    save_checkpoint,
)
from linid.sim.config import n_outputs_for
from linid.sim.models import Encoder, Head, build_models
from linid.sim.process import GenerativeProcess
from linid.sim.training import (
    TrainConfig,
    TrainResult,
    calibrated_copy,
    data_seed,
    initial_point,
    monitor_r2,
)

log = logging.getLogger(__name__)

#: eager steps on a side stream before a CUDA graph is captured (lazy cuBLAS/allocator set-up)
GRAPH_WARMUP = 3


class PackedEncoder(nn.Module):
    """k encoders f_1..f_k stacked: input (k, B, d) → (k, B, d); BatchNorm statistics per model."""

    def __init__(self, encoders: list[Encoder]):
        super().__init__()
        self.k = len(encoders)
        linears = [[m for m in e.net if isinstance(m, nn.Linear)] for e in encoders]
        bns = [[m for m in e.net if isinstance(m, nn.BatchNorm1d)] for e in encoders]
        slopes = [m.negative_slope for m in encoders[0].net if isinstance(m, nn.LeakyReLU)]
        self.slope = slopes[0] if slopes else 0.01
        n_layers = len(linears[0])
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([ls[j].weight.detach() for ls in linears])) for j in range(n_layers)
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([ls[j].bias.detach() for ls in linears])) for j in range(n_layers)
        )
        self.gammas = nn.ParameterList(
            nn.Parameter(torch.stack([b[j].weight.detach() for b in bns])) for j in range(n_layers - 1)
        )
        self.betas = nn.ParameterList(
            nn.Parameter(torch.stack([b[j].bias.detach() for b in bns])) for j in range(n_layers - 1)
        )
        for j in range(n_layers - 1):
            self.register_buffer(f"running_mean{j}", torch.stack([b[j].running_mean for b in bns]))
            self.register_buffer(f"running_var{j}", torch.stack([b[j].running_var for b in bns]))
        self.register_buffer("num_batches_tracked", bns[0][0].num_batches_tracked.clone())
        self.momentum = bns[0][0].momentum
        self.eps = bns[0][0].eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (k, B, d) → f(x) (k, B, d). Inside, activations are (k, width, B): a layer is one
        ``baddbmm`` and BatchNorm is the native kernel over k·width channels (statistics per model)."""
        k, n = x.shape[0], x.shape[1]
        h = x.transpose(1, 2)
        last = len(self.weights) - 1
        if self.training:
            self.num_batches_tracked += 1
        for j, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b.unsqueeze(2), w, h)
            if j == last:
                break
            width = h.shape[1]
            h = F.batch_norm(
                h.reshape(1, k * width, n),
                getattr(self, f"running_mean{j}").view(-1),
                getattr(self, f"running_var{j}").view(-1),
                self.gammas[j].reshape(-1),
                self.betas[j].reshape(-1),
                training=self.training,
                momentum=self.momentum,
                eps=self.eps,
            ).view(k, width, n)
            h = F.leaky_relu(h, self.slope)
        return h.transpose(1, 2)

    def unpack(self, i: int, like: Encoder) -> Encoder:
        """Model i as a single :class:`Encoder` (a copy of ``like``'s architecture with i's state)."""
        import copy

        enc = copy.deepcopy(like)
        linears = [m for m in enc.net if isinstance(m, nn.Linear)]
        bns = [m for m in enc.net if isinstance(m, nn.BatchNorm1d)]
        with torch.no_grad():
            for j, lin in enumerate(linears):
                lin.weight.copy_(self.weights[j][i])
                lin.bias.copy_(self.biases[j][i])
            for j, bn in enumerate(bns):
                bn.weight.copy_(self.gammas[j][i])
                bn.bias.copy_(self.betas[j][i])
                bn.running_mean.copy_(getattr(self, f"running_mean{j}")[i])
                bn.running_var.copy_(getattr(self, f"running_var{j}")[i])
                bn.num_batches_tracked.copy_(self.num_batches_tracked)
        return enc


class PackedHead(nn.Module):
    """k heads stacked: logits_i = β_i · W_i f_i(x), W (k, n_outputs, d)."""

    def __init__(self, heads: list[Head]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([h.weight.detach() for h in heads]))
        t = torch.stack([h.log_temperature.detach() for h in heads])
        if isinstance(heads[0].log_temperature, nn.Parameter):
            self.log_temperature = nn.Parameter(t)
        else:
            self.register_buffer("log_temperature", t)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.log_temperature.exp()[:, None, None] * torch.bmm(h, self.weight.transpose(1, 2))

    @torch.no_grad()
    def normalize_rows(self) -> None:
        self.weight.div_(self.weight.norm(dim=2, keepdim=True).clamp_min(1e-12))

    def unpack(self, i: int, like: Head) -> Head:
        import copy

        head = copy.deepcopy(like)
        with torch.no_grad():
            head.weight.copy_(self.weight[i])
            head.log_temperature.copy_(self.log_temperature[i])
        return head


class _GraphedStep:
    """A captured training step: static input tensors, one ``replay`` per step."""

    def __init__(self, graph: torch.cuda.CUDAGraph, x: torch.Tensor, y: torch.Tensor, loss: torch.Tensor):
        self.graph, self.x, self.y, self.loss = graph, x, y, loss

    def replay(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.x.copy_(x)
        self.y.copy_(y)
        self.graph.replay()
        return self.loss.clone()


def _capture(step_fn, x, y, opt, side, labels_of: str) -> _GraphedStep | None:
    """Capture ``step_fn`` (without zero_grad: the graph's backward writes fresh grads each replay);
    None, with a warning, when capture fails (the pack then goes on eagerly)."""
    try:
        torch.cuda.current_stream().wait_stream(side)
        static_x, static_y = x.clone(), y.clone()
        opt.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            loss = step_fn(static_x, static_y, zero_grad=False)
        log.info("%s: training step captured as a CUDA graph", labels_of)
        return _GraphedStep(graph, static_x, static_y, loss)
    except Exception as exc:  # e.g. an op without capture support: eager is still correct
        log.warning("%s: CUDA graph capture failed (%s); training eagerly", labels_of, exc)
        return None


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

    ``on_log(i, step, metrics)`` is called per model at every log/eval point; ``labels`` name the
    models in errors. A non-finite loss stops the pack naming the model and the step. A checkpoint
    covers the whole pack (stacked weights, optimiser, every model's random streams) and resumes it
    exactly; SIGTERM/SIGUSR1 write one and raise :class:`Interrupted`.
    """
    check_packable(members)
    device = device or pick_device()
    k = len(members)
    labels = labels or [f"model {i}" for i in range(k)]
    cfg = members[0][1]
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
    # foreach, not fused: per-element rounding independent of the stack (module docstring)
    opt = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=cfg.lr,
                           foreach=True, capturable=use_graph)
    if cfg.precision == "tf32" and device.type != "cuda":
        log.warning("precision tf32 has no effect on %s (TF32 is a CUDA matmul mode): fp32 math", device)
    mons = [(x.to(device), z.to(device)) for x, z in monitors] if monitors else None
    fp = fingerprint({"pack": [asdict(c) for _, c in members]}, {"data": [asdict(p.cfg) for p, _ in members]})

    curves: list[list[dict]] = [[] for _ in range(k)]
    window: list[torch.Tensor] = []
    start, chunk_states = 0, None
    ckpt = load_checkpoint(checkpoint, fp) if checkpoint is not None else None
    if ckpt is not None:
        encoder.load_state_dict(ckpt["encoder"])
        head.load_state_dict(ckpt["head"])
        opt.load_state_dict(ckpt["optimizer"])
        restore_global_rng(ckpt["rng"])
        chunk_states = list(ckpt["chunk_rng"])
        curves = json.loads(ckpt["curves"])
        window = [t.to(device) for t in ckpt["window"]]
        start = int(ckpt["step"])
        log.info("pack of %d: resuming from checkpoint %s at step %d", k, checkpoint, start)
    current_states: list[torch.Tensor] = []

    def write_checkpoint(step: int) -> None:
        save_checkpoint(checkpoint, {
            "fingerprint": fp, "step": step, "encoder": encoder.state_dict(), "head": head.state_dict(),
            "optimizer": opt.state_dict(), "rng": rng_states(gens[0]), "chunk_rng": current_states,
            "curves": json.dumps(curves), "window": torch.stack(window).cpu() if window else torch.empty(0),
        })
        log.info("pack of %d: checkpoint at step %d -> %s", k, step, checkpoint)

    labels_of = "label_class" if cfg.method == "supervised" else "label_instance"
    bs, chunk = cfg.batch_size, cfg.chunk_steps

    def step_fn(x: torch.Tensor, y: torch.Tensor, zero_grad: bool) -> torch.Tensor:
        """One step of every model; returns the k losses (a fresh tensor, safe to keep)."""
        if cfg.normalize_w:
            head.normalize_rows()
        with precision(cfg.precision, device):
            logits = head(encoder(x))
        per_model = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none")
        per_model = per_model.view(k, bs).mean(1)
        if zero_grad:
            opt.zero_grad(set_to_none=True)
        per_model.sum().backward()
        opt.step()
        return per_model.detach().clone()

    if start == 0 and mons is not None:
        for i in range(k):
            curves[i].append(initial_point(encoder.unpack(i, singles[i][0]), procs[i], members[i][1], mons[i]))
            if on_log is not None:
                on_log(i, 0, curves[i][-1])
    graph: _GraphedStep | None = None
    side = torch.cuda.Stream(device) if use_graph else None
    xs = ys = None
    t0 = time.perf_counter()
    encoder.train()
    with stop_on_signals() as flag:
        for step in range(start, cfg.steps):
            j = step % chunk
            if xs is None or j == 0:
                if xs is None and chunk_states is not None:  # resume inside the chunk being consumed
                    for g, state in zip(gens, chunk_states, strict=True):
                        g.set_state(state)
                current_states = [g.get_state() for g in gens]
                batches = [p.sample(chunk * bs, g) for p, g in zip(procs, gens, strict=True)]
                xs = torch.stack([b.x.view(chunk, bs, -1) for b in batches], dim=1)  # (chunk, k, bs, d)
                ys = torch.stack([getattr(b, labels_of).view(chunk, bs) for b in batches], dim=1)
            if graph is None and use_graph and step - start >= GRAPH_WARMUP:
                graph = _capture(step_fn, xs[j], ys[j], opt, side, labels_of=f"pack of {k}")
                use_graph = graph is not None
                side = side if use_graph else None
            if graph is not None:
                window.append(graph.replay(xs[j], ys[j]))
            elif side is not None:
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    window.append(step_fn(xs[j], ys[j], zero_grad=True))
                torch.cuda.current_stream().wait_stream(side)
            else:
                window.append(step_fn(xs[j], ys[j], zero_grad=True))
            done = step + 1
            last = done == cfg.steps
            if done % cfg.log_every == 0 or last:
                _log_point(done, last, window, curves, labels, cfg, encoder, head, singles, procs, members,
                           mons, on_log, t0, start)
            stop = flag["stop"] is not None and not last
            if checkpoint is not None and (stop or (done % cfg.checkpoint_every == 0 and not last)):
                if done % chunk == 0:  # the next chunk starts from the generators' current states
                    current_states = [g.get_state() for g in gens]
                write_checkpoint(done)
            if stop:
                raise Interrupted(f"pack of {k}: received {flag['stop']} at step {done}; checkpoint saved")
    if cfg.normalize_w:
        head.normalize_rows()
    seconds = time.perf_counter() - t0
    results = []
    for i, ((enc_like, head_like), proc, (_, c)) in enumerate(zip(singles, procs, members, strict=True)):
        enc = calibrated_copy(encoder.unpack(i, enc_like), proc, c, seed=c.steps)
        results.append(TrainResult(enc, head.unpack(i, head_like), curves[i], c.steps, start, seconds,
                                   str(device)))
    return results


def _log_point(done, last, window, curves, labels, cfg, encoder, head, singles, procs, members, mons,
               on_log, t0, start) -> None:
    """One log point of every model: mean loss since the last one, monitor R² at eval points. The
    first window's first loss, taken on the initial weights before any update, is the curve's step
    0 loss (read from what training computed: no extra step, draw or sync)."""
    losses = torch.stack(window).cpu()  # (steps, k)
    window.clear()
    bad = ~torch.isfinite(losses)
    if bad.any():
        row, i = (int(v) for v in bad.nonzero()[0])
        raise NonFiniteLoss(
            f"{labels[i]}: non-finite training loss at step {done - len(losses) + row + 1} "
            f"(method={cfg.method}, lr={cfg.lr}); no output was written"
        )
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
            enc_i = calibrated_copy(encoder.unpack(i, singles[i][0]), procs[i], members[i][1], seed=done)
            with torch.no_grad():
                point["monitor_r2"] = monitor_r2(enc_i(mons[i][0]), mons[i][1])
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
