"""[K] Figure 1: a log-bilinear word-embedding model trained by noise-contrastive estimation.

``corpus`` (a generated corpus with a known truth, or the user's own), ``model`` (the log-bilinear
CBOW model and its NCE loss), ``training`` (the device loop), ``compare`` (replica × replica and
learned × truth comparisons on held-out words), ``cells`` (the sweep). docs/text.md.
"""
