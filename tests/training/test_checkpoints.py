"""Checkpoints: what is saved, resuming in process, and damaged checkpoints skipped."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_rnn.training import Trainer
from keras_rnn.training.checkpoints import CheckpointError


def model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)]
    )


def dataset() -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)  # 6 steps an epoch


def trainer(directory, **kwargs) -> Trainer:
    return Trainer(
        model(),
        "mse",
        keras.optimizers.Adam(0.01),
        metrics=["mae"],
        checkpoint_dir=str(directory),
        checkpoint_every=2,
        verbose=0,
        **kwargs,
    )


def steps(directory) -> list[int]:
    return sorted(int(p.name[5:-6]) for p in directory.glob("ckpt-*.index"))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A run of one epoch (checkpoints at steps 2, 4, 6) and its final weights and history."""
    directory = tmp_path_factory.mktemp("finished")
    run = trainer(directory)
    history = run.fit(dataset(), epochs=1)
    return directory, run.model.get_weights(), history


def copy_run(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_checkpoints_every_n_steps_keep_three(finished):
    directory, _, _ = finished
    assert steps(directory) == [2, 4, 6]
    names = {name for name, _ in tf.train.list_variables(str(directory / "ckpt-6"))}
    for prefix in (
        "model_variables/",
        "optimizer/",
        "metric_variables/",
        "epoch/",
        "step_in_epoch/",
        "state/",
    ):
        assert any(n.startswith(prefix) for n in names), prefix


def test_finished_run_resumes_to_the_same_place(finished, tmp_path):
    directory, weights, history = finished
    again = trainer(copy_run(directory, tmp_path / "run"))
    resumed = again.fit(dataset(), epochs=1)  # nothing left to do
    assert again.global_step == 6
    assert resumed.history == history.history and resumed.step_grad_norms == history.step_grad_norms
    for a, b in zip(again.model.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(a, b)
    more = again.fit(dataset(), epochs=2)  # one more epoch on top
    assert len(more.history["loss"]) == 2 and again.global_step == 12


def damage(prefix, how: str) -> None:
    data = next(prefix.parent.glob(prefix.name + ".data-*"))
    if how == "flip":
        raw = bytearray(data.read_bytes())
        for i in range(0, len(raw), 7):
            raw[i] ^= 0xFF
        data.write_bytes(bytes(raw))
    elif how == "truncate":
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    elif how == "no-index":
        prefix.with_name(prefix.name + ".index").write_bytes(b"not an index")


@pytest.mark.parametrize("how", ["flip", "truncate", "no-index"])
def test_damaged_newest_falls_back_to_the_previous(finished, tmp_path, how):
    """Step 6 damaged -> restore step 4 with a warning, redo steps 5-6: same final weights."""
    directory, weights, history = finished
    run_dir = copy_run(directory, tmp_path / "run")
    damage(run_dir / "ckpt-6", how)
    again = trainer(run_dir)
    with pytest.warns(RuntimeWarning, match="ckpt-6"):
        resumed = again.fit(dataset(), epochs=1)
    assert again.global_step == 6
    assert sorted(p.name.split(".")[0] for p in (run_dir / "corrupt").iterdir()) == [
        "ckpt-6",
        "ckpt-6",
    ]
    for a, b in zip(again.model.get_weights(), weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(resumed.step_grad_norms, history.step_grad_norms, rtol=1e-6)
    assert steps(run_dir) == [2, 4, 6]


def test_all_damaged_is_an_error_not_a_silent_restart(finished, tmp_path):
    run_dir = copy_run(directory := finished[0], tmp_path / "run")
    del directory
    for step in (2, 4, 6):
        damage(run_dir / f"ckpt-{step}", "truncate")
    with (
        pytest.warns(RuntimeWarning),
        pytest.raises(CheckpointError, match="none of the checkpoints"),
    ):
        trainer(run_dir).fit(dataset(), epochs=1)


def test_no_resume_refuses_a_directory_with_checkpoints(finished, tmp_path):
    run_dir = copy_run(finished[0], tmp_path / "run")
    with pytest.raises(CheckpointError, match="resume is off"):
        trainer(run_dir, resume=False).fit(dataset(), epochs=1)


def test_a_different_model_is_refused_and_nothing_is_moved(finished, tmp_path):
    run_dir = copy_run(finished[0], tmp_path / "run")
    keras.utils.set_random_seed(0)
    wider = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5), keras.layers.Dense(1)])
    other = Trainer(wider, "mse", "adam", metrics=["mae"], checkpoint_dir=str(run_dir), verbose=0)
    with pytest.raises(CheckpointError, match="does not match the model"):
        other.fit(dataset(), epochs=1)
    assert steps(run_dir) == [2, 4, 6] and not (run_dir / "corrupt").exists()
