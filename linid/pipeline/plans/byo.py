"""Bring your own activations as a plan: the compared models and the factors as paths, the pairs
compared, and the params of every job.

``ByoPlan(config, images)`` is built once when the workflow is read; ``workflow/rules/byo.smk`` asks
it. The models come from one of four sources: the user's files (``byo.models``), the digits example
or [K] Fig. 4's text LMs (both trained by a rule here), or the activations the image experiment
exports (their paths from the :class:`~linid.pipeline.plans.images.ImagesPlan`). Every job reads
files by model name, so the rules need no wildcard per source.
"""

from __future__ import annotations

import itertools

from linid.byo.config import TEXT_LM
from linid.pipeline.plans.images import ImagesPlan


class ByoPlan:
    """The bring-your-own experiment of one validated config (no models when ``byo.enabled`` is off)."""

    #: the digits example: small MLPs on scikit-learn's digits, one per seed (linid/byo/digits.py)
    DIGITS = {"seeds": [0, 1, 2], "hidden": [64, 64, 32], "epochs": 40}

    #: what ``byo_digits`` writes: the factors, one activations file per seed and the untrained control
    DIGITS_OUT = {
        "factors": "results/byo/digits/factors.npz",
        "model": "results/byo/digits/mlp_seed{seed}.npz",
        "init": "results/byo/digits/mlp_init.npz",
        "info": "results/byo/digits/digits_example.json",
    }

    #: what ``byo_text_lm`` writes: one activations file per model of TEXT_LM
    TEXT_LM_OUT = {
        "model": "results/byo/text_lm/{name}.npz",
        "info": "results/byo/text_lm/text_lm_example.json",
    }

    def __init__(self, config: dict, images: ImagesPlan):
        self.cfg = byo = config["byo"]
        #: model name → activations file, in the order the tables and the adjacent pairs use, and
        #: the factors file ("": no probes, comparisons only)
        self.models, self.factors = self._sources(images) if byo["enabled"] else ({}, "")
        self.names = list(self.models)
        #: every pair of models, in ``names`` order
        self.pairs = [(a, b) for i, a in enumerate(self.names) for b in self.names[i + 1 :]]
        #: the seed of the subsamples and splits (official SEED = 42)
        self.seed = byo["seed"]
        self.svcca = byo["svcca_protocol"]
        #: the pairs [K] Fig. 4's protocol compares: every pair, or consecutive models
        if self.svcca["pairs"] == "adjacent":
            self.svcca_pairs = list(itertools.pairwise(self.names))
        else:
            self.svcca_pairs = self.pairs
        #: the files ``byo_text_lm`` writes (none unless that is the source)
        self.text_lm_files = list(self.models.values()) if byo["source"] == "text_lm" else []

    def _sources(self, images: ImagesPlan) -> tuple[dict[str, str], str]:
        """The models and the factors file of the configured source."""
        byo = self.cfg
        if byo["source"] == "files":
            return dict(byo["models"]), byo["factors"]
        if byo["source"] == "digits":
            models = {
                f"mlp_seed{s}": f
                for s, f in zip(self.DIGITS["seeds"], self.digits_models(), strict=True)
            }
            models["mlp_init"] = self.DIGITS_OUT["init"]
            return models, self.DIGITS_OUT["factors"]
        if byo["source"] == "text_lm":
            return {m: self.TEXT_LM_OUT["model"].format(name=m) for m in TEXT_LM["models"]}, ""
        # the image experiment's exported activations
        ds, img = byo["images_dataset"], images.cfg
        models = {
            f"{m}_seed{s}": images.ACTIVATIONS.format(dataset=ds, model=m, seed=s)
            for m in img["models"]
            for s in img["seeds"]
        }
        return models, images.ACTIVATION_FACTORS.format(dataset=ds)

    def digits_models(self) -> list[str]:
        """The trained models ``byo_digits`` writes, one per seed of :attr:`DIGITS`."""
        return [self.DIGITS_OUT["model"].format(seed=s) for s in self.DIGITS["seeds"]]

    def file_problems(self) -> list[str]:
        """Every problem of the user's factors and model files (``source: files``), read from their
        headers before any job runs; [] for the other sources, whose files a rule writes."""
        if not (self.cfg["enabled"] and self.cfg["source"] == "files"):
            return []
        from linid.byo.files import check_inputs

        return check_inputs(self.factors or None, self.models, self.cfg)

    # -- inputs --------------------------------------------------------------------------------
    def model_file(self, wildcards) -> str:
        return self.models[wildcards.bmodel]

    def pair_files(self, wildcards) -> dict:
        return {"a": self.models[wildcards.bmodel_a], "b": self.models[wildcards.bmodel_b]}

    def probe_files(self, pattern: str) -> list[str]:
        """``pattern`` (with {bmodel}) for every model; none without a factors file (no probes)."""
        return [pattern.format(bmodel=m) for m in self.names] if self.factors else []

    def pair_outputs(self, pattern: str, pairs: list | None = None) -> list[str]:
        """``pattern`` (with {bmodel_a}, {bmodel_b}) for every pair (default: :attr:`pairs`)."""
        pairs = self.pairs if pairs is None else pairs
        return [pattern.format(bmodel_a=a, bmodel_b=b) for a, b in pairs]

    # -- params --------------------------------------------------------------------------------
    @property
    def probe_params(self) -> dict:
        return {k: self.cfg[k] for k in ("test_fraction", "n_rep", "seed")}

    @property
    def compare_params(self) -> dict:
        return {k: self.cfg[k] for k in ("svcca_k", "max_rows", "seed")}

    @property
    def svcca_params(self) -> dict:
        """The SVCCA protocol of one pair (whether it runs and what is drawn are not the job's)."""
        return {k: v for k, v in sorted(self.svcca.items()) if k not in ("enabled", "panels")}
