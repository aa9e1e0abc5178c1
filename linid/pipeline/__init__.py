"""The machinery around the science (the top layer): config contract, cells, packs, job context, MLflow tracking, fingerprints."""
