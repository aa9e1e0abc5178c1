"""What a user types: `--config` overrides and `--profile slurm`, checked by dry runs before any job."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from tests.helpers import TINY, make_checkout, smk


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_checkout(tmp_path_factory.mktemp("cli") / "repo")


def test_a_nested_override_is_typed_and_reaches_the_jobs(repo):
    # Snakemake hands `steps: 100` over as the text '100'; before, validation refused it
    proc = smk(repo, "-n", "--config", "simulation={train: {steps: 100, pack_size: 2}}", config=TINY)
    out = proc.stdout + proc.stderr
    # the training packs are named after their step budget: the override reached the job plan
    packs = set(re.findall(r"wildcards: pack=(\w+)", out))
    assert packs and all("_t100_" in p for p in packs), packs
    proc = smk(repo, "-n", "--config", "simulation={train.steps: 77, train.pack_size: 2}", config=TINY)
    assert set(re.findall(r"wildcards: pack=(\w+)", proc.stdout)) == {p.replace("_t100_", "_t77_") for p in packs}


def test_only_the_command_line_is_typed_not_the_config_file(repo, tmp_path):
    # Snakemake's overwrite_config also holds the --configfile contents: a quoted "1000" written in
    # a file must stay the error it is, whatever --config adds
    cfg = yaml.safe_load(TINY.read_text())
    cfg["simulation"]["train"]["steps"] = "1000"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = smk(repo, "-n", "--config", "simulation={train: {lr: 0.01}}", config=bad, check=False)
    assert proc.returncode != 0
    assert "config key simulation.train.steps = '1000'" in proc.stdout + proc.stderr


def test_an_unknown_override_key_is_refused_by_name(repo):
    proc = smk(repo, "-n", "--config", "simulation={train: {stepz: 100}}", config=TINY, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "unknown config key simulation.train.stepz; did you mean simulation.train.steps?" in out
    assert not (repo / "results").exists()


SLURM_COMMANDS = ("sbatch", "sacct")


def _path_without_slurm(shims) -> str:
    """PATH as it is, but a folder holding sbatch/sacct (e.g. /usr/bin once SLURM's packages are
    installed, as tests/test_slurm.py does) is replaced by a mirror of it without them."""
    dirs = []
    for i, d in enumerate(p for p in os.environ.get("PATH", "").split(os.pathsep) if p):
        if not any(os.path.exists(os.path.join(d, c)) for c in SLURM_COMMANDS):
            dirs.append(d)
            continue
        mirror = shims / f"bin{i}"
        mirror.mkdir(parents=True)
        for name in os.listdir(d):
            if name not in SLURM_COMMANDS:
                (mirror / name).symlink_to(os.path.join(d, name))
        dirs.append(str(mirror))
    return os.pathsep.join(dirs)


def test_slurm_profile_without_sbatch_stops_before_any_job_and_a_dry_run_warns(repo, tmp_path):
    env = {"PATH": _path_without_slurm(tmp_path), "SBATCH_PARTITION": "", "SBATCH_ACCOUNT": ""}
    # a dry run plans the sweep away from the cluster: it warns and goes on
    proc = smk(repo, "--profile", "slurm", "-n", config=TINY, env=env)
    out = proc.stdout + proc.stderr
    assert ("linid: WARNING: the SLURM executor (--profile slurm) needs sbatch and sacct, but sbatch "
            "and sacct are not on PATH; this command submits nothing (a dry run") in out
    assert "linid: WARNING: no slurm_partition set" in out and "no slurm_account set" in out
    assert "Job stats:" in out
    # a real run stops with one clear message before anything is submitted or written
    proc = smk(repo, "--profile", "slurm", config=TINY, env=env, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert ("linid: the SLURM executor (--profile slurm) needs sbatch and sacct, but sbatch and sacct "
            "are not on PATH. Run snakemake on the cluster's submit (login) host") in out
    assert not (repo / "results").exists()
    # nor does a command that reads the workflow but submits nothing (a report, a listing, …)
    proc = smk(repo, "--profile", "slurm", "--list-rules", config=TINY, env=env)
    assert "this command submits nothing" in proc.stdout + proc.stderr and "train" in proc.stdout
    # without the profile nothing of this is said
    proc = smk(repo, "-n", config=TINY, env=env)
    assert "SLURM" not in proc.stdout + proc.stderr
