"""Training packs: which models share one training job (``simulation.train.pack_size``).

Models can share a pack when they differ in nothing the packed trainer stacks but their data and
their seed: the same method, head, step budget and shape (d, rows of W). Within such a group the
models are ordered by (seed, dataset) and cut into consecutive packs of ``pack_size``. Appending
seeds therefore appends models at the end of every group: packs already full are unchanged (not
rerun); only a group's last, partial pack gains members and reruns. The packed trainer makes a
model's numbers independent of its pack (its position and its companions; bit for bit on CPU,
``tests/sim/test_packed.py``), so even a rerun pack gives its old members the same numbers.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from linid.pipeline.cells import cell_steps
from linid.sim.config import n_outputs_for

#: one trained model: (dataset id, method, head, seed), as ``ModelSpec.key``
ModelKey = tuple[str, str, str, int]


@dataclass(frozen=True)
class Pack:
    """One training job (``pack_size`` models at most; 1 is a pack of one): its id and its models."""

    id: str
    members: tuple[ModelKey, ...]


def pack_group(key: ModelKey, cells: dict, train: dict) -> tuple[str, str, int, int, int]:
    """(method, head, d, rows of W, steps): models of one group can be trained as one pack."""
    data, method, head, _ = key
    cell = cells[data]
    n_out = n_outputs_for(method, cell.n_classes, cell.n_instances)
    return method, head, cell.latent_dim, n_out, cell_steps(train, cell.n_instances)


def plan_packs(models: list[ModelKey], cells: dict, train: dict, pack_size: int) -> list[Pack]:
    """Cut ``models`` into packs of at most ``pack_size``: groups by :func:`pack_group`, ordered by
    (seed, dataset) inside a group so that new seeds only ever touch a group's last pack."""
    if pack_size < 1:
        raise ValueError(f"packs need pack_size ≥ 1 (1: one model per job), got {pack_size}")
    groups: dict[tuple, list[ModelKey]] = {}
    for key in models:
        groups.setdefault(pack_group(key, cells, train), []).append(key)
    packs = []
    for (method, head, d, n_out, steps), keys in sorted(groups.items()):
        keys = sorted(keys, key=lambda k: (k[3], k[0]))
        for i in range(0, len(keys), pack_size):
            pid = f"{method}_{head}_d{d}_w{n_out}_t{steps}_p{i // pack_size}"
            packs.append(Pack(pid, tuple(keys[i : i + pack_size])))
    return packs


def copy_member(pack_dir: str, member: str, outputs: dict[str, str], log: str | None = None) -> list[str]:
    """Copy one member's files out of its pack's folder (``pack_dir/member/<name>``) to ``outputs``
    (name → path; the file name is the output's own); each copy is written under a temporary name
    and renamed, so a reader never sees half a file. Lists the copies in ``log``; returns the
    paths copied from."""
    copied = []
    for path in outputs.values():
        source = os.path.join(pack_dir, member, os.path.basename(path))
        if not os.path.isfile(source):
            raise FileNotFoundError(f"pack folder {pack_dir} has no {member}/{os.path.basename(path)}")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        tmp = f"{path}.part"
        shutil.copyfile(source, tmp)
        os.replace(tmp, path)
        copied.append(source)
    if log:
        with open(log, "w") as fh:
            fh.writelines(f"{src} -> {dst}\n" for src, dst in zip(copied, outputs.values(), strict=True))
    return copied
