"""The HTML report, rendered from real analyses of a tiny random Llama and a safetensors file."""

import base64
import copy
import html
import re
import struct

import pytest
import torch
from safetensors.torch import save_file

from quantviz.analysis.pipeline import (
    AnalysisSettings,
    ModelAnalysis,
    analyze_model,
    analyze_weights_file,
)
from quantviz.analysis.recommend import FLOAT, INT8
from quantviz.analysis.report import (
    model_size,
    render_report,
    select_detailed_layers,
    write_report,
)
from quantviz.errors import QuantvizError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def llama_analysis(tiny_llama, tmp_path_factory) -> ModelAnalysis:
    """A full analysis (activations and sensitivity), saved and loaded back as the CLI does."""
    settings = AnalysisSettings(samples=2, seq_len=16, batch_size=2, sensitivity_samples=1)
    analysis = analyze_model(tiny_llama, settings)
    path = analysis.save(tmp_path_factory.mktemp("analysis") / "analysis.json")
    return ModelAnalysis.load(path)


@pytest.fixture(scope="module")
def llama_report(llama_analysis, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("report") / "report.html"
    written = write_report(llama_analysis, path, max_layers_detailed=2)
    assert written == path
    assert path.is_file()
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """A safetensors file with a normal weight, an all-zero one and a name to escape."""
    generator = torch.Generator().manual_seed(0)
    tensors = {
        "model.layers.0.mlp.down_proj.weight": torch.randn(16, 32, generator=generator),
        "model.layers.0.zero.weight": torch.zeros(8, 8),
        "odd<b>&name.weight": torch.randn(4, 4, generator=generator),
    }
    path = tmp_path_factory.mktemp("weights") / "model.safetensors"
    save_file(tensors, str(path))
    return path


@pytest.fixture(scope="module")
def weights_report(weights_file, tmp_path_factory) -> str:
    """The report of a weight-only analysis: no inputs, no sensitivity."""
    analysis = analyze_weights_file(weights_file)
    path = write_report(analysis, tmp_path_factory.mktemp("weights_report") / "report.html")
    return path.read_text(encoding="utf-8")


def _table_row(text: str, layer: str) -> dict[str, str]:
    """The cells of ``layer``'s row in the layer table, keyed by column header."""
    table = text[text.index('<table class="sortable layers">') :]
    table = table[: table.index("</table>")]
    headers = re.findall(r"<th[^>]*>(.*?)</th>", table)
    for row in re.findall(r"<tr>(.*?)</tr>", table):
        cells = re.findall(r"<td[^>]*>.*?</td>", row)
        if f"<code>{html.escape(layer)}</code>" in row:
            return dict(zip(headers, cells, strict=True))
    raise AssertionError(f"no table row for {layer}")


def _png_images(text: str) -> list[bytes]:
    return [base64.b64decode(data) for data in DATA_URI.findall(text)]


def test_report_is_one_document(llama_report):
    assert llama_report.startswith("<!DOCTYPE html>")
    assert llama_report.count("<html") == 1
    assert llama_report.count("</html>") == 1
    assert llama_report.count("<body>") == 1


def test_report_images_are_png(llama_report):
    images = _png_images(llama_report)
    # SQNR, sensitivity and metric heatmap charts, plus two figures per detailed layer.
    assert len(images) == 3 + 2 * 2
    for image in images:
        assert image.startswith(PNG_SIGNATURE)
        width, height = struct.unpack(">II", image[16:24])
        assert width > 100
        assert height > 100


def test_report_names_every_layer(llama_report, llama_analysis):
    for report in llama_analysis.layers:
        assert html.escape(report.name) in llama_report


def test_report_self_contained(llama_report):
    assert "http://" not in llama_report
    assert "https://" not in llama_report
    assert "<link" not in llama_report
    sources = re.findall(r'src="([^"]*)"', llama_report)
    assert sources
    assert all(source.startswith("data:image/png;base64,") for source in sources)


def test_report_header_and_summary(llama_report, llama_analysis):
    assert "random:llama" in llama_report
    assert f"{llama_analysis.calibration['tokens']}" in llama_report
    assert "Weight size" in llama_report
    assert "recommended mix" in llama_report
    size = model_size(llama_analysis)
    assert f"{size.float32:,}" in llama_report


def test_report_table_colours_sqnr(llama_report):
    table = llama_report[llama_report.index('id="layers"') : llama_report.index('id="details"')]
    assert table.count("<tr>") == 14 + 1
    assert re.search(r'<td data-v="[-0-9.e]+" class="num (bad|warn|good)">', table)


def test_detail_count_follows_limit(llama_report, llama_analysis):
    assert llama_report.count("<article") == 2
    assert render_report(llama_analysis, max_layers_detailed=0).count("<article") == 0


def test_negative_detail_limit_rejected(llama_analysis):
    with pytest.raises(QuantvizError, match="max_layers_detailed"):
        render_report(llama_analysis, max_layers_detailed=-1)


def test_detail_keeps_widest_down_proj(llama_analysis):
    down_projs = [r for r in llama_analysis.layers if r.name.endswith("mlp.down_proj")]
    widest = max(down_projs, key=lambda r: r.input.outliers.channel_ratio)

    selected = select_detailed_layers(llama_analysis, 1)

    assert [report.name for report, _ in selected] == [widest.name]
    assert "down_proj" in selected[0][1]


def test_detail_ranks_by_sensitivity(llama_analysis):
    selected = select_detailed_layers(llama_analysis, 5)
    names = [report.name for report, _ in selected]
    assert len(names) == len(set(names)) == 5
    most_sensitive = max(llama_analysis.layers, key=lambda r: r.sensitivity.both)
    assert most_sensitive.name in names


def test_model_size_counts_choices(llama_analysis):
    analysis = copy.deepcopy(llama_analysis)
    for report in analysis.layers:
        report.recommendation.choice = INT8
    elements = sum(report.weight.histogram.total for report in analysis.layers)
    float_layer = analysis.layers[0]
    float_layer.recommendation.choice = FLOAT
    float_elements = float_layer.info.weight_shape[0] * float_layer.info.weight_shape[1]

    size = model_size(analysis)

    assert size.weight_elements == elements
    assert size.float32 == 4 * elements
    assert size.all_int8 == elements
    assert size.recommended == elements + 3 * float_elements


def test_weight_only_report(weights_report):
    assert "weight-only analysis" in weights_report
    assert "model.layers.0.mlp.down_proj" in weights_report
    assert "Sensitivity was not measured" in weights_report
    assert "https://" not in weights_report
    assert weights_report.count("<article") == 3
    images = _png_images(weights_report)
    assert images
    assert all(image.startswith(PNG_SIGNATURE) for image in images)


def test_weight_only_zero_layer(weights_report):
    cells = _table_row(weights_report, "model.layers.0.zero")
    # All-zero weights quantize exactly (SQNR inf) and have no kurtosis (NaN).
    assert cells["W i8 channel"] == '<td data-v="Infinity" class="num good">inf</td>'
    assert cells["W E4M3"] == '<td data-v="Infinity" class="num good">inf</td>'
    assert cells["W kurt"] == '<td data-v="" class="num">–</td>'
    assert cells["A E4M3"] == '<td data-v="" class="num">–</td>'


def test_layer_names_escaped(weights_report):
    assert "odd<b>&name" not in weights_report
    assert "odd&lt;b&gt;&amp;name" in weights_report
