"""linid: does softmax cross-entropy recover the true latents — and agree across models — up to a linear map?

Packages, bottom to top (a module imports its own layer and the ones below, never one above;
docs/layout.md "Layers"): ``core`` (atomic files), with ``names`` (the shared vocabulary) and
``runtime`` (the device and stop signals); ``probes`` (identifiability measures on arrays); the
experiments ``sim`` ([R] synthetic), ``family`` ([K] model family), ``images`` ([R] DisLib) and
``byo`` (bring your own activations); ``report`` (tables and figures); ``pipeline`` (config, cells,
packs, tracking, code fingerprints: the workflow's machinery).
"""

__version__ = "0.2.0"
