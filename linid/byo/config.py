"""Torch-free settings of the bring-your-own experiment that the workflow reads at parse time."""

#: the example's settings (the byo plan's text_lm models; linid/byo/text_lm.py trains it)
TEXT_LM = {
    "models": {"lm_w32_s0": (32, 0), "lm_w64_s0": (64, 0), "lm_w64_s1": (64, 1), "lm_w128_s0": (128, 0)},
    "layers": 4,
    "vocab_size": 200,
    "n_train": 60_000,
    "n_rows": 600,  # held-out sequences: 600 × 5 = 3,000 tokens
    "steps": 1500,
    "batch_size": 128,
    "lr": 0.003,
    "corpus_seed": 0,
}
