"""`snakemake --profile slurm` on a real SLURM cluster.

Needs a running cluster whose clients read SLURM_CONF: `.ci/slurm-cluster start DIR`
starts a one-node cluster with one fake GPU (CI does; see .ci/run). Without one the
test skips, unless RETRIEVAL_BENCH_REQUIRE lists `slurm`.
"""

import os
import re
import shutil
import subprocess
import time

import pandas as pd
import yaml

from conftest import require
from tiny_project import project, snakemake, snakemake_call, table_5_2_config


def _cluster_up() -> bool:
    if not (os.environ.get("SLURM_CONF") and shutil.which("sinfo")):
        return False
    state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    return state.returncode == 0 and bool({"idle", "mix", "alloc"} & set(state.stdout.split()))


def _scontrol_job(jobid: str) -> dict:
    text = subprocess.run(["scontrol", "show", "job", jobid], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"(\w+)=(\S*)", text))


def _cluster_project(tmp_path, rows: list[str], base_epochs: int | None = None):
    require("slurm", _cluster_up(), "no SLURM cluster reachable through SLURM_CONF (.ci/slurm-cluster start DIR)")
    config = table_5_2_config(rows)
    if base_epochs:
        config["scales"]["mini"]["training"]["base"]["epochs"] = base_epochs
    cwd = project(tmp_path, config, extra=("slurm",))
    # The site settings, where the README tells users to put theirs: the
    # workflow profile on top of the shipped slurm profile.
    (cwd / "profiles" / "default").mkdir(parents=True)
    (cwd / "profiles" / "default" / "config.yaml").write_text(yaml.safe_dump({
        "default-resources": {"slurm_partition": "debug"},
        "slurm-init-seconds-before-status-checks": 2}))
    return cwd


def test_profile_runs_training_as_gpu_jobs_on_the_cluster(tmp_path):
    cwd = _cluster_project(tmp_path, ["base", "feature_extraction", "finetune", "mmd"])

    # a bound against a hang, not a speed check: a plugin that loses its status command waits forever
    run = snakemake(cwd, "--profile", "slurm", cores=False, timeout=3600)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]

    frame = pd.read_csv(cwd / "reports" / "mini" / "tables" / "table_5_2.csv")
    assert {"base", "finetune", "mmd", "feature_extraction"} <= set(frame.configuration)

    submitted = dict(re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: \S*/rule_(\w+?)/", out))
    jobs = {jobid: _scontrol_job(jobid) for jobid in submitted}
    rules = sorted(submitted.values())
    assert rules.count("train") == 3 and rules.count("evaluate") == 1, rules
    assert {"prepare_data", "split", "pretrain"} <= set(rules)
    assert "table" not in rules and "report" not in rules  # local rules stay on the submit host
    for jobid, rule in submitted.items():
        job = jobs[jobid]
        assert job["JobState"] == "COMPLETED" and job["Partition"] == "debug"
        asks_gpu = "gpu" in job.get("TresPerJob", "") + job.get("TresPerNode", "")
        assert asks_gpu == (rule in ("train", "evaluate")), (rule, job.get("TresPerJob"))
        assert job["Comment"].startswith(f"rule_{rule}")  # the plugin names the rule in the job comment

    # the training job saw its allocation: SLURM job id and GPU in its own log
    train_logs = list((cwd / "logs" / "mini" / "train").rglob("*.log"))
    assert len(train_logs) == 3
    for log in train_logs:
        text = log.read_text()
        assert re.search(r"SLURM job \d+ on \S+, GPUs allocated: 1", text), text[:2000]


def _wait_for(condition, what: str, bound: float = 600.0):
    """Poll until `condition()` holds; the bound only stops a hang."""
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def test_a_preempted_training_job_is_requeued_and_resumes_from_its_checkpoint(tmp_path):
    epochs = 300  # about 12 s of training: time to requeue it mid-run
    cwd = _cluster_project(tmp_path, ["base"], base_epochs=epochs)
    target = "results/mini/metrics/cub_25/seed0/base/task0.json"
    run = snakemake(cwd, "results/mini/pretrained/small_convnet_half.pt", "data/mini/splits/cub_25.csv")  # on the host
    assert run.returncode == 0, run.stderr[-3000:]

    command, env = snakemake_call("--profile", "slurm", target, cores=False)
    output = tmp_path / "snakemake.out"
    checkpoint = cwd / "checkpoints" / "mini" / "cub_25" / "seed0" / "base" / "task0" / "last.pt"
    jobid = None
    with output.open("w") as out, subprocess.Popen(command, cwd=cwd, env=env, stdout=out,
                                                   stderr=subprocess.STDOUT) as workflow:
        try:
            _wait_for(checkpoint.exists, "the first epoch checkpoint")

            def running_train_job():
                jobs = subprocess.run(["squeue", "-h", "-t", "running", "-o", "%i %k"], capture_output=True,
                                      text=True, check=True).stdout
                return next((line.split()[0] for line in jobs.splitlines() if "rule_train" in line), None)

            _wait_for(running_train_job, "the training job to be running")
            jobid = running_train_job()
            subprocess.run(["scontrol", "requeue", jobid], check=True)  # what preemption with requeue does
            _wait_for(lambda: _scontrol_job(jobid)["JobState"] == "PENDING", "the requeued job to be pending")
            subprocess.run(["scontrol", "update", f"jobid={jobid}", "StartTime=now"], check=True)  # skip the 2 min hold
            workflow.wait(timeout=3600)
        finally:
            if workflow.poll() is None:  # a failed check: leave no workflow or job holding the one GPU
                workflow.kill()
                if jobid:
                    subprocess.run(["scancel", jobid], check=False)
    assert workflow.returncode == 0, output.read_text()[-4000:]

    assert _scontrol_job(jobid)["Restarts"] == "1"
    log = (cwd / "logs" / "mini" / "train" / "cub_25" / "seed0" / "base" / "task0.log").read_text()
    resumed = re.search(r"resuming \w+ task 0 at epoch (\d+) from checkpoints/", log)
    assert resumed and 1 <= int(resumed.group(1)) < epochs, log[:3000]
    assert f"epoch {epochs}/{epochs}" in log and (cwd / target).exists()
    assert not checkpoint.exists()  # a finished run leaves no resume state behind
