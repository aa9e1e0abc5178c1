"""[K] Roeder, Metz & Kingma (2021): the angle task, the model family f(x)ᵀg(y), its training and features."""
