<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>ActivationHeatmapView</name>
    <message>
        <location filename="../plots/activation_heatmap_view.py" line="38"/>
        <source>input |x|</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>AnalysisSettingsDialog</name>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="36"/>
        <source>Calibration settings</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="40"/>
        <source>bundled English calibration text</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="41"/>
        <source>&amp;Browse…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="46"/>
        <location filename="../dialogs/settings_dialog.py" line="48"/>
        <location filename="../dialogs/settings_dialog.py" line="49"/>
        <source> sequences</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="47"/>
        <source> tokens</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="50"/>
        <source>skip sensitivity</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="55"/>
        <source>Run the &amp;analysis again with these settings</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="59"/>
        <source>Calibration &amp;text:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="62"/>
        <source>&amp;Samples:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="63"/>
        <source>Sequence &amp;length:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="64"/>
        <source>&amp;Batch size:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="65"/>
        <source>&amp;Observer:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="66"/>
        <source>Se&amp;nsitivity samples:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="122"/>
        <source>Calibration text</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/settings_dialog.py" line="122"/>
        <source>Text (*.txt *.jsonl);;All files (*)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>AutoPlanDialog</name>
    <message>
        <location filename="../dialogs/auto_plan_dialog.py" line="37"/>
        <source>Automatic plan</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/auto_plan_dialog.py" line="38"/>
        <source>Keep the &amp;loss below</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/auto_plan_dialog.py" line="39"/>
        <source>Reach an 8-bit &amp;share of</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/auto_plan_dialog.py" line="49"/>
        <source>(1 − cosine)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/auto_plan_dialog.py" line="49"/>
        <source>(KL, nats)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/auto_plan_dialog.py" line="54"/>
        <source>Allow FP8 E4M3 where it beats INT8</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/auto_plan_dialog.py" line="56"/>
        <source>Try SmoothQuant</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/auto_plan_dialog.py" line="77"/>
        <source>Plans to &amp;evaluate at most:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/auto_plan_dialog.py" line="78"/>
        <source>Evaluation &amp;samples:</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ChannelAbsmaxPlot</name>
    <message>
        <location filename="../plots/channel_plot.py" line="30"/>
        <source>max |x|</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../plots/channel_plot.py" line="31"/>
        <source>input channel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../plots/channel_plot.py" line="75"/>
        <source>outlier threshold %1</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ErrorBox</name>
    <message>
        <location filename="../error_box.py" line="21"/>
        <source>Unexpected error (%1): %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../error_box.py" line="37"/>
        <source>quantviz error</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ErrorHeatmapsView</name>
    <message>
        <location filename="../plots/error_heatmaps_view.py" line="75"/>
        <source>FP8 − INT8 error</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ExportDialog</name>
    <message>
        <location filename="../dialogs/export_dialog.py" line="49"/>
        <source>Export to ONNX</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="59"/>
        <source>&amp;Browse…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="66"/>
        <source>lowest that fits the formats</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="69"/>
        <source>&amp;Check parity in ONNX Runtime</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="83"/>
        <source>&amp;File:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="86"/>
        <source>&amp;Opset:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="88"/>
        <source>Held-out sequences for the check:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="90"/>
        <source>Held-out texts for the benchmark:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="97"/>
        <source>&amp;Export</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="100"/>
        <source>&amp;Cancel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="102"/>
        <source>Close</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="119"/>
        <source>Export to</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="119"/>
        <source>ONNX models (*.onnx)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="137"/>
        <source>Choose a file to export to.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="142"/>
        <source>Could not start: another job is running.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="209"/>
        <source>Parity with PyTorch in ONNX Runtime: %1 (outputs with identical layer inputs: worst SQNR %2 dB; free-running: %3 dB; flipped codes %4 %)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="228"/>
        <source>%1 ms/batch on %2 threads</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="239"/>
        <source>(FP8 simulated: latency not meaningful)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="139"/>
        <source>Exporting…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="74"/>
        <source>&amp;Benchmark against float32</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="80"/>
        <source>Also measure ONNX Runtime&apos;s dynamic quantization</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="176"/>
        <source>Export failed: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="186"/>
        <source>Wrote %1 (%2 MB, opset %3, %4 quantized layers)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="205"/>
        <source>passed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="205"/>
        <source>FAILED</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="220"/>
        <source>first divergent layer: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/export_dialog.py" line="200"/>
        <source>Report saved to %1</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>HistogramPlot</name>
    <message>
        <location filename="../plots/histogram_plot.py" line="100"/>
        <source>count</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../plots/histogram_plot.py" line="101"/>
        <source>value</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../plots/histogram_plot.py" line="135"/>
        <source>float</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>LayerDetailPanel</name>
    <message>
        <location filename="../layer_detail.py" line="52"/>
        <source>tensor</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="53"/>
        <source>format</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="54"/>
        <source>SQNR dB</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="55"/>
        <source>MSE</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="56"/>
        <source>cosine</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="57"/>
        <source>max |err|</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="58"/>
        <source>clipped</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="59"/>
        <source>underflow</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="60"/>
        <source>scale</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="100"/>
        <source>FP8 E4M3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="104"/>
        <source>INT8/ch (clip range)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="105"/>
        <location filename="../layer_detail.py" line="113"/>
        <source>trained</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="112"/>
        <source>INT8</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="123"/>
        <source>&amp;Distributions</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="138"/>
        <source>&amp;Heatmaps</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="155"/>
        <source>&amp;Numbers</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="188"/>
        <location filename="../layer_detail.py" line="254"/>
        <source>weight</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="189"/>
        <source>input activation</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="192"/>
        <source>input channel max |x|</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="202"/>
        <source>No layer selected</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="208"/>
        <source>parameters</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="210"/>
        <source>Recommendation: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="213"/>
        <source>Sensitivity (%1): weights %2, inputs %3, both %4</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="223"/>
        <source>Not analysed yet.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="228"/>
        <location filename="../layer_detail.py" line="229"/>
        <source>trained scale</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="236"/>
        <source>Full-size error maps from the model&apos;s weight.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="242"/>
        <source>Analysis maps; computing full-size maps…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="247"/>
        <source>FP8 E4M3 |W − Q(W)|</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="247"/>
        <source>INT8/ch |W − Q(W)|</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="255"/>
        <source>input</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="293"/>
        <source>Input: kurtosis %1, channel max/median %2×, %3 values ≥ %4, top channels %5</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_detail.py" line="309"/>
        <source>Top tokens: %1</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>LayerTableModel</name>
    <message>
        <location filename="../layer_table.py" line="71"/>
        <source>Layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="72"/>
        <source>Module path</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="76"/>
        <source>Kind</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="77"/>
        <source>Layer type</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="81"/>
        <source>Shape</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="82"/>
        <source>Shape of the stored weight</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="86"/>
        <source>Params</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="87"/>
        <source>Weight and bias parameters</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="92"/>
        <source>W precision</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="93"/>
        <source>Weight format in the plan (click to change)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="98"/>
        <source>A precision</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="99"/>
        <source>Input activation format in the plan (click to change)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="106"/>
        <source>W FP8</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="107"/>
        <source>Weight SQNR in dB, FP8 E4M3 per tensor</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="112"/>
        <source>W INT8/ch</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="113"/>
        <source>Weight SQNR in dB, INT8 symmetric per channel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="118"/>
        <source>A FP8</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="119"/>
        <source>Input SQNR in dB, FP8 E4M3 per tensor (calibrated)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="124"/>
        <source>A INT8</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="125"/>
        <source>Input SQNR in dB, INT8 per tensor (calibrated)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="130"/>
        <source>Outliers</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="131"/>
        <source>Largest input channel absolute max over the median channel&apos;s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="138"/>
        <source>Sensitivity</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="139"/>
        <source>Model output loss when only this layer is INT8 (weights and inputs)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="146"/>
        <source>Recommendation</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="147"/>
        <source>Suggested format; hover for the reason</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="153"/>
        <source>float</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="154"/>
        <source>FP8 E4M3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="155"/>
        <source>INT8</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../layer_table.py" line="307"/>
        <source>%1: weights %2, inputs %3, both %4</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../main_window.py" line="73"/>
        <source>quantviz</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="106"/>
        <source>Filter layers: text or glob, e.g. *.mlp.* (Ctrl+F)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="111"/>
        <location filename="../main_window.py" line="235"/>
        <source>All kinds</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="112"/>
        <source>&amp;Filter:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="137"/>
        <source>Layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="141"/>
        <source>Plan summary</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="146"/>
        <source>Model</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="164"/>
        <source>Cancel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="166"/>
        <source>Stop the running job at its next step (Esc)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="225"/>
        <source>Select one or more layers first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="252"/>
        <source>no model</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="285"/>
        <source>Cancelling “%1”…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="304"/>
        <source>Restore the last session?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="307"/>
        <source>quantviz did not exit cleanly last time. Restore the session autosaved in %1?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="376"/>
        <source>Nothing to save: open a model first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="385"/>
        <source>Session saved to %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="392"/>
        <source>Save session</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="394"/>
        <source>quantviz sessions (*%1)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="411"/>
        <source>Open session</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="435"/>
        <source>Open plan</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="438"/>
        <source>Open a model before its plan.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="443"/>
        <source>The plan names parts this model lacks: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="447"/>
        <source>Open plan %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="458"/>
        <source>Plan saved to %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../main_window.py" line="506"/>
        <source>Stopping the running jobs…</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ModelOverview</name>
    <message>
        <location filename="../model_overview.py" line="26"/>
        <location filename="../model_overview.py" line="109"/>
        <source>W FP8 E4M3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="27"/>
        <source>W FP8 E5M2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="28"/>
        <source>W INT8</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="29"/>
        <location filename="../model_overview.py" line="112"/>
        <source>W INT8/ch</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="30"/>
        <location filename="../model_overview.py" line="117"/>
        <source>A FP8 E4M3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="31"/>
        <location filename="../model_overview.py" line="124"/>
        <source>A INT8</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="69"/>
        <location filename="../model_overview.py" line="141"/>
        <source>Run the automatic plan to see the frontier.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="71"/>
        <source>Run automatic plan</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="82"/>
        <source>SQNR per layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="83"/>
        <source>Layer × metric</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="84"/>
        <source>Accuracy vs size</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="153"/>
        <source>%1
%2 % of layers 8-bit, loss %3, %4 MB</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="166"/>
        <source>float32 model</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="169"/>
        <source>loss (1 − cosine)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="169"/>
        <source>KL (nats)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="170"/>
        <source>size (MB)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="172"/>
        <source>meets the target</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="172"/>
        <source>misses the target</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../model_overview.py" line="175"/>
        <source>%1 plans evaluated; the ringed plan is applied (%2). Click a point to apply it.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>OpenModelDialog</name>
    <message>
        <location filename="../dialogs/open_model_dialog.py" line="36"/>
        <source>Open model</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/open_model_dialog.py" line="40"/>
        <source>model folder, .gguf or .safetensors file, org/name hub id, or sample:minilm</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/open_model_dialog.py" line="42"/>
        <source>&amp;Model:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/open_model_dialog.py" line="44"/>
        <source>F&amp;older…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/open_model_dialog.py" line="46"/>
        <source>F&amp;ile…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/open_model_dialog.py" line="57"/>
        <source>%1 (bundled sample)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/open_model_dialog.py" line="68"/>
        <source>&amp;Samples and recent models:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/open_model_dialog.py" line="93"/>
        <source>Model folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/open_model_dialog.py" line="100"/>
        <source>Model file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/open_model_dialog.py" line="102"/>
        <source>Model files (%1)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Precision</name>
    <message>
        <location filename="../precision.py" line="42"/>
        <location filename="../precision.py" line="64"/>
        <source>Float</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../precision.py" line="43"/>
        <location filename="../precision.py" line="65"/>
        <source>FP8 E4M3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../precision.py" line="46"/>
        <source>FP8 E4M3 per channel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../precision.py" line="49"/>
        <location filename="../precision.py" line="66"/>
        <source>FP8 E5M2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../precision.py" line="52"/>
        <source>INT8 per channel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../precision.py" line="56"/>
        <source>INT8 per tensor</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../precision.py" line="59"/>
        <location filename="../precision.py" line="69"/>
        <source>UINT8 asymmetric</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../precision.py" line="67"/>
        <source>INT8</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Project</name>
    <message>
        <location filename="../project.py" line="173"/>
        <source>weights</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../project.py" line="173"/>
        <source>inputs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../project.py" line="175"/>
        <source>Set %1 of %2 to %3</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <location filename="../project.py" line="178"/>
        <source>Set %1 of %n layers to %2</source>
        <translation type="unfinished">
            <numerusform></numerusform>
        </translation>
    </message>
    <message>
        <location filename="../project.py" line="204"/>
        <source>Apply rule %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../project.py" line="236"/>
        <source>Apply recommendations</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>QATDialog</name>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="60"/>
        <source>Quantization-aware training</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="73"/>
        <source>only at start and end</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="76"/>
        <source>Learn the &amp;scales (LSQ)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="83"/>
        <source>optional: folder for the fine-tuned model</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="84"/>
        <source>&amp;Browse…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="90"/>
        <source>S&amp;teps:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="91"/>
        <source>&amp;Learning rate:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="92"/>
        <source>Scale learning rate (relative):</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="93"/>
        <source>Batch si&amp;ze:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="94"/>
        <source>Se&amp;quence length:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="95"/>
        <source>&amp;Distillation:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="96"/>
        <source>E&amp;valuate every:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="97"/>
        <source>Evaluation sa&amp;mples:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="98"/>
        <source>Calibration samp&amp;les:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="100"/>
        <source>&amp;Output folder:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="104"/>
        <source>&amp;Start</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="106"/>
        <location filename="../dialogs/qat_dialog.py" line="239"/>
        <source>&amp;Pause</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="109"/>
        <source>&amp;Cancel run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="111"/>
        <source>Close</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="131"/>
        <source>layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="131"/>
        <source>W SQNR before</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="131"/>
        <source>after</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="131"/>
        <source>change</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="176"/>
        <source>Output folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="217"/>
        <source>Could not start: another job is running.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="221"/>
        <source>Preparing: applying the plan and measuring the start…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="235"/>
        <source>&amp;Resume</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="236"/>
        <source>Pausing before the next step…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="244"/>
        <source>Stopping at the next step…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="256"/>
        <source>Paused after step %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="269"/>
        <source>Step %1 of %2, %3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="272"/>
        <source>, about %1 s left</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="292"/>
        <source>%1: float %2, before QAT %3, after %4 (%5 steps, %6 s)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/qat_dialog.py" line="303"/>
        <source>(stopped early)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>RuleDialog</name>
    <message>
        <location filename="../dialogs/rule_dialog.py" line="42"/>
        <source>Apply rule by pattern</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/rule_dialog.py" line="53"/>
        <source>&amp;Pattern:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/rule_dialog.py" line="54"/>
        <source>&amp;Weights:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/rule_dialog.py" line="55"/>
        <source>&amp;Inputs:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../dialogs/rule_dialog.py" line="72"/>
        <source>(unchanged)</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <location filename="../dialogs/rule_dialog.py" line="85"/>
        <source>Matches %n layer(s)</source>
        <translation type="unfinished">
            <numerusform></numerusform>
        </translation>
    </message>
    <message>
        <location filename="../dialogs/rule_dialog.py" line="102"/>
        <source>Give a pattern and at least one format.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SqnrChart</name>
    <message>
        <location filename="../plots/sqnr_chart.py" line="42"/>
        <source>SQNR (dB)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../plots/sqnr_chart.py" line="43"/>
        <source>layer index</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SummaryPanel</name>
    <message>
        <location filename="../summary_panel.py" line="64"/>
        <source>&amp;Evaluate plan</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="70"/>
        <source>format</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="70"/>
        <source>weights</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="70"/>
        <source>inputs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="78"/>
        <source>Size:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="79"/>
        <source>Estimated cost:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="80"/>
        <source>Evaluation:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="121"/>
        <source>%1 (float32 %2, %3 %)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="149"/>
        <source>needs the sensitivity analysis</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="153"/>
        <source>%1 (%2, sum over the quantized layers of their own cost)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="181"/>
        <source>not run (press Evaluate)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="185"/>
        <source>(for an earlier plan)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="192"/>
        <source>perplexity %1 → %2 (%3 %), KL %4 nats</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="200"/>
        <source>embedding cosine vs float: mean %1, min %2 (loss %3)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../summary_panel.py" line="205"/>
        <source>(the quantized model produced NaN)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>TrainingCurves</name>
    <message>
        <location filename="../plots/training_curves.py" line="28"/>
        <source>loss</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../plots/training_curves.py" line="31"/>
        <source>step</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>WindowActions</name>
    <message>
        <location filename="../window_actions.py" line="73"/>
        <source>&amp;File</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="75"/>
        <source>&amp;Open model…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="80"/>
        <source>Open a model folder, .gguf file, hub id or sample</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="83"/>
        <source>Open &amp;sample</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="89"/>
        <source>&amp;Recent models</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="93"/>
        <source>Open &amp;session…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="100"/>
        <source>&amp;Save session</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="106"/>
        <source>Save session &amp;as…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="111"/>
        <source>Open &amp;plan…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="112"/>
        <source>Save plan as…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="116"/>
        <source>&amp;Quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="135"/>
        <source>&amp;Edit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="137"/>
        <source>&amp;Undo</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="140"/>
        <source>&amp;Redo</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="150"/>
        <source>&amp;Filter layers</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="153"/>
        <source>Select &amp;all layers</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="192"/>
        <source>&amp;Plan</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="194"/>
        <source>&amp;Weights of selection</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="197"/>
        <source>&amp;Inputs of selection</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="203"/>
        <source>Apply &amp;rule by pattern…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="209"/>
        <source>Apply re&amp;commendations</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="213"/>
        <source>Give every layer the analysis&apos; recommended format</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="216"/>
        <source>Apply recommendations to selection</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="220"/>
        <source>&amp;Automatic plan…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="225"/>
        <source>Search mixed-precision plans for the best accuracy at each size</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="227"/>
        <location filename="../window_actions.py" line="262"/>
        <source>Reset plan to float</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="229"/>
        <source>&amp;Evaluate plan</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="234"/>
        <source>Compare the plan with the float model on held-out text</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="251"/>
        <source>No change: run the analysis first, or the plan already follows the recommendations.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="266"/>
        <source>&amp;Analysis</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="268"/>
        <source>Calibration &amp;settings…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="274"/>
        <source>&amp;Run analysis again</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="279"/>
        <source>&amp;Cancel job</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="284"/>
        <source>&amp;Tools</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="286"/>
        <source>&amp;Quantization-aware training…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="293"/>
        <source>E&amp;xport to ONNX…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="304"/>
        <source>&amp;View</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="309"/>
        <source>&amp;Help</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="310"/>
        <source>&amp;Keyboard shortcuts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="311"/>
        <source>&amp;About quantviz</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="314"/>
        <source>Main</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="362"/>
        <source>Open session</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="362"/>
        <source>quantviz sessions (*.qvsession)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="369"/>
        <source>Open plan</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="369"/>
        <location filename="../window_actions.py" line="376"/>
        <source>Plans (*.json)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="376"/>
        <source>Save plan</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="406"/>
        <source>Automatic plan</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="418"/>
        <source>QAT</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="431"/>
        <source>ONNX export</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="445"/>
        <source>Ctrl+1 / Ctrl+2 / Ctrl+3 / Ctrl+0: weights of the selected layers to FP8 E4M3 / INT8 per channel / FP8 E5M2 / float</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="448"/>
        <source>Ctrl+Shift+1 / 2 / 3 / 0: inputs of the selected layers likewise</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="449"/>
        <source>Click or F2 on a precision cell: choose its format</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="450"/>
        <source>Ctrl+R: rule by name pattern; Ctrl+Shift+R: apply recommendations</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="451"/>
        <source>F5: evaluate the plan; Esc: cancel the running job</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="452"/>
        <source>Ctrl+Z / Ctrl+Shift+Z: undo / redo; Ctrl+F: filter layers</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="456"/>
        <source>Keyboard shortcuts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="468"/>
        <source>quantviz %1: see what FP8 and INT8 quantization does to each layer of a transformer.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../window_actions.py" line="472"/>
        <source>About quantviz</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Workflow</name>
    <message>
        <location filename="../workflow.py" line="99"/>
        <source>Wait for “%1” to finish, or cancel it first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="111"/>
        <source>%1: cancelled</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="119"/>
        <source>Open a model first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="136"/>
        <source>Loading %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="156"/>
        <source>The plan names parts this model lacks: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="164"/>
        <source>Loaded %1 (%2 layers) in %3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="192"/>
        <source>Analysing %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="198"/>
        <source>Reading analysis %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="206"/>
        <source>The saved analysis is of other weights; analysing again.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="218"/>
        <source>Analysis of %1 layers ready (%2)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="236"/>
        <source>Evaluating the plan</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="241"/>
        <source>Evaluation done (%1)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="254"/>
        <source>%1 is not available in this installation (%2 could not be imported: %3).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="275"/>
        <source>QAT</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="286"/>
        <source>Quantization-aware training</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="293"/>
        <source>Use the scales learned by QAT</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="295"/>
        <source>stopped early</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="295"/>
        <source>done</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="297"/>
        <source>QAT %1 after %2 steps (%3)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="314"/>
        <source>ONNX export</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="325"/>
        <source>Exporting to ONNX</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="331"/>
        <source>Exported %1 (%2)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="344"/>
        <source>The automatic plan</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="348"/>
        <source>The automatic plan needs the analysis; wait for it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="356"/>
        <source>Searching plans</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="360"/>
        <source>Automatic plan</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="363"/>
        <source>Automatic plan: %1 candidates evaluated (%2)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../workflow.py" line="383"/>
        <source>Frontier plan: %1</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
