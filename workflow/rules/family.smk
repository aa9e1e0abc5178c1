# [K] cross-model identifiability: angle dataset → train every seed of a cell → features.


rule family_dataset:
    output:
        data="results/family/datasets/{fdata}.npz",
        meta="results/family/datasets/{fdata}.json",
    log:
        "results/logs/family_dataset/{fdata}.log",
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        data=FAMILY_PLAN.data_params,
        code=code("family_dataset.py"),
    script:
        "../scripts/family_dataset.py"


rule family_train:
    input:
        data=rules.family_dataset.output.data,
        meta=rules.family_dataset.output.meta,
    output:
        models="results/family/models/{fdata}/M{M}.pt",
        summary="results/family/models/{fdata}/M{M}.json",
    log:
        "results/logs/family_train/{fdata}/M{M}.log",
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        gpu=config["resources"]["gpus"],
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=FAMILY_PLAN.train_runtime,
    params:
        cell=FAMILY_PLAN.train_params,
        allow_cpu=SIM["train"]["allow_cpu"],
        code=code("family_train.py"),
    script:
        "../scripts/family_train.py"


rule family_features:
    input:
        data=rules.family_dataset.output.data,
        meta=rules.family_dataset.output.meta,
        models=rules.family_train.output.models,
        summary=rules.family_train.output.summary,
    output:
        features="results/family/features/{fdata}/M{M}.npz",
    log:
        "results/logs/family_features/{fdata}/M{M}.log",
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("family_features.py"),
    script:
        "../scripts/family_features.py"
