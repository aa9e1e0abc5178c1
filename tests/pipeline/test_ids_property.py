"""Property-based: every config the schema accepts gets ids that tell its cells apart (issue class:
"distinct config values must give distinct artifacts"), and ids are valid wildcards."""

import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from linid.names import CLUSTER_PRIORS, CONDITIONALS
from linid.pipeline.cells import Cell, canonical_cell

POSITIVE = st.floats(min_value=0.0, exclude_min=True, allow_nan=False, allow_infinity=False)
DATA_WILDCARD = re.compile(r"d\d+_C\d+_N\d+_k[^/]+_s\d+")  # common.smk's wildcard_constraints


@st.composite
def cells(draw) -> Cell:
    values = canonical_cell({
        "latent_dim": draw(st.integers(2, 10**6)),
        "n_classes": draw(st.integers(2, 10**6)),
        "n_instances": draw(st.integers(2, 10**7)),
        "kappa": draw(POSITIVE),
        "conditional": draw(st.sampled_from(CONDITIONALS)),
        "cluster_prior": draw(st.sampled_from(CLUSTER_PRIORS)),
        "label_noise": draw(st.floats(0.0, 1.0)),
        "cond_beta": draw(POSITIVE),
        "prior_shape": draw(POSITIVE),
        "prior_scale": draw(POSITIVE),
    })
    return Cell(**values, data_seed=draw(st.integers(0, 2**31)))


@settings(max_examples=300, deadline=None)
@given(cells(), cells())
def test_distinct_cells_get_distinct_ids(a, b):
    assert (a.dataset_id == b.dataset_id) == (a == b)


NUMERIC = ("kappa", "label_noise", "cond_beta", "prior_shape", "prior_scale")


@settings(max_examples=300, deadline=None)
@given(cells(), st.sampled_from(NUMERIC))
def test_the_next_float_is_another_dataset(cell, axis):
    """Rounded ids (``%g``) once gave κ = 10 and 10.000001 one dataset; the neighbouring float differs."""
    value = getattr(cell, axis)
    other = math.nextafter(value, 0.0 if value == 1.0 and axis == "label_noise" else math.inf)
    moved = _with(cell, axis, other)
    assert (moved.dataset_id == cell.dataset_id) == (moved == cell)
    assert DATA_WILDCARD.fullmatch(cell.dataset_id) and "/" not in cell.dataset_id


def _with(cell: Cell, axis: str, value: float) -> Cell:
    values = {k: v for k, v in cell.__dict__.items() if k != "data_seed"}
    return Cell(**canonical_cell({**values, axis: value}), data_seed=cell.data_seed)
