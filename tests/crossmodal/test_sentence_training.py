"""Chapter 4's networks and Algorithm 1: the Bi-LSTM, who receives which gradient, the gradient-reversal
layer, the P x K sampler, the noise hook and resume (spec chapter4.md 11.6)."""

import numpy as np
import pytest
import torch
from torch import nn

from retrieval_bench.studies.crossmodal import losses
from retrieval_bench.studies.crossmodal.data.synthetic_captions import generate
from retrieval_bench.studies.crossmodal.embedding_method import Batch, SentenceShape
from retrieval_bench.studies.crossmodal.methods.itmeetsal import ITMeetsAL
from retrieval_bench.studies.crossmodal.sentence_encoders import BiLSTMText, GradientReversal, mini_trunk
from retrieval_bench.studies.crossmodal.sentence_run import FeatureImages
from retrieval_bench.studies.crossmodal.sentence_train import InputNoise, TrainingPairs, pair_batches, train

SCHEDULE = {"epochs": 2, "batch": {"p": 4, "k": 2}, "lr": {"trunk": 0.01, "other": 0.01, "schedule": "cosine"},
            "weight_decay": 0.0, "embedding_dim": 8,
            "text": {"word_dim": 6, "units": 5, "dropout": 0.3, "max_tokens": 6},
            "discriminator": [6, 4], "checkpoint_seconds": 0}


def test_unpacked_bilstm_equals_a_packed_bidirectional_lstm():
    torch.manual_seed(0)
    encoder = BiLSTMText(20, 6, 5, 8, dropout=0.0).eval()
    encoder.head = nn.Identity()  # compare the max-pooled Bi-LSTM outputs
    packed = nn.LSTM(6, 5, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(packed, f"{name}_l0").copy_(getattr(encoder.forward_lstm, f"{name}_l0"))
            getattr(packed, f"{name}_l0_reverse").copy_(getattr(encoder.backward_lstm, f"{name}_l0"))
    ids = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0], [9, 0, 0, 0]])
    lengths = torch.tensor([4, 2, 1])
    ours = encoder(ids, lengths)
    sequence = nn.utils.rnn.pack_padded_sequence(encoder.embedding(ids), lengths, batch_first=True,
                                                 enforce_sorted=False)
    out, _ = packed(sequence)
    out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, padding_value=float("-inf"))
    assert torch.allclose(ours, out.max(dim=1).values, atol=1e-6)


def test_gradient_reversal_is_identity_forward_and_minus_lambda_backward():
    x = torch.randn(3, 4, requires_grad=True)
    y = GradientReversal(0.7)(x)
    assert torch.equal(y, x)
    y.sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, -0.7))


def _method(hparams=None, seed=0):
    torch.manual_seed(seed)
    trunk, width = mini_trunk("mini_mobilenet", 10)
    method = ITMeetsAL({"k_steps": 2, **(hparams or {})}, SentenceShape(20, 6, trunk, width), SCHEDULE, seed)
    method.make_optimizers()
    return method


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    return Batch(images=torch.randn(4, 10, generator=g), image_of_pair=torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]),
                 tokens=torch.randint(2, 20, (8, 5), generator=g), lengths=torch.tensor([5, 3, 4, 2, 5, 5, 1, 3]),
                 labels=torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]))


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_generator_step_moves_the_encoders_and_classifier_not_the_discriminator():
    method = _method()
    before_d, before_text = _params(method.discriminator), _params(method.text_encoder)
    terms = method.generator_step(_batch())
    assert set(terms) == {"ce", "di", "kl", "tr", "s"}
    assert all(torch.equal(a, b) for a, b in zip(before_d, method.discriminator.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(before_text, method.text_encoder.parameters()))


def test_the_entropy_term_reaches_the_features_through_a_fixed_discriminator():
    method = _method()
    zi = torch.randn(8, 8, requires_grad=True)
    (losses.negative_entropy(method.discriminator(zi))).backward()
    assert zi.grad is not None and float(zi.grad.abs().sum()) > 0


def test_discriminator_steps_every_k_generator_steps_on_detached_features():
    method = _method({"k_steps": 2})
    d0 = _params(method.discriminator)
    method.generator_step(_batch(0))
    encoders = _params(method.image_encoder) + _params(method.text_encoder)
    records = method.discriminator_step()
    assert {"d_loss", "d_accuracy", "d_entropy"} <= set(records)
    assert not all(torch.equal(a, b) for a, b in zip(d0, method.discriminator.parameters()))
    after = list(method.image_encoder.parameters()) + list(method.text_encoder.parameters())
    assert all(torch.equal(a, b) for a, b in zip(encoders, after))  # the D step leaves the encoders alone
    assert 0.0 <= records["d_accuracy"] <= 1.0 and 0.0 <= records["d_entropy"] <= np.log(2) + 1e-6


def test_the_separate_paradigm_gives_the_encoders_minus_the_classifier_gradient():
    method = _method({"paradigm": "separate", "grl_lambda": 1.0})
    head = method.extras["grl_head"]
    zi = torch.randn(8, 8, requires_grad=True)
    zt = torch.randn(8, 8)
    losses.modality_classification(head(zi), head(zt)).backward()
    reversed_grad = zi.grad.clone()
    zi.grad = None
    classifier = head[1]
    losses.modality_classification(classifier(zi), classifier(zt)).backward()
    assert torch.allclose(reversed_grad, -zi.grad)


def test_baselines_have_no_adversary_but_a_probe_that_does_not_shift_the_random_stream():
    full, baseline = _method(), _method({"w_s": 0.0, "w_kl": 0.0, "w_di": 0.0})
    after_probe = torch.get_rng_state()
    assert full.adversarial and not baseline.adversarial and baseline.discriminator is not None
    no_probe = _method({"w_s": 0.0, "w_kl": 0.0, "w_di": 0.0, "modality_probe": False})
    assert no_probe.discriminator is None
    assert torch.equal(after_probe, torch.get_rng_state())  # dropout draws the same with or without the probe
    assert "s" not in baseline.generator_step(_batch())


def test_the_discriminator_learns_from_its_classification_loss_alone():
    """L_s leaves gradients in D during the encoders' step; D's own step must not use them."""
    ours, reference = _method(), _method()
    for method in (ours, reference):
        torch.manual_seed(1)  # the same dropout masks in both steps
        method.generator_step(_batch())
    zi, zt = reference._kept[-1]
    optimizer = reference.optimizers["discriminator"]
    optimizer.zero_grad()
    losses.modality_classification(reference.discriminator(zi), reference.discriminator(zt)).backward()
    optimizer.step()
    ours.discriminator_step()
    assert all(torch.equal(a, b) for a, b in zip(ours.discriminator.parameters(),
                                                 reference.discriminator.parameters()))


def test_the_classifier_moves_with_the_encoders():
    method = _method()
    before = method.extras["classifier"]["weight"].detach().clone()
    method.generator_step(_batch())
    assert not torch.equal(before, method.extras["classifier"]["weight"])


def test_method_values_are_checked():
    with pytest.raises(ValueError, match="paradigm"):
        ITMeetsAL.check_values({"paradigm": "both"})
    with pytest.raises(ValueError, match="no hyper-parameter"):
        ITMeetsAL.check_config({"lambda": 1}, "configurations.x")


def test_sampler_visits_every_pair_once_in_chunks_of_one_instance():
    instances = np.repeat(np.arange(10), 5)  # 5 captions per image
    batches = pair_batches(instances, p=3, k=2, rng=np.random.default_rng(0))
    chunks = [b[i:i + 2] for b in batches for i in range(0, len(b), 2)]
    assert all(len(set(instances[c])) == 1 for c in chunks)
    assert all(len(b) == 6 for b in batches)
    seen = np.concatenate(batches)
    # 30 chunks (3 per image), 10 full batches: every pair appears, the fill-ups once more each at most
    assert set(seen) == set(range(50)) and len(seen) == 60


def test_noise_hook_is_identity_at_sigma_zero_and_records_the_epoch_mean():
    hook = InputNoise(0.0, torch.Generator().manual_seed(0))
    x = torch.tensor([[1.0, 3.0]])
    assert hook(x, None) is x
    assert hook.close_epoch() == pytest.approx(2.0) and hook.mean == pytest.approx(2.0)
    noisy = InputNoise(0.5, torch.Generator().manual_seed(0))
    noisy.mean = 10.0
    words = torch.zeros(1, 3, 2)
    valid = torch.tensor([[True, True, False]])
    out = noisy(words, valid)
    assert torch.equal(out[0, 2], torch.zeros(2))  # padding stays zero
    assert float(out[0, :2].mean()) == pytest.approx(10.0, abs=1.5)


def _pairs():
    data, _ = generate("synthetic_f8k")
    train_part = data.role("train").iloc[:80]
    tokens, lengths = data.vocabulary.ids(train_part["text"], 6)
    labels = np.searchsorted(np.unique(train_part["instance"]), train_part["instance"])
    return data, TrainingPairs(FeatureImages(data.images), train_part["image"].to_numpy(), tokens, lengths, labels)


def _fresh(data, seed=0, hparams=None):
    torch.manual_seed(seed)
    trunk, width = mini_trunk("mini_mobilenet", data.images.shape[1])
    return ITMeetsAL({"k_steps": 2, **(hparams or {})}, SentenceShape(len(data.vocabulary), 16, trunk, width),
                     SCHEDULE, seed)


def test_resume_after_an_interruption_ends_where_an_uninterrupted_run_ends(tmp_path):
    data, pairs = _pairs()
    straight = _fresh(data)
    history = train(straight, pairs, SCHEDULE, 0, tmp_path / "a", {"run": 1})
    assert [h["epoch"] for h in history] == [1, 2] and "d_accuracy" in history[0]

    interrupted = _fresh(data)
    calls = {"n": 0}
    original = interrupted.generator_step

    def failing(batch):
        calls["n"] += 1
        if calls["n"] > history[0]["steps"]:  # fail in epoch 2, after epoch 1's resume point
            raise KeyboardInterrupt
        return original(batch)

    interrupted.generator_step = failing
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, pairs, SCHEDULE, 0, tmp_path / "b", {"run": 1})
    assert (tmp_path / "b" / "last.pt").is_file()
    resumed = _fresh(data)
    resumed_history = train(resumed, pairs, SCHEDULE, 0, tmp_path / "b", {"run": 1})
    timeless = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert timeless(resumed_history) == timeless(history)
    for a, b in zip(straight.text_encoder.state_dict().values(), resumed.text_encoder.state_dict().values()):
        assert torch.equal(a, b)
    assert not (tmp_path / "b" / "last.pt").exists()


def test_noise_changes_training_and_its_means_follow_the_inputs(tmp_path):
    data, pairs = _pairs()
    quiet = train(_fresh(data), pairs, SCHEDULE, 0, tmp_path / "q", {"run": 2})
    noisy = train(_fresh(data, hparams={"noise_sigma": 0.5}), pairs, SCHEDULE, 0, tmp_path / "n", {"run": 3})
    assert quiet[0]["input_mean_image"] == pytest.approx(noisy[0]["input_mean_image"], abs=1e-9)  # clean means
    assert quiet[-1]["ce"] != noisy[-1]["ce"]


def test_the_loop_steps_the_discriminator_after_every_k_encoder_steps(tmp_path):
    data, pairs = _pairs()
    method = _fresh(data, hparams={"k_steps": 3})
    calls = {"n": 0}
    original = method.discriminator_step

    def counted():
        calls["n"] += 1
        return original()

    method.discriminator_step = counted
    history = train(method, pairs, SCHEDULE, 0, tmp_path, {"run": 4})
    assert calls["n"] == sum(h["steps"] // 3 for h in history) > 0


def test_the_sampler_fills_a_short_chunk_with_another_pair_of_its_instance():
    instances = np.repeat(np.arange(6), 3)  # 3 captions: chunks of 2, the second one filled
    for seed in range(5):
        for batch in pair_batches(instances, p=2, k=2, rng=np.random.default_rng(seed)):
            chunks = batch.reshape(-1, 2)
            assert all(a != b for a, b in chunks)


def test_a_batch_of_one_image_forwards_its_duplicates_for_batchnorm():
    data, pairs = _pairs()
    same = np.flatnonzero(pairs.image_of_pair == pairs.image_of_pair[0])[:2]
    batch = pairs.batch(same, None, "cpu")
    assert len(batch.images) == 2 and batch.image_of_pair.tolist() == [0, 1]
    method = _fresh(data)
    method.make_optimizers()
    method.generator_step(batch)  # no "expected more than 1 value per channel"
