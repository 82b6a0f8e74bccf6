"""io.write_figure: a figure lands whole or not at all."""

import pytest

from qml_ops import io, plots


def test_write_figure_is_atomic(tmp_path):
    target = tmp_path / "plots" / "hardware" / "accuracy.png"
    fig = plots.bars(["a", "b"], {"device": [0.5, 0.75]}, ylabel="accuracy", title="t")
    try:
        io.write_figure(target, fig, dpi=50)
        first = target.read_bytes()
        assert first.startswith(b"\x89PNG\r\n\x1a\n") and len(first) > 1000
        with pytest.raises(TypeError):
            io.write_figure(target, fig, dpi=50, no_such_option=True)
        assert target.read_bytes() == first  # the earlier figure is intact
        assert [p.name for p in target.parent.iterdir()] == ["accuracy.png"]  # no temp file left
    finally:
        plots.close(fig)
