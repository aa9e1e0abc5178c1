"""The SLURM preflight: missing commands stop a real run (a dry run warns), unset partition/account warn."""

from linid.pipeline.cluster import slurm_preflight


def _which(present):
    return lambda cmd: f"/usr/bin/{cmd}" if cmd in present else None


def test_missing_commands_stop_a_real_run_and_warn_in_a_dry_run():
    notes, error = slurm_preflight({}, {}, dryrun=False, which=_which({"sacct"}))
    assert error.startswith("linid: the SLURM executor (--profile slurm) needs sbatch and sacct, "
                            "but sbatch is not on PATH.")
    notes, error = slurm_preflight({}, {}, dryrun=True, which=_which(set()))
    assert error is None
    assert notes[0].startswith("linid: WARNING: the SLURM executor (--profile slurm) needs sbatch and "
                               "sacct, but sbatch and sacct are not on PATH; this command submits nothing")


def test_partition_and_account_unset_warn_and_set_are_quiet():
    both = _which({"sbatch", "sacct"})
    notes, error = slurm_preflight({"mem_mb": 2000}, {}, dryrun=False, which=both)
    assert error is None and len(notes) == 2
    assert "no slurm_partition set" in notes[0] and "no slurm_account set" in notes[1]

    class Resource:  # Snakemake's parsed resources hold objects with a .value
        def __init__(self, value):
            self.value = value

    notes, _ = slurm_preflight({"slurm_partition": Resource("gpu"), "slurm_account": "lab"}, {},
                               dryrun=False, which=both)
    assert notes == []
    notes, _ = slurm_preflight({}, {"SBATCH_PARTITION": "cpu", "SBATCH_ACCOUNT": "lab"}, dryrun=False,
                               which=both)
    assert notes == []
