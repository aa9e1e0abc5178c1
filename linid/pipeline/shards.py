"""Cluster scale: a cell's seed pairs cut into jobs of bounded work, and resource requests capped.

With 1,000 seeds a cell has 499,500 seed pairs (about an hour at 6–9 ms a pair): one job for all
of them outlives any fixed runtime request. :func:`pair_shards` cuts them, in
``itertools.combinations`` order, into shards of at most ``max_pairs`` pairs; each shard is one
job whose runtime scales with its pairs (:func:`pairs_runtime`).

A runtime or memory request computed from the config (epochs, steps, attempts) can exceed what any
scheduler accepts (``images.train.max_epochs: 10**12`` asked SLURM for 7.2×10¹² minutes):
:func:`capped` holds every request at the configured ceiling and says so once per rule.
"""

from __future__ import annotations

import itertools
import math
import sys

#: rules already warned about, per resource (a request is evaluated once per job)
_WARNED: set[tuple[str, str]] = set()


def pair_shards(seeds: list[int], max_pairs: int) -> list[list[tuple[int, int]]]:
    """Every pair of ``seeds`` (sorted), cut into consecutive shards of at most ``max_pairs``;
    the shards are as even as possible (a cell of 10 pairs with max 4: 4, 3, 3)."""
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
    pairs = list(itertools.combinations(sorted(int(s) for s in seeds), 2))
    if not pairs:
        return []
    n = math.ceil(len(pairs) / max_pairs)
    size, extra = divmod(len(pairs), n)
    out, start = [], 0
    for i in range(n):
        stop = start + size + (1 if i < extra else 0)
        out.append(pairs[start:stop])
        start = stop
    return out


def shard_seeds(pairs: list[tuple[int, int]]) -> list[int]:
    """The seeds whose features a shard reads, sorted."""
    return sorted({s for pair in pairs for s in pair})


def pairs_runtime(n_pairs: int, seconds_per_pair: float, attempt: int = 1) -> int:
    """Minutes for ``n_pairs`` comparisons: at least 5, × attempt."""
    return int(max(5, math.ceil(n_pairs * seconds_per_pair / 60)) * attempt)


def capped(rule: str, resource: str, value: float, limit: float, key: str) -> int:
    """``value`` held at ``limit`` (the config key ``key`` sets it); a capped request is reported
    once per rule and resource on stderr, naming both."""
    if value <= limit:
        return int(value)
    if (rule, resource) not in _WARNED:
        _WARNED.add((rule, resource))
        print(f"linid: WARNING: rule {rule} asks for {resource} = {value:.3g}, more than a scheduler "
              f"accepts; capped at {limit:g} ({key})", file=sys.stderr, flush=True)
    return int(limit)


def capped_runtime(resources: dict, rule: str, minutes: float) -> int:
    """A runtime request of ``rule`` held at ``resources.max_runtime_minutes``."""
    limit = resources["max_runtime_minutes"]
    return capped(rule, "runtime", minutes, limit, "resources.max_runtime_minutes")


def capped_mem(resources: dict, rule: str, mb: float) -> int:
    """A memory request of ``rule`` held at ``resources.max_mem_mb``."""
    return capped(rule, "mem_mb", mb, resources["max_mem_mb"], "resources.max_mem_mb")
