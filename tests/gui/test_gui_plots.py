"""The plot views: matrix placement, real mouse clicks that select layers, the frontier."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from quantviz.analysis.heatmap import Heatmap
from quantviz.gui.colors import FP8_COLOR
from quantviz.gui.plots.error_heatmaps_view import ErrorHeatmapsView
from quantviz.gui.plots.frontier_plot import FrontierMarker, FrontierPlot
from quantviz.gui.plots.heatmap_plot import HeatmapPlot
from quantviz.gui.plots.histogram_plot import HistogramPlot, OverlaySpec
from quantviz.gui.plots.metric_heatmap import LEVELS_DB, MetricHeatmap
from quantviz.gui.plots.sqnr_chart import SqnrChart, SqnrSeries


def click_scene(qtbot, view, item_point):
    """Press and release the left button at a position given in ``item`` coordinates.

    The event loop runs first, because pyqtgraph updates view transforms lazily after a
    range or layout change.
    """
    qtbot.wait(50)
    item, point = item_point
    position = view.mapFromScene(item.mapToScene(point))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=position)


def test_heatmap_cells_centred(qtbot):
    plot = HeatmapPlot()
    plot.set_matrix([[1.0, 2.0], [3.0, 4.0]], shape=(100, 40))
    rect = plot.image.mapRectToParent(plot.image.boundingRect())
    assert rect.left() == pytest.approx(-0.5)
    assert rect.top() == pytest.approx(-0.5)
    assert rect.width() == pytest.approx(40)
    assert rect.height() == pytest.approx(100)
    assert plot.vb.yInverted()


def test_error_heatmaps_share_levels(qtbot):
    view = ErrorHeatmapsView()
    qtbot.addWidget(view)
    fp8 = Heatmap([[0.0, 2.0], [1.0, 0.5]], (8, 8), "output channel", "input channel", "max")
    int8 = Heatmap([[0.5, 1.0], [4.0, 0.0]], (8, 8), "output channel", "input channel", "max")
    view.set_heatmaps(fp8, int8, "FP8", "INT8")
    assert view.fp8.image.levels.tolist() == [0.0, 4.0]
    assert view.int8.image.levels.tolist() == [0.0, 4.0]
    assert np.allclose(view.difference.values, [[-0.5, 1.0], [-3.0, 0.5]])
    assert view.difference.image.levels.tolist() == [-3.0, 3.0]


def test_error_heatmaps_missing_int8(qtbot):
    view = ErrorHeatmapsView()
    qtbot.addWidget(view)
    fp8 = Heatmap([[1.0]], (1, 1), "out", "in", "max")
    view.set_heatmaps(fp8, None, "FP8", "INT8")
    assert view.int8.values.size == 0
    assert view.difference.values.size == 0


def test_sqnr_chart_click_selects(qtbot):
    chart = SqnrChart()
    qtbot.addWidget(chart)
    chart.resize(600, 300)
    chart.show()
    qtbot.waitExposed(chart)
    names = ["a.query", "a.key", "a.value"]
    chart.set_series(names, [SqnrSeries("W FP8", [31.0, 12.0, 40.0], FP8_COLOR)])
    spot = chart.scatters[0].points()[1]
    with qtbot.waitSignal(chart.layerClicked, timeout=2_000) as blocker:
        click_scene(qtbot, chart, (chart.scatters[0], spot.pos()))
    assert blocker.args == ["a.key"]


def test_metric_heatmap_click_selects(qtbot):
    heatmap = MetricHeatmap()
    qtbot.addWidget(heatmap)
    heatmap.resize(500, 400)
    heatmap.show()
    qtbot.waitExposed(heatmap)
    names = ["l0", "l1", "l2", "l3"]
    values = np.array([[10.0, 35.0], [25.0, 60.0], [np.nan, 5.0], [30.0, 31.0]])
    heatmap.set_matrix(names, ["W FP8", "W INT8"], values)
    assert np.nanmax(heatmap.plot.values) == LEVELS_DB[1]
    assert np.isnan(heatmap.plot.values[2, 0])
    with qtbot.waitSignal(heatmap.layerClicked, timeout=2_000) as blocker:
        click_scene(qtbot, heatmap, (heatmap.plot.vb.childGroup, QPointF(1.0, 2.0)))
    assert blocker.args == ["l2"]


def test_frontier_click_index(qtbot):
    plot = FrontierPlot()
    qtbot.addWidget(plot)
    plot.resize(500, 300)
    plot.show()
    qtbot.waitExposed(plot)
    markers = [FrontierMarker(30.0, 0.01, "b"), FrontierMarker(25.0, 0.05, "a")]
    plot.set_points(markers, "size (MB)", "loss", FrontierMarker(90.0, 0.0, "float"))
    spots = plot.scatter.points()
    assert [int(spot.data()) for spot in spots] == [1, 0]
    with qtbot.waitSignal(plot.pointClicked, timeout=2_000) as blocker:
        click_scene(qtbot, plot, (plot.scatter, spots[1].pos()))
    assert blocker.args == [0]


class CountingHistogram(HistogramPlot):
    """A histogram plot that counts its paint events."""

    def __init__(self):
        super().__init__([OverlaySpec("fp8_e4m3_tensor", "FP8", FP8_COLOR)])
        self.paints = 0

    def paintEvent(self, event):
        self.paints += 1
        super().paintEvent(event)


def test_new_histogram_painted_once(qtbot, bert_analysis):
    plot = CountingHistogram()
    qtbot.addWidget(plot)
    plot.resize(600, 260)
    plot.show()
    qtbot.waitExposed(plot)
    first, second = (report.weight for report in bert_analysis.layers[:2])
    plot.set_tensor(first, "weight")
    qtbot.wait(100)
    plot.paints = 0
    plot.set_tensor(second, "weight")
    qtbot.wait(100)
    # pyqtgraph applies a new range in its next paint, which then needs a second
    # paint; the plot applies it before painting.
    assert plot.paints == 1
    x_range, _ = plot.getPlotItem().viewRange()
    edges = second.histogram.edges
    assert x_range[0] < edges[0]
    assert x_range[1] > edges[-1]
