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

import csv
import io
import json
import os
import shutil
import zipfile
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


class BadMember(RuntimeError):
    """A pack member's file is missing or does not parse: the pack must be trained again."""


def rebuild_hint(pack_dir: str) -> str:
    """The command that rebuilds a pack. Deleting its folder would not: Snakemake skips a missing
    intermediate file while what is made from it is up to date."""
    return (
        f"retrain the pack: add `--forcerun {pack_dir}` to the snakemake command; its models get "
        "the same numbers and what depends on them reruns"
    )


def member_problem(path: str, name: str | None = None) -> str | None:
    """Why a member's file cannot be what the train job wrote (None when it is whole), by its kind
    and without torch: a model is a zip archive whose every entry's CRC must match (a truncated or
    damaged ``torch.save`` file fails), a summary is a JSON object, a curve a CSV whose every row has
    the header's fields and which ends with a line break. ``name``: the file's own name, when
    ``path`` is a temporary copy."""
    name = name or path
    try:
        if name.endswith(".pt"):
            with zipfile.ZipFile(path) as archive:
                if (bad := archive.testzip()) is not None:
                    return f"entry {bad} of the archive fails its CRC check"
        elif name.endswith(".json"):
            with open(path) as fh:
                if not isinstance(json.load(fh), dict):
                    return "not a JSON object"
        elif name.endswith(".csv"):
            with open(path, newline="") as fh:
                text = fh.read()
            rows = list(csv.reader(io.StringIO(text)))
            if len(rows) < 2 or not text.endswith("\n"):
                return "no header and rows, or its last line is cut"
            if any(len(row) != len(rows[0]) for row in rows):
                return "a row with another number of fields than the header"
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def incomplete_packs(
    packs: list[Pack], pack_dir: str, member_dir: str, files, forced=()
) -> dict[str, list[str]]:
    """Pack folders (``pack_dir`` formatted with the pack's id) that exist but miss a member's file
    (``member_dir`` formatted with the member's key, then the file name of each of ``files``), with
    the files missing. Snakemake sees the folder, the train job's output, as done while it exists, so nothing
    would rebuild such a member. ``forced``: the command's ``--forcerun`` targets (rule ``train``
    or a pack's folder), which will be rebuilt anyway. Stat calls only: cheap enough for every start."""
    names = [os.path.basename(f) for f in files]
    forced = {os.path.relpath(f) for f in forced}
    if "train" in forced:
        return {}
    out = {}
    for pack in packs:
        folder = pack_dir.format(pack=pack.id)
        if folder in forced or not os.path.isdir(folder):
            continue
        missing = [
            os.path.join(folder, member_dir.format(data=d, method=m, head=h, seed=s), name)
            for d, m, h, s in pack.members
            for name in names
        ]
        if (missing := [f for f in missing if not os.path.isfile(f)]) and _lost_a_member(folder, names):
            out[folder] = missing
    return out


def _lost_a_member(folder: str, names: list[str]) -> bool:
    """Whether ``folder`` holds fewer whole members than its train job wrote (``pack_size`` in each
    member's summary). A folder whose members are all whole was trained for another membership
    (seeds added, ``pack_size`` changed): the pack's params changed, and Snakemake reruns it. A
    folder with no readable summary is taken as damaged. Runs only for a folder missing files."""
    whole, sizes = 0, set()
    for parent, _, files in os.walk(folder):
        if "train.json" in files:
            try:
                with open(os.path.join(parent, "train.json")) as fh:
                    sizes.add(json.load(fh).get("pack_size"))
            except (OSError, ValueError, AttributeError):
                return True
            whole += all(name in files for name in names)
    return len(sizes) != 1 or None in sizes or whole < sizes.pop()


def lost_members_message(lost: dict[str, list[str]]) -> str:
    """What :func:`incomplete_packs` found, and the one command that retrains those packs."""
    lines = [
        f"  - {folder} lacks {files[0]}" + (f" and {len(files) - 1} more" if files[1:] else "")
        for folder, files in lost.items()
    ]
    return (
        "training pack folders that lost a model's files (Snakemake takes such a folder as done, so "
        "nothing would rebuild them):\n" + "\n".join(lines) + "\nretrain them: add "
        f"`--forcerun {' '.join(lost)}` to the snakemake command; their models get the same numbers "
        "and what depends on them reruns"
    )


def copy_member(pack_dir: str, member: str, outputs: dict[str, str], log: str | None = None) -> list[str]:
    """Copy one member's files out of its pack's folder (``pack_dir/member/<name>``) to ``outputs``
    (name → path; the file name is the output's own); each copy is written under a temporary name,
    checked (:func:`member_problem`) and renamed, so a reader never sees half a file and a damaged
    member is never handed on: :class:`BadMember` then names the file and how to retrain its pack.
    Lists the copies in ``log``; returns the paths copied from."""
    copied = []
    for path in outputs.values():
        source = os.path.join(pack_dir, member, os.path.basename(path))
        if not os.path.isfile(source):
            raise BadMember(f"pack folder {pack_dir} has no {member}/{os.path.basename(path)}: "
                            + rebuild_hint(pack_dir))
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        tmp = f"{path}.part"
        shutil.copyfile(source, tmp)
        if (problem := member_problem(tmp, path)) is not None:
            os.remove(tmp)
            raise BadMember(f"{source} is damaged ({problem}): " + rebuild_hint(pack_dir))
        os.replace(tmp, path)
        copied.append(source)
    if log:
        with open(log, "w") as fh:
            fh.writelines(f"{src} -> {dst}\n" for src, dst in zip(copied, outputs.values(), strict=True))
    return copied
