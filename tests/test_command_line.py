"""What a user types: `--config` overrides and `--profile slurm`, checked by dry runs before any job."""

from __future__ import annotations

import re

import pytest

from tests.helpers import TINY, make_checkout, smk


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_checkout(tmp_path_factory.mktemp("cli") / "repo")


def test_a_nested_override_is_typed_and_reaches_the_jobs(repo):
    # Snakemake hands `steps: 100` over as the text '100'; before, validation refused it
    proc = smk(repo, "-n", "--config", "simulation={train: {steps: 100, pack_size: 2}}", config=TINY)
    out = proc.stdout + proc.stderr
    # the training packs are named after their step budget: the override reached the job plan
    packs = set(re.findall(r"rule (train_pack_\w+):", out))
    assert packs and all("_t100_" in p for p in packs), packs
    proc = smk(repo, "-n", "--config", "simulation={train.steps: 77, train.pack_size: 2}", config=TINY)
    assert set(re.findall(r"rule (train_pack_\w+):", proc.stdout)) == {p.replace("_t100_", "_t77_") for p in packs}


def test_an_unknown_override_key_is_refused_by_name(repo):
    proc = smk(repo, "-n", "--config", "simulation={train: {stepz: 100}}", config=TINY, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "unknown config key simulation.train.stepz; did you mean simulation.train.steps?" in out
    assert not (repo / "results").exists()
