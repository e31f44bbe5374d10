"""Table 4.6: model size, computation and inference time per image-caption pair (spec chapter4.md 11.3, 12.2).

Parameters are counted as the thesis counts them: image trunk (its own BatchNorm included) + image head Linear
+ word embedding + LSTMs + text head Linear; the heads' BatchNorm1d, the label classifier and the discriminator
are left out (only this rule reproduces 147.2 / 14.6 / 70.1 M).  The thesis's FLOP column is the image side;
FlopCounterMode does not see the fused LSTM, so the text side adds its FLOPs analytically."""

from __future__ import annotations

import contextlib
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def counted_parameters(image_encoder: nn.Module, text_encoder: nn.Module, vocab_rows: int | None = None) -> int:
    """The thesis's parameter count; `vocab_rows` counts the word embedding at that many rows instead."""
    total = sum(p.numel() for encoder in (image_encoder, text_encoder)
                for name, p in encoder.named_parameters() if not name.startswith("head.norm."))
    if vocab_rows is not None:
        embedding = text_encoder.embedding.weight
        total += (vocab_rows - embedding.shape[0]) * embedding.shape[1]
    return total


def _flops(forward) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        forward()
    return counter.get_total_flops()


def _caption(text_encoder: nn.Module, length: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    vocabulary = text_encoder.embedding.num_embeddings
    ids = torch.randint(1, vocabulary, (1, length), generator=torch.Generator().manual_seed(0))
    return ids.to(device), torch.tensor([length], device=device)


@contextlib.contextmanager
def _evaluating(*modules: nn.Module, device):
    """Eval mode on `device` for the measurement; each module's mode and device restored afterwards."""
    before = [(m, m.training, next(m.parameters()).device) for m in modules]
    try:
        yield [m.eval().to(device) for m in modules]
    finally:
        for module, training, place in before:
            module.train(training).to(place)


def device_name(device: torch.device) -> str:
    """A readable name of what the times were measured on (the thesis: TITAN X / K40)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def pair_times_ms(image_encoder, text_encoder, image, caption, device, warmup: int, repeats: int) -> list[float]:
    """Milliseconds per pair (one image + one caption forward, batch 1), `warmup` untimed first."""
    synchronise = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            synchronise()
            start = time.perf_counter()
            image_encoder(image)
            text_encoder(*caption)
            synchronise()
            if i >= warmup:
                times.append(1000 * (time.perf_counter() - start))
    return times


def model_complexity(image_encoder: nn.Module, text_encoder: nn.Module, image_input: torch.Tensor,
                     caption_length: int, vocab_rows: int | None = None, device="cpu", warmup: int = 20,
                     repeats: int = 200) -> dict:
    """One row of Table 4.6 for a pair of encoders; `image_input` is one image (its first if a batch)."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    device = torch.device(device)
    with _evaluating(image_encoder, text_encoder, device=device):
        image = image_input[:1].to(device)
        caption = _caption(text_encoder, caption_length, device)
        flops_image = _flops(lambda: image_encoder(image))
        flops_text = _flops(lambda: text_encoder(*caption)) + text_encoder.recurrent_flops(caption_length)
        times = pair_times_ms(image_encoder, text_encoder, image, caption, device, warmup, repeats)
    return {
        "flops_image": flops_image,
        "flops_text": flops_text,
        "flops": flops_image,  # the thesis's column (spec 12.2 (c))
        # the thesis's count has a 12,000-row embedding (spec 12.2 (b)): `vocab_rows`, where given, is the
        # number beside it; the run's own vocabulary is counted too
        "params_million": counted_parameters(image_encoder, text_encoder, vocab_rows) / 1e6,
        "params_million_actual_vocab": counted_parameters(image_encoder, text_encoder) / 1e6,
        "inference_ms": statistics.fmean(times),
        "inference_ms_std": statistics.stdev(times) if len(times) > 1 else 0.0,
        "inference_ms_median": statistics.median(times),
        "device": device_name(device),
        "threads": torch.get_num_threads(),
    }


def measure(config: dict, run_dir: Path, data_dir: Path, protocol: str, device="cpu") -> dict:
    """Table 4.6 for a trained chapter 4 run: its encoders rebuilt from model.pt (the rest of the method
    plays no part at inference), one test image of its data set, the scale's caption length."""
    from retrieval_bench.core.io import read_json
    from retrieval_bench.studies.crossmodal.config import embedding_schedule
    from retrieval_bench.studies.crossmodal.data import captions as captioned
    from retrieval_bench.studies.crossmodal.embedding_method import SentenceShape, build_encoders
    from retrieval_bench.studies.crossmodal.sentence_run import RunSpec, image_source, image_trunk

    saved = torch.load(run_dir / "model.pt", map_location="cpu", weights_only=False)
    schedule, data = embedding_schedule(config, protocol), captioned.load(data_dir)
    spec = RunSpec(data_dir, "", saved["method"], saved["hparams"], saved["model"], 0, schedule)
    trunk, width = image_trunk(data, RunSpec(**{**vars(spec), "weights": None}))
    image_encoder, text_encoder = build_encoders(SentenceShape(len(data.vocabulary), 1, trunk, width), schedule)
    image_encoder.load_state_dict(saved["modules"]["image_encoder"])
    text_encoder.load_state_dict(saved["modules"]["text_encoder"])
    first_test_image = int(data.role("test")["image"].iloc[0])
    image = image_source(data, spec).batch([first_test_image], False)
    timing = schedule["complexity"]
    metrics = read_json(run_dir / "metrics.json")
    return model_complexity(image_encoder, text_encoder, image, timing["caption_tokens"], timing["vocab_rows"],
                            device, timing["warmup"], timing["repeats"]) | {
        "model": saved["model"], "configuration": metrics.get("configuration"), "backbone": metrics.get("backbone"),
        "vocabulary": len(data.vocabulary)}
