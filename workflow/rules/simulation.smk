# [R] synthetic experiment: dataset → training → feature extraction → linear probes.


rule generate_dataset:
    output:
        data="results/sim/datasets/{data}.npz",
        meta="results/sim/datasets/{data}.json",
    log:
        "results/logs/generate_dataset/{data}.log",
    params:
        dgp=dataset_params,
        n_eval=SIM["data"]["n_eval"],
        n_monitor=SIM["data"]["n_monitor"],
        code=code("generate_dataset.py"),
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/generate_dataset.py"


rule train:
    input:
        data=rules.generate_dataset.output.data,
        meta=rules.generate_dataset.output.meta,
    output:
        model="results/sim/models/{data}/{method}/{head}/seed{seed}/model.pt",
        curve="results/sim/models/{data}/{method}/{head}/seed{seed}/curve.csv",
        summary="results/sim/models/{data}/{method}/{head}/seed{seed}/train.json",
    log:
        "results/logs/train/{data}/{method}/{head}/seed{seed}.log",
    params:
        train=train_params,
        checkpoint=checkpoint_path,
        allow_cpu=SIM["train"]["allow_cpu"],
        code=code("train.py"),
    threads: SIM["train"]["threads"]
    resources:
        gpu=config["resources"]["gpus"],
        mem_mb=train_mem,
        runtime=train_runtime,
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/train.py"


rule extract_features:
    input:
        data=rules.generate_dataset.output.data,
        model=rules.train.output.model,
        summary=rules.train.output.summary,
    output:
        features="results/sim/features/{data}/{method}/{head}/seed{seed}.npz",
    log:
        "results/logs/extract_features/{data}/{method}/{head}/seed{seed}.log",
    params:
        method="{method}",
        code=code("extract_features.py"),
    resources:
        gpu=config["resources"]["gpus"],
        mem_mb=4000,
        runtime=15,
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/extract_features.py"


rule probe:
    input:
        features=rules.extract_features.output.features,
    output:
        probe="results/sim/probes/{data}/{method}/{head}/seed{seed}.json",
    log:
        "results/logs/probe/{data}/{method}/{head}/seed{seed}.log",
    params:
        kappa=cell_kappa,
        probe=SIM["probe"],
        temperature=SIM["train"]["temperature"],
        code=code("probe.py"),
    group:
        "probe"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/eval.yaml"
    script:
        "../scripts/probe.py"
