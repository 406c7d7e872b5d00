"""A self-contained HTML report of a :class:`ModelAnalysis`, for choosing layer precisions.

The report is one file: the CSS, a short click-to-sort script and every chart (PNG data
URIs drawn with matplotlib's Agg canvas) are inline, so it opens offline and can be
mailed or archived as it is. It is drawn from the saved analysis only; the model is
not needed.

Charts use :class:`matplotlib.figure.Figure` with its own ``FigureCanvasAgg`` and never
pyplot, so reports can be written from worker threads and without a display.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap, LogNorm, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from quantviz import __version__
from quantviz.analysis.candidates import CANDIDATES
from quantviz.analysis.heatmap import Heatmap
from quantviz.analysis.histograms import Histogram
from quantviz.analysis.outliers import LLM_INT8_THRESHOLD
from quantviz.analysis.pipeline import LayerReport, ModelAnalysis
from quantviz.analysis.recommend import FLOAT, FP8, INT8, keep_float_threshold
from quantviz.analysis.results import FormatResult, TensorAnalysis
from quantviz.errors import QuantvizError
from quantviz.io import atomic_write_text

# PNG resolution and the widest model-wide chart, in inches. At 90 dpi the MiniLM
# report (37 layers, 12 detailed) is about 3.6 MB.
DPI = 90
MAX_CHART_WIDTH = 20.0
# Maximum x axis labels of a model-wide chart. With more layers, every Nth one is labelled.
MAX_AXIS_LABELS = 48
# SQNR colour bands of the table and charts, in dB.
SQNR_RED_BELOW = 20.0
SQNR_GREEN_FROM = 30.0

W_FP8 = "fp8_e4m3_tensor"
W_FP8_E5M2 = "fp8_e5m2_tensor"
W_INT8_TENSOR = "int8_sym_tensor"
W_INT8_CHANNEL = "int8_sym_channel"
A_FP8 = "fp8_e4m3_tensor"
A_INT8 = "int8_sym_tensor"

CHOICE_LABELS = {FP8: "FP8 E4M3", INT8: "INT8 per channel", FLOAT: "keep float"}
# Bytes per weight element for each recommendation. A layer without one stays float32.
CHOICE_BYTES = {FP8: 1, INT8: 1, FLOAT: 4}
FLOAT32_BYTES = 4

FLOAT_COLOR = "0.45"
FP8_COLOR = "tab:blue"
INT8_COLOR = "tab:orange"
KEEP_FLOAT_COLOR = "tab:red"


def write_report(
    analysis: ModelAnalysis, path: str | Path, *, max_layers_detailed: int = 12
) -> Path:
    """Render ``analysis`` as one self-contained HTML file and write it atomically.

    ``max_layers_detailed`` caps the layers that get histograms, heatmaps and outlier
    tables (0 leaves the detailed section out). Returns the written path.
    """
    text = render_report(analysis, max_layers_detailed=max_layers_detailed)
    return atomic_write_text(path, text)


def render_report(analysis: ModelAnalysis, *, max_layers_detailed: int = 12) -> str:
    """Render ``analysis`` as an HTML document and return its text."""
    if max_layers_detailed < 0:
        raise QuantvizError(f"max_layers_detailed must be 0 or more; got {max_layers_detailed!r}")
    detailed = select_detailed_layers(analysis, max_layers_detailed)
    sections = [
        _header_section(analysis),
        _summary_section(analysis),
        _charts_section(analysis),
        _table_section(analysis),
        _details_section(detailed),
    ]
    title = f"quantviz report: {analysis.source.get('spec', 'model')}"
    return _PAGE.format(
        title=_esc(title), style=_STYLE, body="\n".join(sections), script=_SORT_SCRIPT
    )


# ---------------------------------------------------------------------------------------------
# Numbers drawn from the analysis


def _sqnr(tensor: TensorAnalysis | None, candidate: str) -> float:
    """Return the SQNR in dB: ``inf`` when exact, NaN when the tensor or candidate is missing."""
    if tensor is None or candidate not in tensor.results:
        return math.nan
    return float(tensor.results[candidate].metrics.sqnr_db)


def _int8_score(report: LayerReport) -> float:
    """Return the worse of INT8 weight (per channel) and input (per tensor) SQNR."""
    values = [_sqnr(report.weight, W_INT8_CHANNEL), _sqnr(report.input, A_INT8)]
    finite_or_inf = [v for v in values if not math.isnan(v)]
    return min(finite_or_inf) if finite_or_inf else math.inf


def _input_ratio(report: LayerReport) -> float:
    return report.input.outliers.channel_ratio if report.input else math.nan


def _weight_elements(report: LayerReport) -> int:
    return math.prod(report.info.weight_shape)


@dataclass
class ModelSize:
    """Weight bytes of the analysed layers under three precision plans."""

    float32: int
    all_int8: int
    recommended: int
    weight_elements: int


def model_size(analysis: ModelAnalysis) -> ModelSize:
    """Weight bytes at float32, all 8-bit and the recommended mix.

    Counts weight elements times bytes per element (1 for FP8 and INT8, 4 for float32).
    Biases, quantization scales and parameters outside the analysed layers are left out.
    """
    elements = 0
    recommended = 0
    for report in analysis.layers:
        count = _weight_elements(report)
        elements += count
        choice = report.recommendation.choice if report.recommendation else None
        recommended += count * CHOICE_BYTES.get(choice, FLOAT32_BYTES)
    return ModelSize(
        float32=elements * FLOAT32_BYTES,
        all_int8=elements,
        recommended=recommended,
        weight_elements=elements,
    )


def select_detailed_layers(analysis: ModelAnalysis, count: int) -> list[tuple[LayerReport, str]]:
    """Pick up to ``count`` layers for the detailed section, each with why it was picked.

    Layers are ranked by "both" sensitivity (highest first) when the analysis has
    sensitivity, else by the worse of INT8 weight and input SQNR (lowest first). The
    layer whose input has the largest max/median channel ratio is always included, and
    so is the ``mlp.down_proj`` with the largest one, whose inputs carry the massive
    activations of Llama-family models such as SmolLM2.
    """
    if count <= 0 or not analysis.layers:
        return []
    layers = analysis.layers
    has_sensitivity = any(report.sensitivity is not None for report in layers)
    if has_sensitivity:
        ranked = sorted(layers, key=lambda r: -_sensitivity_key(r))
        rank_reason = "sensitivity rank {rank}"
    else:
        ranked = sorted(layers, key=_int8_score)
        rank_reason = "INT8 SQNR rank {rank} (lowest first)"
    ranks = {report.name: index + 1 for index, report in enumerate(ranked)}

    # The down_proj comes first, so it is kept even when count is 1.
    forced: dict[str, str] = {}
    with_inputs = [r for r in layers if r.input is not None]
    down_projs = [r for r in with_inputs if r.name.endswith("mlp.down_proj")]
    if down_projs:
        widest_down = max(down_projs, key=lambda r: _ratio_key(_input_ratio(r)))
        forced[widest_down.name] = "mlp.down_proj with the largest input channel ratio"
    if with_inputs:
        widest = max(with_inputs, key=lambda r: _ratio_key(_input_ratio(r)))
        forced.setdefault(widest.name, "largest input channel ratio")

    chosen = list(forced)[:count]
    for report in ranked:
        if len(chosen) >= count:
            break
        if report.name not in chosen:
            chosen.append(report.name)
    chosen.sort(key=lambda name: ranks[name])

    by_name = {report.name: report for report in layers}
    selected = []
    for name in chosen:
        reason = rank_reason.format(rank=ranks[name])
        if name in forced:
            reason = f"{forced[name]}; {reason}"
        selected.append((by_name[name], reason))
    return selected


def _sensitivity_key(report: LayerReport) -> float:
    if report.sensitivity is None or math.isnan(report.sensitivity.both):
        return -math.inf
    return report.sensitivity.both


def _ratio_key(ratio: float) -> float:
    return -math.inf if math.isnan(ratio) else ratio


# ---------------------------------------------------------------------------------------------
# Text formatting


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt_db(value: float) -> str:
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.1f}"


def _fmt_num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def _fmt_pct(fraction: float | None) -> str:
    if fraction is None or math.isnan(fraction):
        return "–"
    if fraction == 0:
        return "0"
    return f"{100 * fraction:.3g}%"


def _fmt_bytes(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    value = count / 1024
    units = ["KiB", "MiB", "GiB"]
    while value >= 1024 and len(units) > 1:
        value /= 1024
        units.pop(0)
    return f"{value:.1f} {units[0]}"


def _sort_value(value: float | None) -> str:
    """Format ``value`` for the ``data-v`` attribute that the sort script reads.

    JavaScript's ``Number()`` parses the result. A missing value becomes an empty string.
    """
    if value is None or math.isnan(value):
        return ""
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def _sqnr_class(value: float) -> str:
    if math.isnan(value):
        return ""
    if value < SQNR_RED_BELOW:
        return "bad"
    if value < SQNR_GREEN_FROM:
        return "warn"
    return "good"


def _choice_label(report: LayerReport) -> str:
    if report.recommendation is None:
        return "none"
    return CHOICE_LABELS.get(report.recommendation.choice, report.recommendation.choice)


def _candidate_label(key: str) -> str:
    return CANDIDATES[key].label if key in CANDIDATES else key


def _axis_label(name: str, width: int = 40) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]


# ---------------------------------------------------------------------------------------------
# Figures


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png_data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    # No Software metadata: it only adds bytes to every image.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _image(figure: Figure, alt: str) -> str:
    return f'<img src="{_png_data_uri(figure)}" alt="{_esc(alt)}">'


def _layer_axis(ax, names: Sequence[str]) -> None:
    """Label the x axis with layer names, every Nth when there are many."""
    step = max(1, math.ceil(len(names) / MAX_AXIS_LABELS))
    ticks = list(range(0, len(names), step))
    ax.set_xticks(ticks)
    ax.set_xticklabels([_axis_label(names[i]) for i in ticks], rotation=90, fontsize=7)
    ax.set_xlim(-0.5, len(names) - 0.5)
    spacing = "" if step == 1 else f", one label every {step} layers"
    ax.set_xlabel(f"layer (model order{spacing})")


def _chart_width(count: int) -> float:
    return min(MAX_CHART_WIDTH, max(9.0, 0.16 * count + 3))


def _sqnr_bands(ax) -> None:
    ax.axhspan(-1e4, SQNR_RED_BELOW, color="tab:red", alpha=0.06, lw=0)
    ax.axhspan(SQNR_RED_BELOW, SQNR_GREEN_FROM, color="gold", alpha=0.08, lw=0)
    ax.axhspan(SQNR_GREEN_FROM, 1e4, color="tab:green", alpha=0.05, lw=0)


def _plot_sqnr_series(ax, series: Sequence[tuple[str, str, list[float]]]) -> None:
    """Draw SQNR lines. ``inf`` values become triangles at the top of the axes."""
    finite = [v for _, _, values in series for v in values if math.isfinite(v)]
    low = min(finite) if finite else 0.0
    high = max(finite) if finite else 60.0
    top = high + max(3.0, 0.08 * (high - low))
    any_inf = False
    for label, color, values in series:
        xs = np.arange(len(values))
        ys = np.array([v if math.isfinite(v) else np.nan for v in values])
        ax.plot(xs, ys, marker="o", markersize=3, lw=1.2, color=color, label=label)
        inf_x = [i for i, v in enumerate(values) if math.isinf(v) and v > 0]
        if inf_x:
            any_inf = True
            ax.plot(inf_x, [top] * len(inf_x), "^", color=color, markersize=6)
    if any_inf:
        ax.plot([], [], "^", color="0.3", label="inf (no error)")
    _sqnr_bands(ax)
    ax.set_ylim(min(low, SQNR_RED_BELOW) - 3, top + 2)
    ax.set_ylabel("SQNR (dB)")
    ax.grid(axis="y", alpha=0.3)
    # Above the axes on the right, so no layer's line is hidden under it.
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, ncols=3, frameon=False)


def plot_sqnr_chart(analysis: ModelAnalysis) -> Figure:
    """Plot per-layer SQNR of FP8 E4M3 vs INT8 for weights (per channel) and inputs (per tensor)."""
    layers = analysis.layers
    names = [r.name for r in layers]
    has_inputs = any(r.input is not None for r in layers)
    panels = 2 if has_inputs else 1
    figure = _figure(_chart_width(len(layers)), 2.6 * panels + 2.4)
    axes = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    _plot_sqnr_series(
        axes[0],
        [
            ("FP8 E4M3 per tensor", FP8_COLOR, [_sqnr(r.weight, W_FP8) for r in layers]),
            ("INT8 per channel", INT8_COLOR, [_sqnr(r.weight, W_INT8_CHANNEL) for r in layers]),
        ],
    )
    axes[0].set_title("Weights", loc="left")
    if has_inputs:
        _plot_sqnr_series(
            axes[1],
            [
                ("FP8 E4M3 per tensor", FP8_COLOR, [_sqnr(r.input, A_FP8) for r in layers]),
                ("INT8 per tensor", INT8_COLOR, [_sqnr(r.input, A_INT8) for r in layers]),
            ],
        )
        axes[1].set_title("Layer inputs (activations)", loc="left")
    _layer_axis(axes[-1], names)
    return figure


def _positive_floor(values: Iterable[float]) -> float:
    """Return a value below the smallest positive one, for drawing zeros on a log axis."""
    positive = [v for v in values if math.isfinite(v) and v > 0]
    return min(positive) / 10 if positive else 1e-12


def plot_sensitivity_chart(analysis: ModelAnalysis) -> Figure | None:
    """Plot per-layer sensitivity on a log scale with keep-float layers in red.

    Returns None when no layer has a sensitivity.
    """
    layers = analysis.layers
    measured = {r.name: r.sensitivity for r in layers if r.sensitivity is not None}
    if not measured:
        return None
    metric = next(iter(measured.values())).metric
    every = [v for s in measured.values() for v in (s.weights, s.inputs, s.both)]
    floor = _positive_floor(every)
    finite_top = max((v for v in every if math.isfinite(v)), default=1.0)

    def shown(value: float) -> float:
        if math.isnan(value):
            return np.nan
        if math.isinf(value):
            return finite_top * 10
        return max(value, floor)

    figure = _figure(_chart_width(len(layers)), 5.0)
    ax = figure.subplots()
    xs = np.arange(len(layers))
    both = [shown(r.sensitivity.both) if r.sensitivity else np.nan for r in layers]
    colors = [
        KEEP_FLOAT_COLOR
        if r.recommendation is not None and r.recommendation.choice == FLOAT
        else "tab:gray"
        for r in layers
    ]
    ax.bar(xs, both, color=colors, width=0.8)
    weights = [shown(r.sensitivity.weights) if r.sensitivity else np.nan for r in layers]
    inputs = [shown(r.sensitivity.inputs) if r.sensitivity else np.nan for r in layers]
    ax.plot(xs, weights, "_", color=FP8_COLOR, markersize=7, mew=2, label="weights only")
    ax.plot(xs, inputs, ".", color="k", markersize=5, label="inputs only")
    handles = [
        Patch(color="tab:gray", label="weights and inputs"),
        Patch(color=KEEP_FLOAT_COLOR, label="weights and inputs, recommended: keep float"),
    ]
    threshold = keep_float_threshold(measured)
    if math.isfinite(threshold):
        ax.axhline(threshold, color=KEEP_FLOAT_COLOR, ls="--", lw=1, label="keep-float threshold")
    ax.set_yscale("log")
    # Headroom above the tallest bar keeps the legend off the bars.
    ax.set_ylim(bottom=floor, top=max(finite_top, floor) * 30)
    ax.set_ylabel(f"{_sensitivity_label(metric)}\n(log scale)")
    ax.set_title("Sensitivity: output change when only this layer is quantized to INT8")
    ax.grid(axis="y", which="major", alpha=0.3)
    line_handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + line_handles, loc="upper left", fontsize=8, ncols=3)
    _layer_axis(ax, [r.name for r in layers])
    return figure


def _sensitivity_label(metric: str) -> str:
    return {"kl": "mean logits KL (nats)", "cosine_loss": "1 - cosine of pooled embeddings"}.get(
        metric, metric
    )


@dataclass(frozen=True)
class _MetricColumn:
    label: str
    values: list[float]
    higher_is_better: bool
    log: bool


def _metric_columns(analysis: ModelAnalysis) -> list[_MetricColumn]:
    layers = analysis.layers
    columns = [
        _MetricColumn(
            f"W {_short_candidate(key)}", [_sqnr(r.weight, key) for r in layers], True, False
        )
        for key in (W_FP8, W_FP8_E5M2, W_INT8_TENSOR, W_INT8_CHANNEL)
    ]
    columns += [
        _MetricColumn(
            f"A {_short_candidate(key)}", [_sqnr(r.input, key) for r in layers], True, False
        )
        for key in (A_FP8, A_INT8)
    ]
    columns.append(_MetricColumn("A channel ratio", [_input_ratio(r) for r in layers], False, True))
    kurtosis = [r.input.outliers.kurtosis if r.input else math.nan for r in layers]
    columns.append(_MetricColumn("A kurtosis", kurtosis, False, True))
    sensitivity = [r.sensitivity.both if r.sensitivity else math.nan for r in layers]
    columns.append(_MetricColumn("sensitivity", sensitivity, False, True))
    return [c for c in columns if any(not math.isnan(v) for v in c.values)]


def _short_candidate(key: str) -> str:
    return {
        W_FP8: "E4M3",
        W_FP8_E5M2: "E5M2",
        W_INT8_TENSOR: "INT8 tensor",
        W_INT8_CHANNEL: "INT8 channel",
    }.get(key, key)


def _risk_column(column: _MetricColumn) -> np.ndarray:
    """Scale a column to [0, 1] over its own range, with 1 for the worst value and NaN kept.

    ``inf`` SQNR (exact) counts as best; an infinite ratio or sensitivity as worst.
    Log columns are scaled in log10, with zero and negative values at the column floor.
    """
    values = np.array(column.values, dtype=float)
    if column.log:
        floor = _positive_floor(values.tolist())
        finite = np.isfinite(values)
        values = np.where(finite, np.log10(np.maximum(values, floor)), values)
    finite = values[np.isfinite(values)]
    risk = np.full(values.shape, np.nan)
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        span = high - low
        with np.errstate(invalid="ignore"):
            scaled = (
                (values - low) / span if span > 0 else np.where(np.isfinite(values), 0.5, np.nan)
            )
        risk = 1.0 - scaled if column.higher_is_better else scaled
    best = 0.0
    worst = 1.0
    risk = np.where(np.isposinf(values), best if column.higher_is_better else worst, risk)
    risk = np.where(np.isneginf(values), worst if column.higher_is_better else best, risk)
    return risk


def plot_metric_heatmap(analysis: ModelAnalysis) -> Figure | None:
    """Plot a layers x metrics heatmap, each column scaled to its own range.

    Returns None when there are no layers or no measured metric.
    """
    layers = analysis.layers
    columns = _metric_columns(analysis)
    if not layers or not columns:
        return None
    matrix = np.column_stack([_risk_column(c) for c in columns])

    # About 0.13 inch per layer row, so 6-point names stay legible.
    height = min(40.0, max(3.5, 0.13 * len(layers) + 2.2))
    figure = _figure(2.6 + 0.75 * len(columns) + 2.8, height)
    ax = figure.subplots()
    image = ax.imshow(
        np.ma.masked_invalid(matrix),
        aspect="auto",
        cmap=_risk_cmap(),
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )

    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(
        [c.label + (" (log)" if c.log else "") for c in columns],
        rotation=40,
        ha="right",
        fontsize=8,
    )
    # Every layer is named up to 120 rows; beyond that every Nth one.
    step = max(1, math.ceil(len(layers) / 120))
    rows = list(range(0, len(layers), step))
    ax.set_yticks(rows)
    ax.set_yticklabels([_axis_label(layers[i].name, 44) for i in rows], fontsize=6)
    ax.set_title("Per-layer metrics, each column scaled to its own range", fontsize=10)

    colorbar = figure.colorbar(image, ax=ax, shrink=min(1.0, 6 / height), pad=0.01)
    colorbar.set_ticks([0, 1])
    colorbar.set_ticklabels(["best in column", "worst in column"])
    return figure


def _risk_cmap() -> Colormap:
    return colormaps["RdYlGn_r"].with_extremes(bad="0.85")


# ---------------------------------------------------------------------------------------------
# Per-layer figures


def _histogram_centers(histogram: Histogram) -> np.ndarray:
    edges = np.asarray(histogram.edges, dtype=float)
    return (edges[:-1] + edges[1:]) / 2


def _draw_histograms(
    ax,
    tensor: TensorAnalysis,
    overlays: Sequence[tuple[str, str]],
    title: str,
) -> bool:
    """Draw the float histogram and the dequantized ones on a log y axis.

    Returns False, after drawing a notice, when the histogram has no values.
    """
    histogram = tensor.histogram
    counts = np.asarray(histogram.counts, dtype=float)
    ax.set_title(title, fontsize=10)
    if counts.size == 0 or counts.sum() <= 0:
        ax.text(0.5, 0.5, "no finite values", ha="center", va="center", transform=ax.transAxes)
        return False

    edges = np.asarray(histogram.edges, dtype=float)
    ax.stairs(counts, edges, fill=True, color=FLOAT_COLOR, alpha=0.35, label="float")
    peak = float(counts.max())
    for key, color in overlays:
        result = tensor.results.get(key)
        if result is None:
            continue
        quantized = np.asarray(result.histogram.counts, dtype=float)
        peak = max(peak, float(quantized.max(initial=0.0)))
        ax.stairs(
            quantized,
            edges,
            color=color,
            lw=1.0,
            alpha=0.85,
            label=f"{_candidate_label(key)}, dequantized",
        )

    ax.set_yscale("log")
    ax.set_ylim(bottom=0.5, top=peak * 3)
    # The histogram's own range: a clip range far outside it (all-zero tensors) is in
    # the legend instead of squeezing the histogram into one bin.
    margin = 0.03 * (edges[-1] - edges[0])
    ax.set_xlim(edges[0] - margin, edges[-1] + margin)
    ax.set_ylabel("count (log scale)")
    return True


def _draw_fp8_grid(ax, result: FormatResult | None) -> None:
    """Mark the FP8 grid points as ticks along the bottom edge and its clip range as lines."""
    if result is None:
        return
    if result.grid:
        ax.vlines(
            result.grid, 0.0, 0.06, transform=ax.get_xaxis_transform(), color=FP8_COLOR, lw=0.6
        )
    for edge in result.clip_range:
        ax.axvline(edge, color=FP8_COLOR, ls="--", lw=1.0)
    label = f"FP8 E4M3 grid (ticks), clip range {_fmt_range(result.clip_range)}"
    ax.plot([], [], "|", color=FP8_COLOR, markersize=8, label=label)


def _draw_int8_clip(ax, result: FormatResult | None) -> None:
    """Mark an INT8 clip range. Its grid is uniform, so the legend gives the step instead."""
    if result is None:
        return
    for edge in result.clip_range:
        ax.axvline(edge, color=INT8_COLOR, ls="-.", lw=1.0)
    step = f", step {_fmt_num(result.scale_max)}" if result.scale_min == result.scale_max else ""
    label = f"INT8 clip range {_fmt_range(result.clip_range)}{step}"
    ax.plot([], [], "-.", color=INT8_COLOR, label=label)


def _fmt_range(clip_range: tuple[float, float]) -> str:
    low, high = clip_range
    if low == -high:
        return f"±{_fmt_num(high)}"
    return f"[{_fmt_num(low)}, {_fmt_num(high)}]"


def _legend_below(ax) -> None:
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, frameon=False)


def plot_layer_distributions(report: LayerReport) -> Figure:
    """Plot the weight histogram, input histogram and per-channel input absmax of one layer."""
    inputs = report.input
    panels = 1 if inputs is None else 3
    figure = _figure(7.0 if inputs is None else 15.0, 4.2)
    axes = figure.subplots(1, panels, squeeze=False)[0]

    weight = report.weight
    overlays = [(W_FP8, FP8_COLOR), (W_INT8_CHANNEL, INT8_COLOR)]
    if _draw_histograms(axes[0], weight, overlays, "Weights"):
        _draw_fp8_grid(axes[0], weight.results.get(W_FP8))
        axes[0].set_xlabel("weight value")
        _legend_below(axes[0])

    if inputs is None:
        return figure
    ax = axes[1]
    if _draw_histograms(ax, inputs, [(A_FP8, FP8_COLOR), (A_INT8, INT8_COLOR)], "Layer input"):
        _draw_fp8_grid(ax, inputs.results.get(A_FP8))
        _draw_int8_clip(ax, inputs.results.get(A_INT8))
        threshold = inputs.outliers.threshold
        if threshold <= abs(inputs.histogram.edges[-1]):
            for sign in (-1, 1):
                ax.axvline(sign * threshold, color="k", ls=":", lw=1.2)
            ax.plot([], [], ":", color="k", label=f"|x| = {threshold:g} (LLM.int8 outlier)")
        else:
            ax.set_title(f"Layer input (all |x| < {threshold:g})", fontsize=10)
        ax.set_xlabel("activation value")
        _legend_below(ax)
    _draw_channel_absmax(axes[2], inputs)
    return figure


def _draw_channel_absmax(ax, inputs: TensorAnalysis) -> None:
    outliers = inputs.outliers
    absmax = np.asarray(outliers.channel_absmax, dtype=float)
    ax.set_title("Layer input: absmax per channel", fontsize=10)
    if absmax.size == 0:
        ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)
        return

    floor = _positive_floor(absmax.tolist())
    shown = np.maximum(absmax, floor)
    ax.plot(np.arange(absmax.size), shown, color="tab:gray", lw=0.7, label="channel absmax")
    median = float(np.median(absmax))
    if median > 0:
        ax.axhline(median, color="tab:green", lw=1, label=f"median {median:.3g}")
    threshold = outliers.threshold
    ax.axhline(threshold, color="k", ls=":", lw=1.2, label=f"LLM.int8 threshold {threshold:g}")

    top = outliers.top_channels[:5]
    if top:
        ax.plot(
            [channel for channel, _ in top],
            [max(value, floor) for _, value in top],
            "o",
            color=KEEP_FLOAT_COLOR,
            markersize=4,
            label="top 5 channels",
        )
        for channel, value in top:
            ax.annotate(
                str(channel),
                (channel, max(value, floor)),
                textcoords="offset points",
                xytext=(3, 3),
                fontsize=7,
            )

    ax.set_yscale("log")
    bottom = max(float(shown.min()) / 2, floor)
    ax.set_ylim(bottom=bottom, top=max(float(shown.max()), threshold) * 3)
    ax.set_xlim(-0.5, absmax.size - 0.5)
    ax.set_xlabel("input channel")
    ax.set_ylabel("max |x| (log scale)")
    _legend_below(ax)


def _heatmap_array(heatmap: Heatmap | None) -> np.ndarray | None:
    if heatmap is None or not heatmap.values or not heatmap.values[0]:
        return None
    return np.asarray(heatmap.values, dtype=float)


def plot_layer_heatmaps(report: LayerReport) -> Figure | None:
    """Plot weight error maps (FP8, INT8, FP8 minus INT8) and the input's token x channel map.

    Returns None when the analysis stored none of these heatmaps.
    """
    error_maps: list[tuple[str, Heatmap, np.ndarray]] = []
    for key, label in ((W_FP8, "FP8 E4M3"), (W_INT8_CHANNEL, "INT8 per channel")):
        result = report.weight.results.get(key)
        matrix = _heatmap_array(result.heatmap if result else None)
        if result is not None and result.heatmap is not None and matrix is not None:
            error_maps.append((label, result.heatmap, matrix))
    with_difference = len(error_maps) == 2 and error_maps[0][2].shape == error_maps[1][2].shape
    activation = report.input.heatmap if report.input is not None else None
    activation_matrix = _heatmap_array(activation)
    panels = len(error_maps) + int(with_difference) + int(activation_matrix is not None)
    if panels == 0:
        return None
    figure = _figure(4.0 * panels, 3.6)
    axes = list(figure.subplots(1, panels, squeeze=False)[0])

    if error_maps:
        # One colour scale for all weight error panels, so they compare cell by cell.
        vmax = max(float(matrix.max()) for _, _, matrix in error_maps)
        vmax = vmax if vmax > 0 else 1e-12
        for label, heatmap, matrix in error_maps:
            ax = axes.pop(0)
            image = ax.imshow(matrix, aspect="auto", cmap="viridis", vmin=0, vmax=vmax)
            _heatmap_axes(ax, f"max |W - Q(W)|, {label}", heatmap, matrix.shape)
            figure.colorbar(image, ax=ax, shrink=0.85)
    if with_difference:
        ax = axes.pop(0)
        difference = error_maps[0][2] - error_maps[1][2]
        image = ax.imshow(
            difference, aspect="auto", cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -vmax, vmax)
        )
        _heatmap_axes(ax, "FP8 minus INT8 (red: FP8 worse)", error_maps[0][1], difference.shape)
        figure.colorbar(image, ax=ax, shrink=0.85)

    if activation is not None and activation_matrix is not None:
        ax = axes.pop(0)
        image = ax.imshow(
            activation_matrix, aspect="auto", cmap="magma", norm=_activation_norm(activation_matrix)
        )
        _heatmap_axes(
            ax, "Input max |x|, first calibration sequence", activation, activation_matrix.shape
        )
        colorbar = figure.colorbar(image, ax=ax, shrink=0.85)
        colorbar.set_label("log colour scale", fontsize=7)
    return figure


def _activation_norm(matrix: np.ndarray) -> LogNorm | None:
    """Build a log colour scale over the positive values, so outliers and the rest both show."""
    positive = matrix[matrix > 0]
    if positive.size == 0:
        return None
    high = float(positive.max())
    low = max(float(np.percentile(positive, 1)), high * 1e-4)
    return LogNorm(vmin=min(low, high / 10), vmax=high, clip=True)


def _heatmap_axes(ax, title: str, heatmap: Heatmap, cells: tuple[int, ...]) -> None:
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(f"{heatmap.row_label} block ({heatmap.shape[0]} in {cells[0]})", fontsize=8)
    ax.set_xlabel(f"{heatmap.col_label} block ({heatmap.shape[1]} in {cells[1]})", fontsize=8)
    ax.tick_params(labelsize=7)


# ---------------------------------------------------------------------------------------------
# HTML sections


def _header_section(analysis: ModelAnalysis) -> str:
    source = analysis.source
    settings = analysis.settings
    rows = [
        ("model", source.get("spec")),
        ("source kind", source.get("kind")),
        ("path", source.get("path")),
        ("sha256", source.get("sha256")),
        ("task", analysis.task),
        ("layers analysed", len(analysis.layers)),
    ]
    if settings.activations:
        rows += [
            ("calibration text", settings.calib or "bundled English text"),
            ("calibration samples", f"{settings.samples} x {settings.seq_len} tokens"),
            ("calibration tokens", analysis.calibration.get("tokens", "–")),
            ("observer", settings.observer),
            ("sensitivity samples", settings.sensitivity_samples or "skipped"),
        ]
    else:
        rows.append(("activations", "not analysed (weight-only analysis)"))
    for key, seconds in analysis.timings.items():
        rows.append((f"time: {key.removesuffix('_s')}", f"{seconds:.1f} s"))
    rows += [
        ("quantviz version", __version__),
        ("report date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    body = "".join(
        f"<tr><th>{_esc(key)}</th><td>{_esc('–' if value is None else value)}</td></tr>"
        for key, value in rows
    )
    title = _esc(source.get("spec", "model"))
    return (
        f"<header><h1>quantviz report: {title}</h1>"
        f'<table class="meta">{body}</table></header>'
        '<nav><a href="#summary">Summary</a> · <a href="#charts">Charts</a> · '
        '<a href="#layers">Layer table</a> · <a href="#details">Layer details</a></nav>'
    )


def _summary_section(analysis: ModelAnalysis) -> str:
    counts = {FP8: 0, INT8: 0, FLOAT: 0}
    other = 0
    for report in analysis.layers:
        choice = report.recommendation.choice if report.recommendation else None
        if choice in counts:
            counts[choice] += 1
        else:
            other += 1
    items = "".join(
        f'<div class="count {key}"><b>{counts[key]}</b>{_esc(CHOICE_LABELS[key])}</div>'
        for key in (FP8, INT8, FLOAT)
    )
    if other:
        items += f'<div class="count"><b>{other}</b>no recommendation</div>'

    size = model_size(analysis)
    size_rows = "".join(
        f"<tr><th>{_esc(label)}</th><td class='num'>{value:,}</td>"
        f"<td class='num'>{_esc(_fmt_bytes(value))}</td>"
        f"<td class='num'>{_fmt_pct(value / size.float32) if size.float32 else '–'}</td></tr>"
        for label, value in (
            ("float32", size.float32),
            ("all 8-bit (FP8 or INT8)", size.all_int8),
            ("recommended mix", size.recommended),
        )
    )
    return (
        '<section id="summary"><h2>Summary</h2>'
        f'<div class="counts">{items}</div>'
        "<h3>Weight size</h3>"
        '<table class="plain"><tr><th>plan</th><th>bytes</th><th>size</th><th>of float32</th></tr>'
        f"{size_rows}</table>"
        f'<p class="note">{size.weight_elements:,} weight elements in the analysed layers, '
        "1 byte each in FP8 or INT8 and 4 in float32. Biases, quantization scales and "
        "layers outside the analysis (norms; embeddings unless included) are not counted.</p>"
        "</section>"
    )


def _charts_section(analysis: ModelAnalysis) -> str:
    parts = ['<section id="charts"><h2>Model-wide charts</h2>']
    if not analysis.layers:
        parts.append("<p>The analysis has no layers.</p></section>")
        return "".join(parts)
    parts.append(
        "<h3>SQNR per layer</h3>"
        '<p class="note">Signal-to-quantization-noise ratio, higher is better: red band below '
        f"{SQNR_RED_BELOW:g} dB, amber to {SQNR_GREEN_FROM:g} dB, green above. Weights use "
        "INT8 per output channel, inputs INT8 per tensor; FP8 E4M3 is per tensor for both.</p>"
    )
    parts.append(_image(plot_sqnr_chart(analysis), "SQNR per layer, FP8 E4M3 vs INT8"))

    sensitivity = plot_sensitivity_chart(analysis)
    parts.append("<h3>Sensitivity per layer</h3>")
    if sensitivity is None:
        parts.append('<p class="note">Sensitivity was not measured for this analysis.</p>')
    else:
        parts.append(
            '<p class="note">Bars: the model output change when only this layer has INT8 '
            "weights (per channel) and inputs (per tensor). Markers: weights only and inputs "
            "only. Zero or negative changes are drawn at the bottom of the axis.</p>"
        )
        parts.append(_image(sensitivity, "sensitivity per layer, log scale"))

    heatmap = plot_metric_heatmap(analysis)
    if heatmap is not None:
        parts.append(
            "<h3>Layer x metric overview</h3>"
            '<p class="note">Each column is scaled to its own range (SQNR columns inverted, so '
            "red is always the worst layer in that column; grey: not measured). The values "
            "are in the layer table.</p>"
        )
        parts.append(_image(heatmap, "layer by metric heatmap"))
    parts.append("</section>")
    return "".join(parts)


# (header, tooltip) of the layer table's columns, in order.
_TABLE_COLUMNS = (
    ("#", "model order"),
    ("layer", "module name"),
    ("kind", "layer kind"),
    ("shape", "weight shape"),
    ("params", "weight and bias elements"),
    ("W E4M3", "weight SQNR, FP8 E4M3 per tensor (dB)"),
    ("W E5M2", "weight SQNR, FP8 E5M2 per tensor (dB)"),
    ("W i8 tensor", "weight SQNR, INT8 symmetric per tensor (dB)"),
    ("W i8 channel", "weight SQNR, INT8 symmetric per output channel (dB)"),
    ("A E4M3", "input SQNR, FP8 E4M3 per tensor (dB)"),
    ("A i8", "input SQNR, INT8 symmetric per tensor (dB)"),
    ("A clip E4M3", "share of input values beyond the FP8 E4M3 range"),
    ("A clip i8", "share of input values beyond the INT8 range"),
    ("W uflow E4M3", "share of weights that become 0 in FP8 E4M3"),
    ("W uflow i8ch", "share of weights that become 0 in INT8 per channel"),
    ("A uflow E4M3", "share of input values that become 0 in FP8 E4M3"),
    ("A uflow i8", "share of input values that become 0 in INT8 per tensor"),
    ("A ratio", "input channel absmax: max / median"),
    ("A kurt", "input kurtosis (Pearson, 3 for a Gaussian)"),
    ("W kurt", "weight kurtosis (Pearson, 3 for a Gaussian)"),
    (
        f"A ≥ {LLM_INT8_THRESHOLD:g}",
        f"input values with |x| >= {LLM_INT8_THRESHOLD:g} (LLM.int8 outlier features)",
    ),
    ("sens W", "sensitivity, INT8 weights only"),
    ("sens A", "sensitivity, INT8 inputs only"),
    ("sens both", "sensitivity, INT8 weights and inputs"),
    ("recommendation", "suggested weight format"),
    ("reason", "the numbers behind the recommendation"),
)


def _cell(text: str, sort: float | None = None, css: str = "", title: str = "") -> str:
    """Build a table cell. ``sort`` becomes the ``data-v`` number that the sort script reads."""
    attributes = ""
    if sort is not None:
        attributes += f' data-v="{_sort_value(sort)}"'
    if css:
        attributes += f' class="{css}"'
    if title:
        attributes += f' title="{_esc(title)}"'
    return f"<td{attributes}>{text}</td>"


def _num_cell(value: float, text: str | None = None) -> str:
    return _cell(_fmt_num(value) if text is None else text, value, "num")


def _db_cell(value: float) -> str:
    return _cell(_fmt_db(value), value, f"num {_sqnr_class(value)}".strip())


def _fraction_cell(tensor: TensorAnalysis | None, key: str, metric: str) -> str:
    if tensor is None or key not in tensor.results:
        return _num_cell(math.nan)
    value = float(getattr(tensor.results[key].metrics, metric))
    return _num_cell(value, _fmt_pct(value))


def _table_row(index: int, report: LayerReport) -> str:
    info = report.info
    weight = report.weight
    inputs = report.input
    sensitivity = report.sensitivity
    nan = math.nan
    choice = report.recommendation.choice if report.recommendation else ""
    beyond = inputs.outliers.beyond_threshold if inputs else nan
    cells = [
        _num_cell(index, str(index)),
        _cell(
            f"<code>{_esc(info.name)}</code>",
            title=f"tied to {info.tied_to}" if info.tied_to else "",
        ),
        _cell(_esc(info.kind)),
        _cell(_esc(" × ".join(str(size) for size in info.weight_shape))),
        _num_cell(info.num_params, f"{info.num_params:,}"),
        _db_cell(_sqnr(weight, W_FP8)),
        _db_cell(_sqnr(weight, W_FP8_E5M2)),
        _db_cell(_sqnr(weight, W_INT8_TENSOR)),
        _db_cell(_sqnr(weight, W_INT8_CHANNEL)),
        _db_cell(_sqnr(inputs, A_FP8)),
        _db_cell(_sqnr(inputs, A_INT8)),
        _fraction_cell(inputs, A_FP8, "clipped_fraction"),
        _fraction_cell(inputs, A_INT8, "clipped_fraction"),
        _fraction_cell(weight, W_FP8, "underflow_fraction"),
        _fraction_cell(weight, W_INT8_CHANNEL, "underflow_fraction"),
        _fraction_cell(inputs, A_FP8, "underflow_fraction"),
        _fraction_cell(inputs, A_INT8, "underflow_fraction"),
        _num_cell(_input_ratio(report)),
        _num_cell(inputs.outliers.kurtosis if inputs else nan),
        _num_cell(weight.outliers.kurtosis),
        _num_cell(beyond, "–" if inputs is None else f"{beyond:,}"),
        _num_cell(sensitivity.weights if sensitivity else nan),
        _num_cell(sensitivity.inputs if sensitivity else nan),
        _num_cell(sensitivity.both if sensitivity else nan),
        _cell(_esc(_choice_label(report)), css=f"choice {choice}"),
        _cell(_esc(report.recommendation.reason if report.recommendation else ""), css="reason"),
    ]
    return f"<tr>{''.join(cells)}</tr>"


def _table_section(analysis: ModelAnalysis) -> str:
    header = "".join(
        f'<th title="{_esc(tooltip)}">{_esc(label)}</th>' for label, tooltip in _TABLE_COLUMNS
    )
    rows = "".join(_table_row(i, report) for i, report in enumerate(analysis.layers))
    metric = next((r.sensitivity.metric for r in analysis.layers if r.sensitivity), None)
    sensitivity_note = (
        f" Sensitivity is the {_esc(_sensitivity_label(metric))} when only that layer is INT8."
        if metric
        else ""
    )
    return (
        '<section id="layers"><h2>Layer table</h2>'
        '<p class="note">Click a column header to sort (click again to reverse). SQNR in dB: '
        f'<span class="bad">&lt; {SQNR_RED_BELOW:g}</span> '
        f'<span class="warn">{SQNR_RED_BELOW:g}–{SQNR_GREEN_FROM:g}</span> '
        f'<span class="good">≥ {SQNR_GREEN_FROM:g}</span>. W = weights, A = layer inputs; '
        "clip = share beyond the representable range; uflow = share of non-zero values "
        f"that quantize to 0.{sensitivity_note} Hover a header for its meaning.</p>"
        f'<div class="scroll"><table class="sortable layers"><thead><tr>{header}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def _details_section(detailed: list[tuple[LayerReport, str]]) -> str:
    if not detailed:
        return '<section id="details"><h2>Layer details</h2><p>No layers selected.</p></section>'
    links = " · ".join(
        f'<a href="#layer-{i}"><code>{_esc(report.name)}</code></a>'
        for i, (report, _) in enumerate(detailed)
    )
    parts = [
        '<section id="details"><h2>Layer details</h2>'
        f'<p class="note">{len(detailed)} layers, most interesting first: {links}</p>'
    ]
    for index, (report, reason) in enumerate(detailed):
        parts.append(_layer_detail(index, report, reason))
    parts.append("</section>")
    return "".join(parts)


def _layer_detail(index: int, report: LayerReport, reason: str) -> str:
    info = report.info
    shape = " × ".join(str(size) for size in info.weight_shape)
    recommendation = (
        f" {_esc(report.recommendation.reason)}." if report.recommendation is not None else ""
    )
    parts = [
        f'<article id="layer-{index}"><h3><code>{_esc(info.name)}</code></h3>',
        f'<p class="note">Selected for: {_esc(reason)}. Kind {_esc(info.kind)}, weight '
        f"{_esc(shape)}, {info.num_params:,} parameters.</p>",
        f"<p>Recommendation: <b>{_esc(_choice_label(report))}</b>.{recommendation}</p>",
    ]

    parts.append(_image(plot_layer_distributions(report), f"{info.name} histograms"))
    parts.append(
        '<p class="note">Histograms: grey is the float tensor, lines the dequantized values '
        "on the same bins. Ticks along the bottom are FP8 E4M3 grid points, dashed lines "
        "the FP8 clip range and dash-dotted lines the INT8 per-tensor clip range. INT8 per "
        "channel has one grid per channel, so none is drawn.</p>"
    )
    heatmaps = plot_layer_heatmaps(report)
    if heatmaps is not None:
        parts.append(_image(heatmaps, f"{info.name} error and activation heatmaps"))
        parts.append(
            '<p class="note">Weight error maps show the maximum |W - Q(W)| in each block, all '
            "three on one colour scale, so the formats compare cell by cell.</p>"
        )

    parts.append('<div class="columns">')
    parts.append(_metrics_table(report))
    parts.append(_outlier_tables(report))
    parts.append("</div></article>")
    return "".join(parts)


def _metrics_table(report: LayerReport) -> str:
    rows = []
    for role, tensor in (("weight", report.weight), ("input", report.input)):
        if tensor is None:
            continue
        for key, result in tensor.results.items():
            metrics = result.metrics
            rows.append(
                f"<tr><td>{_esc(role)}</td><td>{_esc(_candidate_label(key))}</td>"
                f"<td class='num'>{_fmt_num(metrics.mse)}</td>"
                f"<td class='num {_sqnr_class(metrics.sqnr_db)}'>{_fmt_db(metrics.sqnr_db)}</td>"
                f"<td class='num'>{_fmt_cosine(metrics.cosine)}</td>"
                f"<td class='num'>{_fmt_num(metrics.max_abs_error)}</td>"
                f"<td class='num'>{_fmt_pct(metrics.clipped_fraction)}</td>"
                f"<td class='num'>{_fmt_pct(metrics.underflow_fraction)}</td>"
                f"<td class='num'>{_fmt_scale(result)}</td></tr>"
            )
    input_note = ""
    if report.input is not None:
        input_note = (
            '<p class="note">Input MSE, SQNR, cosine, max error and underflow are measured on '
            "the first calibration sequence, with scales from all of them; the clipped share "
            "covers every calibration value.</p>"
        )
    sensitivity = report.sensitivity
    extra = ""
    if sensitivity is not None:
        perplexity = ""
        if sensitivity.perplexity_change is not None:
            perplexity = f", perplexity {100 * sensitivity.perplexity_change:+.2f}%"
        extra = (
            f'<p class="note">Sensitivity ({_esc(_sensitivity_label(sensitivity.metric))}): '
            f"weights {_fmt_num(sensitivity.weights)}, inputs {_fmt_num(sensitivity.inputs)}, "
            f"both {_fmt_num(sensitivity.both)}{perplexity}.</p>"
        )
    return (
        '<div><h4>Error metrics</h4><table class="plain"><tr><th>tensor</th><th>format</th>'
        "<th>MSE</th><th>SQNR dB</th><th>cosine</th><th>max abs error</th><th>clipped</th>"
        f"<th>underflow</th><th>scale</th></tr>{''.join(rows)}</table>{input_note}{extra}</div>"
    )


def _fmt_cosine(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.6f}"


def _fmt_scale(result: FormatResult) -> str:
    if result.scale_min == result.scale_max:
        return _fmt_num(result.scale_min)
    return f"{_fmt_num(result.scale_min)} to {_fmt_num(result.scale_max)}"


def _outlier_tables(report: LayerReport) -> str:
    parts = ["<div>"]
    for role, tensor in (("weight", report.weight), ("input", report.input)):
        if tensor is None:
            continue
        stats = tensor.outliers
        nonfinite = f", {tensor.nonfinite:,} non-finite" if tensor.nonfinite else ""
        parts.append(
            f"<h4>{_esc(role.capitalize())} outliers</h4><p class='note'>"
            f"kurtosis {_fmt_num(stats.kurtosis)}, "
            f"channel max/median {_fmt_num(stats.channel_ratio)}, "
            f"mean {_fmt_num(stats.mean)}, std {_fmt_num(stats.std)}, "
            f"{stats.beyond_k_sigma:,} values beyond {stats.k_sigma:g} σ, "
            f"{stats.beyond_threshold:,} with |x| ≥ {stats.threshold:g}{nonfinite}.</p>"
        )
        if stats.top_channels:
            median = float(np.median(stats.channel_absmax)) if stats.channel_absmax else 0.0
            rows = "".join(
                f"<tr><td class='num'>{channel}</td><td class='num'>{_fmt_num(value, 4)}</td>"
                f"<td class='num'>{_fmt_num(value / median) if median > 0 else '–'}</td></tr>"
                for channel, value in stats.top_channels
            )
            axis = "output channel" if role == "weight" else "channel"
            parts.append(
                f'<table class="plain"><caption>Top {role} channels</caption>'
                f"<tr><th>{axis}</th><th>absmax</th><th>/ median</th></tr>{rows}</table>"
            )
        if stats.top_tokens:
            rows = "".join(_token_row(token) for token in stats.top_tokens)
            parts.append(
                '<table class="plain"><caption>Top outlier tokens</caption>'
                "<tr><th>token</th><th>sequence</th><th>position</th>"
                f"<th>channel</th><th>absmax</th></tr>{rows}</table>"
            )
    parts.append("</div>")
    return "".join(parts)


def _token_row(token: dict) -> str:
    text = token.get("token")
    shown = repr(text) if text is not None else f"id {token.get('token_id', '?')}"
    return (
        f"<tr><td><code>{_esc(shown)}</code></td>"
        f"<td class='num'>{_esc(token.get('sequence', '–'))}</td>"
        f"<td class='num'>{_esc(token.get('position', '–'))}</td>"
        f"<td class='num'>{_esc(token.get('channel', '–'))}</td>"
        f"<td class='num'>{_fmt_num(token.get('absmax'), 4)}</td></tr>"
    )


# ---------------------------------------------------------------------------------------------
# Page template

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em;
       color: #222; max-width: 1800px; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
h4 { margin: .8em 0 .3em; }
code { font-size: .92em; }
img { max-width: 100%; height: auto; display: block; margin: .5em 0; }
nav { margin: .6em 0 1em; }
.note { color: #555; font-size: .9em; max-width: 80em; }
table { border-collapse: collapse; font-size: .82em; }
th, td { border: 1px solid #ddd; padding: 2px 6px; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
table.meta th { width: 12em; }
table.plain { margin: .3em 0 .8em; }
caption { text-align: left; font-weight: bold; padding: .2em 0; }
table.sortable th { cursor: pointer; white-space: nowrap; position: sticky; top: 0; }
table.sortable th[data-order="asc"]::after { content: " ▲"; }
table.sortable th[data-order="desc"]::after { content: " ▼"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.reason { min-width: 24em; color: #444; }
.scroll { overflow: auto; max-height: 85vh; }
.bad { background: #f8d0cc; } .warn { background: #fbe6b0; } .good { background: #d3ecd0; }
td.choice.float { background: #f8d0cc; font-weight: bold; }
td.choice.fp8_e4m3 { color: #1f5f99; } td.choice.int8_channel { color: #a35200; }
.counts { display: flex; gap: 1em; margin: .5em 0 1em; }
.count { border: 1px solid #ccc; border-radius: 6px; padding: .4em 1em; }
.count b { font-size: 1.6em; display: block; }
.count.float b { color: #c0392b; } .count.fp8_e4m3 b { color: #1f5f99; }
.count.int8_channel b { color: #a35200; }
.columns { display: flex; flex-wrap: wrap; gap: 2em; }
article { border-top: 1px solid #eee; margin-top: 1.5em; }
"""

# Click-to-sort for tables with class "sortable". Cells sort by their data-v number, or by
# text when they have none. Cells with an empty data-v sort last in both directions.
_SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, column) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var ascending = th.dataset.order !== "asc";
    table.querySelectorAll("th").forEach(function (h) { delete h.dataset.order; });
    th.dataset.order = ascending ? "asc" : "desc";
    function key(row) {
      var cell = row.cells[column];
      if (cell.dataset.v === undefined) { return cell.textContent.trim(); }
      return cell.dataset.v === "" ? NaN : Number(cell.dataset.v);
    }
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (typeof x === "number" && isNaN(x)) { return isNaN(y) ? 0 : 1; }
      if (typeof y === "number" && isNaN(y)) { return -1; }
      var order = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
{body}
<script>{script}</script>
</body>
</html>
"""
