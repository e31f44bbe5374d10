"""Where the lifelong study's own artefacts live (the runs' are the incremental loop's, plan of that study)."""

from __future__ import annotations

from retrieval_bench.core.config import scale_block
from retrieval_bench.studies.incremental.plan import Run, run_dir
from retrieval_bench.studies.incremental.protocol import form_of


def generated_images(config: dict, protocol: str, seed: int, configuration: str, task: int) -> str:
    """The images generated from a run's model (chapter 7, Eqs. 7.4-7.5): one
    file per teacher, shared by every configuration that distils from it
    (the `generated.pt` a DKD method's TeacherFile input names)."""
    return f"{run_dir(config, protocol, seed, configuration, task)}/generated.pt"


def judge_model(config: dict, protocol: str, seed: int) -> list[str]:
    """Table 7.5's judge network of a protocol's first dataset (`judge:
    network`); none with `judge: inception` (the command reads the Inception-v3
    weights from data/weights/, naming the URL if they are missing)."""
    if (scale_block(config).get("generation_quality") or {}).get("judge", "network") != "network":
        return []
    first = form_of(config, protocol).shared_protocol(config, protocol, "base", 0)
    return [f"results/{config['scale']}/{first}/seed{seed}/judge.pt"]


def quality_path(config: dict, protocol: str, seed: int) -> str:
    """Table 7.5's scores of the images generated from a protocol's base model."""
    return f"{run_dir(config, protocol, seed, 'base', 0)}/quality.json"


def noise_path(config: dict, run: Run) -> str:
    """Fig. 7.8(a, b): a run's retrieval and classification under Gaussian noise."""
    return f"{run_dir(config, run.protocol, run.seed, run.configuration, run.task)}/noise.json"
