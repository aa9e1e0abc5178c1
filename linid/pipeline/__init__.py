"""The machinery around the science: config contract, cells, job context, MLflow tracking, files, fingerprints."""
