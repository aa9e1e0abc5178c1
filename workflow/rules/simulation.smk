# [R] synthetic experiment: dataset → training → feature extraction → linear probes.


rule generate_dataset:
    output:
        data="results/sim/datasets/{data}.npz",
        meta="results/sim/datasets/{data}.json",
    log:
        "results/logs/generate_dataset/{data}.log",
    priority: DATASET_PRIORITY
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        dgp=dataset_params,
        n_eval=SIM["data"]["n_eval"],
        n_monitor=SIM["data"]["n_monitor"],
        code=code("generate_dataset.py"),
    script:
        "../scripts/generate_dataset.py"


if PACK_SIZE == 1:

    rule train:
        input:
            data=rules.generate_dataset.output.data,
            meta=rules.generate_dataset.output.meta,
        output:
            model=TRAINED["model"],
            curve=TRAINED["curve"],
            summary=TRAINED["summary"],
        log:
            "results/logs/train/{data}/{method}/{head}/seed{seed}.log",
        conda:
            "../../envs/torch.yaml"
        threads: SIM["train"]["threads"]
        resources:
            gpu=config["resources"]["gpus"],
            mem_mb=train_mem,
            runtime=train_runtime,
        params:
            train=train_params,
            checkpoint=checkpoint_path,
            allow_cpu=SIM["train"]["allow_cpu"],
            code=code("train.py"),
        script:
            "../scripts/train.py"


# pack_size >= 2: one rule per pack (linid/pipeline/packs.py), writing its members' usual files
for pack in PACKS:
    inherit_train_settings(f"train_pack_{pack.id}")

    rule:
        name:
            f"train_pack_{pack.id}"
        input:
            data=sorted(set(pack_files(pack, rules.generate_dataset.output.data))),
            meta=sorted(set(pack_files(pack, rules.generate_dataset.output.meta))),
        output:
            model=pack_files(pack, TRAINED["model"]),
            curve=pack_files(pack, TRAINED["curve"]),
            summary=pack_files(pack, TRAINED["summary"]),
        log:
            f"results/logs/train_pack/{pack.id}.log",
        priority: pack_priority(pack)
        conda:
            "../../envs/torch.yaml"
        threads: SIM["train"]["threads"]
        resources:
            gpu=config["resources"]["gpus"],
            mem_mb=pack_mem(pack),
            runtime=pack_runtime(pack),
        params:
            pack=pack.id,
            members=pack_params(pack),
            checkpoint=f"results/checkpoints/sim/packs/{pack.id}.ckpt",
            allow_cpu=SIM["train"]["allow_cpu"],
            code=code("train_pack.py"),
        script:
            "../scripts/train_pack.py"


rule extract_features:
    input:
        data=rules.generate_dataset.output.data,
        model=TRAINED["model"],
        summary=TRAINED["summary"],
    output:
        features="results/sim/features/{data}/{method}/{head}/seed{seed}.npz",
    log:
        "results/logs/extract_features/{data}/{method}/{head}/seed{seed}.log",
    conda:
        "../../envs/torch.yaml"
    resources:
        gpu=config["resources"]["gpus"],
        mem_mb=4000,
        runtime=15,
    params:
        method="{method}",
        code=code("extract_features.py"),
    script:
        "../scripts/extract_features.py"


rule probe:
    input:
        features=rules.extract_features.output.features,
    output:
        probe="results/sim/probes/{data}/{method}/{head}/seed{seed}.json",
    log:
        "results/logs/probe/{data}/{method}/{head}/seed{seed}.log",
    group:
        "probe"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        kappa=cell_kappa,
        probe=SIM["probe"],
        temperature=SIM["train"]["temperature"],
        code=code("probe.py"),
    script:
        "../scripts/probe.py"


rule probe_observations:
    input:
        data=rules.generate_dataset.output.data,
        meta=rules.generate_dataset.output.meta,
    output:
        probe="results/sim/probes/{data}/observations.json",
    log:
        "results/logs/probe_observations/{data}.log",
    group:
        "probe"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        probe=SIM["probe"],
        code=code("probe_observations.py"),
    script:
        "../scripts/probe_observations.py"
