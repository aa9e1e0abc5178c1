"""One module per published file layout, behind one registry (as disentanglement_lib names its data
sets): ``LOADERS[layout](source)`` reads a :class:`linid.images.source.Source` into an
:class:`linid.images.source.ImageDataset`. The dSprites renderer is :mod:`linid.images.dsprites`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from linid.images.layouts import dsprites, generic, mpi3d, shapes3d
from linid.images.source import ImageDataset, Source

LOADERS: dict[str, Callable[[Source], ImageDataset]] = {
    "dsprites": dsprites.load,
    "shapes3d": shapes3d.load,
    "mpi3d": partial(mpi3d.load, name="mpi3d"),
    "mpi3d_real": partial(mpi3d.load, name="mpi3d_real"),
    "generic": generic.load,
}
