"""The [R] §4.2 image experiment as a plan: datasets, models and seeds as records, the paths the
other experiments read, and every job's params, runtime, memory and priority.

Built once from the validated config (``ImagesPlan(config)``) when the workflow is read; the rule
file ``workflow/rules/images.smk`` asks it. A model is a ``(dataset, model, rep)`` tuple; ``rep``
is the repetition (wildcard ``seed``), and its official seed is ``seed_offset + rep``. The params
and resource methods take Snakemake's ``wildcards`` (and ``attempt``), so the rules use them as
they are.
"""

from __future__ import annotations

from linid.images.names import DSPRITES_IMAGES, EPOCH_COST, MODELS, UNTRAINED, untrained
from linid.pipeline.shards import capped_mem, capped_runtime

#: an image dataset's settings not given in the config
DATASET_DEFAULTS = {"layout": "dsprites", "path": "", "subsample": None, "subsample_seed": 0}


class ImagesPlan:
    """The image experiment of one validated config (no datasets when ``images.enabled`` is off)."""

    #: the ``model`` wildcard of a probe: every configured model and every untrained control
    PROBE_MODELS = "|".join([*MODELS, *UNTRAINED])

    #: [R] Table 4, the numbers the tables are compared with
    PUBLISHED_TABLE4 = "workflow/resources/published_reizinger2025_table4.csv"

    #: what ``render_dsprites`` writes: the grid ``image_data`` reads when no path is given
    SOURCE = {
        "data": "results/images/source/{dataset}.npz",
        "meta": "results/images/source/{dataset}.json",
    }

    #: what ``image_train`` writes per model (``image_probe`` and ``image_activations`` read it)
    TRAIN_OUT = {
        "model": "results/images/models/{dataset}/{model}/seed{seed}/model.pt",
        "curve": "results/images/models/{dataset}/{model}/seed{seed}/curve.csv",
        "summary": "results/images/models/{dataset}/{model}/seed{seed}/train.json",
    }

    #: what ``image_activations`` / ``image_activation_factors`` write (bring-your-own reads them)
    ACTIVATIONS = "results/images/activations/{dataset}/{model}_seed{seed}.npz"
    ACTIVATION_FACTORS = "results/images/activations/{dataset}/factors.npz"

    #: resume file of a training job: outside its outputs, so a killed job keeps it
    CHECKPOINT = "results/checkpoints/images/{dataset}/{model}/seed{seed}.ckpt"

    def __init__(self, config: dict):
        self.cfg = img = config["images"]
        self.resources = config["resources"]
        self.datasets = (
            {n: {**DATASET_DEFAULTS, **d} for n, d in img["datasets"].items()}
            if img["enabled"]
            else {}
        )
        self.models = [
            (ds, m, rep) for ds in self.datasets for m in img["models"] for rep in img["seeds"]
        ]
        self.trained = [(ds, m, rep) for ds, m, rep in self.models if m != "pixels"]
        # the controls: every trained model type probed at its seed's initialisation (no training job)
        self.controls = (
            [(ds, untrained(m), rep) for ds, m, rep in self.trained]
            if img["probe"]["untrained"]
            else []
        )
        self.probed = self.models + self.controls
        # what one probe job reads (whether the controls exist is the workflow's business, not the probe's)
        self.probe = {k: v for k, v in img["probe"].items() if k != "untrained"}
        self.export = img["export_activations"]
        self.allow_cpu = img["train"]["allow_cpu"]

    # -- datasets ------------------------------------------------------------------------------
    def rendered(self, dataset: str) -> bool:
        """Whether the dataset is the dSprites grid rendered here (no file given)."""
        return not self.datasets[dataset]["path"]

    def source(self, wildcards) -> dict:
        """The file ``image_data`` reads: the user's, or the rendered dSprites grid."""
        ds = wildcards.dataset
        if self.rendered(ds):
            return {
                "source": self.SOURCE["data"].format(dataset=ds),
                "meta": self.SOURCE["meta"].format(dataset=ds),
            }
        return {"source": self.datasets[ds]["path"]}

    def render_params(self, wildcards) -> dict:
        d = self.datasets[wildcards.dataset]
        return {"subsample": d["subsample"], "subsample_seed": d["subsample_seed"]}

    def data_params(self, wildcards) -> dict:
        """Layout and rows of one dataset (a rendered grid is already subsampled when rendered)."""
        d = self.datasets[wildcards.dataset]
        rows = None if self.rendered(wildcards.dataset) else d["subsample"]
        return {"layout": d["layout"], "rows": rows, "subsample_seed": d["subsample_seed"]}

    def fraction(self, dataset: str) -> float:
        """Fraction of the full dataset a configured dataset keeps (for the paper comparison);
        NaN for a file's subsample, whose size is known only once it is read."""
        d = self.datasets[dataset]
        if d["subsample"] is None:
            return 1.0
        if d["layout"] == "dsprites":
            return d["subsample"] / DSPRITES_IMAGES
        return float("nan")

    def _cost_fraction(self, dataset: str) -> float:
        """:meth:`fraction` for the estimates: an unknown fraction costs as the whole file."""
        frac = self.fraction(dataset)
        return 1.0 if frac != frac else frac

    # -- models --------------------------------------------------------------------------------
    def seed(self, wildcards) -> int:
        """The official seed of repetition ``seed``: seed_offset + rep."""
        return self.cfg["seed_offset"] + int(wildcards.seed)

    def epochs(self, model: str) -> int:
        """The model's epoch budget: max_epochs_by_model, else max_epochs."""
        train = self.cfg["train"]
        return train["max_epochs_by_model"].get(model, train["max_epochs"])

    def train_params(self, wildcards) -> dict:
        """What ``image_train`` trains: the model, its official seed and the train section."""
        skip = ("allow_cpu", "max_epochs_by_model")
        t = {k: v for k, v in self.cfg["train"].items() if k not in skip}
        t["max_epochs"] = self.epochs(wildcards.model)
        return {"model": wildcards.model, "seed": self.seed(wildcards), **t}

    def model_input(self, wildcards) -> dict:
        """The trained model and its summary (none for the pixels and the untrained controls)."""
        w = wildcards
        if w.model == "pixels" or w.model in UNTRAINED:
            return {}
        return {
            k: self.TRAIN_OUT[k].format(dataset=w.dataset, model=w.model, seed=w.seed)
            for k in ("model", "summary")
        }

    def checkpoint(self, wildcards) -> str:
        w = wildcards
        return self.CHECKPOINT.format(dataset=w.dataset, model=w.model, seed=w.seed)

    # -- resources -----------------------------------------------------------------------------
    def runtime(self, wildcards, attempt) -> int:
        """Minutes: image_train_minutes at 100 epochs of the full data, scaled by both, x attempt."""
        frac = self._cost_fraction(wildcards.dataset)
        full = self.resources["image_train_minutes"]
        epochs = self.epochs(wildcards.model)
        minutes = int(max(10, full * frac * epochs / 100) * attempt)
        return capped_runtime(self.resources, "image_train", minutes)

    def mem(self, wildcards, attempt) -> int:
        """MB: image_train_mem_mb x attempt (the dataset is held in memory)."""
        return capped_mem(self.resources, "image jobs", self.resources["image_train_mem_mb"] * attempt)

    def train_priority(self, wildcards) -> float:
        """The heaviest trainings first: the job's relative cost (epochs x images x an epoch's cost)."""
        m = wildcards.model
        return 1 + EPOCH_COST[m] * self.epochs(m) * self._cost_fraction(wildcards.dataset)

    # -- targets and the rows of the tables ----------------------------------------------------
    def files(self, pattern: str, models: list | None = None) -> list[str]:
        """``pattern`` (with {dataset}, {model}, {seed}) for every model (default: :attr:`models`)."""
        models = self.models if models is None else models
        return [pattern.format(dataset=d, model=m, seed=s) for d, m, s in models]

    def budgets(self) -> list[dict]:
        """Per (dataset, model): the fraction of the images and the epochs (a control: 0)."""
        models = list(dict.fromkeys(m for _, m, _ in self.probed))
        return [
            {
                "dataset": d,
                "model": m,
                "data_fraction": self.fraction(d),
                "max_epochs": 0 if m in UNTRAINED else self.epochs(m),
            }
            for d in self.datasets
            for m in models
        ]

    def curve_keys(self) -> list[dict]:
        """The identifying columns of every training curve, in :attr:`trained` order."""
        return [{"dataset": d, "model": m, "seed": int(s)} for d, m, s in self.trained]
