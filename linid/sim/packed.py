"""Many models as one: k encoders and heads stacked into batched modules (docs/speed.md "Packed training").

Each layer of the k encoders is one ``(k, out, in)`` tensor; a forward pass is one batched matmul
per layer with BatchNorm statistics per model, and each model can be unpacked back into a single
:class:`~linid.sim.models.Encoder` / :class:`~linid.sim.models.Head`. The trainer
(:func:`linid.sim.training.train_pack`) steps them with one Adam over the stacks; a step can be
captured as a CUDA graph (:func:`capture`). Numerically the batched kernels differ from the
single-model ones in rounding only.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from linid.sim.models import Encoder, Head

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


class GraphedStep:
    """A captured training step: static input tensors, one ``replay`` per step."""

    def __init__(self, graph: torch.cuda.CUDAGraph, x: torch.Tensor, y: torch.Tensor, loss: torch.Tensor):
        self.graph, self.x, self.y, self.loss = graph, x, y, loss

    def replay(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.x.copy_(x)
        self.y.copy_(y)
        self.graph.replay()
        return self.loss.clone()


def capture(step_fn, x, y, opt, side, labels_of: str) -> GraphedStep | None:
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
        return GraphedStep(graph, static_x, static_y, loss)
    except Exception as exc:  # e.g. an op without capture support: eager is still correct
        log.warning("%s: CUDA graph capture failed (%s); training eagerly", labels_of, exc)
        return None
