"""The CCNN comparison table: resuming after an interrupt, and the lecture's numbers."""
import json

import pytest

from sublevel.checks.experiments.ccnn_table import LECTURE_TABLE, MODELS, TableConfig, run_table


def test_lecture_table_orderings():
    # The orderings the README compares against: CCNN beats the CNN of the same depth everywhere.
    for column in range(5):
        assert LECTURE_TABLE["CCNN-1"][column] < LECTURE_TABLE["CNN-1"][column]
        assert LECTURE_TABLE["CCNN-2"][column] < LECTURE_TABLE["CNN-2"][column]


def test_interrupted_table_resumes_from_its_checkpoint(tmp_path):
    config = TableConfig.quick(max_train=150, n_features=32, ccnn_epochs=1, cnn_epochs=1)
    checkpoint = tmp_path / "t.json.resume"

    def interrupt_on_second_variation(message):
        if message.startswith("rot"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_table(config, interrupt_on_second_variation, checkpoint)
    saved = json.loads(checkpoint.read_text())
    assert saved["runs"]["rot"] == {} and set(saved["runs"]["basic"]["0"]) == set(MODELS)
    messages = []
    result = run_table(config, messages.append, checkpoint)
    assert sum("(resumed)" in m for m in messages) == 4 and len(messages) == 8
    assert result.errors("basic", "CCNN-1") == [saved["runs"]["basic"]["0"]["CCNN-1"]]
    assert "| CCNN-2 |" in result.markdown()


@pytest.mark.slow
def test_table_runs_on_mnist_idx_files(tmp_path):
    from test_ccnn_data import _tiny_mnist

    _tiny_mnist(tmp_path, n=60)
    config = TableConfig.quick(mnist_dir=str(tmp_path), variations=("img+rot",), n_features=32,
                               ccnn_epochs=1, cnn_epochs=1)
    result = run_table(config)
    assert len(result.errors("img+rot", "CCNN-2")) == 1
    assert "real MNIST" in result.markdown()
