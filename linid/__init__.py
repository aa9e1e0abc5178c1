"""linid: does softmax cross-entropy recover the true latents — and agree across models — up to a linear map?

Modules: ``data`` (generative process), ``models``, ``training``, ``features``, ``metrics`` (probes),
``compare`` (model-to-model), ``family`` (the Roeder et al. model family), ``tables``, ``plotting``,
``tracking`` (MLflow), ``config`` (schema checks and sweep expansion).
"""

__version__ = "0.1.0"
