"""Identifiability measures on arrays (numpy / scikit-learn, no torch): regression R², MCC, CCA, seed pairs."""
