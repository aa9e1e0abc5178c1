"""linid: does softmax cross-entropy recover the true latents — and agree across models — up to a linear map?

Packages: ``sim`` (the [R] synthetic experiment: process, models, training, features), ``family``
(the [K] model family: angle task, models, training, features), ``probes`` (identifiability measures
on arrays), ``report`` (tables and figures), ``pipeline`` (config, cells, tracking, files, code
fingerprints). ``names`` holds the shared vocabulary; ``runtime`` the device and stop signals.
"""

__version__ = "0.2.0"
