# [R] synthetic experiment: dataset → training → feature extraction → linear probes.


rule generate_dataset:
    output:
        data="results/sim/datasets/{data}.npz",
        meta="results/sim/datasets/{data}.json",
    log:
        "results/logs/generate_dataset/{data}.log",
    priority: SIMP.dataset_priority
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        dgp=SIMP.dataset_params,
        n_eval=SIM["data"]["n_eval"],
        n_monitor=SIM["data"]["n_monitor"],
        code=code("generate_dataset.py"),
    script:
        "../scripts/generate_dataset.py"


rule train:
    input:
        data=SIMP.pack_inputs(rules.generate_dataset.output.data),
        meta=SIMP.pack_inputs(rules.generate_dataset.output.meta),
    output:
        pack=directory(PACK_DIR),
    log:
        "results/logs/train/{pack}.log",
    priority: SIMP.priority
    conda:
        "../../envs/torch.yaml"
    threads: SIM["train"]["threads"]
    resources:
        gpu=config["resources"]["gpus"],
        mem_mb=SIMP.mem,
        runtime=SIMP.runtime,
    params:
        members=SIMP.members,
        checkpoint=SIMP.checkpoint,
        allow_cpu=SIM["train"]["allow_cpu"],
        code=code("train.py"),
    script:
        "../scripts/train.py"


# one model's files, copied out of its pack's folder (a copy: no job, no MLflow run)
rule trained_model:
    input:
        pack=SIMP.member_pack(rules.train.output.pack),
    output:
        model=TRAINED["model"],
        curve=TRAINED["curve"],
        summary=TRAINED["summary"],
    log:
        "results/logs/trained_model/{data}/{method}/{head}/seed{seed}.log",
    localrule: True
    params:
        member=MEMBER_DIR,
    run:
        copy_member(input.pack, params.member.format(**wildcards), dict(output), log[0])


rule extract_features:
    input:
        data=rules.generate_dataset.output.data,
        model=rules.trained_model.output.model,
        summary=rules.trained_model.output.summary,
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
        kappa=SIMP.cell_kappa,
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
