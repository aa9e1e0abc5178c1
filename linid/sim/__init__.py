"""[R] Reizinger et al. (2025): the synthetic process, encoder + head, online training, features."""
