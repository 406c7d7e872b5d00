<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>ActivationHeatmapView</name>
    <message>
        <location filename="../../gui/plots/activation_heatmap_view.py" line="38"/>
        <source>input |x|</source>
        <translation>输入 |x|</translation>
    </message>
</context>
<context>
    <name>AnalysisSettingsDialog</name>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="31"/>
        <source>min/max</source>
        <translation>最小/最大值</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="32"/>
        <source>moving average of min/max</source>
        <translation>最小/最大值的滑动平均</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="33"/>
        <source>percentile clipping</source>
        <translation>百分位截断</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="34"/>
        <source>clipping with minimal MSE</source>
        <translation>MSE 最小的截断</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="35"/>
        <source>entropy (minimal KL)</source>
        <translation>熵（KL 最小）</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="48"/>
        <source>Calibration settings</source>
        <translation>校准设置</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="52"/>
        <source>bundled English calibration text</source>
        <translation>内置英文校准文本</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="53"/>
        <source>&amp;Browse…</source>
        <translation>浏览(&amp;B)…</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="58"/>
        <location filename="../../gui/dialogs/settings_dialog.py" line="60"/>
        <location filename="../../gui/dialogs/settings_dialog.py" line="61"/>
        <source> sequences</source>
        <translation> 条序列</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="59"/>
        <source> tokens</source>
        <translation> 个 token</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="62"/>
        <source>skip sensitivity</source>
        <translation>跳过敏感度分析</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="68"/>
        <source>Run the &amp;analysis again with these settings</source>
        <translation>使用这些设置重新运行分析(&amp;A)</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="72"/>
        <source>Calibration &amp;text:</source>
        <translation>校准文本(&amp;T)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="75"/>
        <source>&amp;Samples:</source>
        <translation>样本数(&amp;S)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="76"/>
        <source>Sequence &amp;length:</source>
        <translation>序列长度(&amp;L)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="77"/>
        <source>&amp;Batch size:</source>
        <translation>批大小(&amp;B)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="78"/>
        <source>&amp;Observer:</source>
        <translation>观察器(&amp;O)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="79"/>
        <source>Se&amp;nsitivity samples:</source>
        <translation>敏感度样本数(&amp;N)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="135"/>
        <source>Calibration text</source>
        <translation>校准文本</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/settings_dialog.py" line="135"/>
        <source>Text (*.txt *.jsonl);;All files (*)</source>
        <translation>文本 (*.txt *.jsonl);;所有文件 (*)</translation>
    </message>
</context>
<context>
    <name>AutoPlanDialog</name>
    <message>
        <location filename="../../gui/dialogs/auto_plan_dialog.py" line="37"/>
        <source>Automatic plan</source>
        <translation>自动方案</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/auto_plan_dialog.py" line="38"/>
        <source>Keep the &amp;loss below</source>
        <translation>损失保持低于(&amp;L)</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/auto_plan_dialog.py" line="39"/>
        <source>Reach an 8-bit &amp;share of</source>
        <translation>8 位层占比达到(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/auto_plan_dialog.py" line="49"/>
        <source>(1 − cosine)</source>
        <translation>（1 − 余弦）</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/auto_plan_dialog.py" line="49"/>
        <source>(KL, nats)</source>
        <translation>（KL，nats）</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/auto_plan_dialog.py" line="54"/>
        <source>Allow FP8 E4M3 where it beats INT8</source>
        <translation>在 FP8 E4M3 优于 INT8 的层上使用 FP8 E4M3</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/auto_plan_dialog.py" line="56"/>
        <source>Try SmoothQuant</source>
        <translation>尝试 SmoothQuant</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/auto_plan_dialog.py" line="77"/>
        <source>Plans to &amp;evaluate at most:</source>
        <translation>最多评估的方案数(&amp;E)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/auto_plan_dialog.py" line="78"/>
        <source>Evaluation &amp;samples:</source>
        <translation>评估样本数(&amp;S)：</translation>
    </message>
</context>
<context>
    <name>ChannelAbsmaxPlot</name>
    <message>
        <location filename="../../gui/plots/channel_plot.py" line="31"/>
        <source>max |x|</source>
        <translation>最大 |x|</translation>
    </message>
    <message>
        <location filename="../../gui/plots/channel_plot.py" line="33"/>
        <source>input channel</source>
        <translation>输入通道</translation>
    </message>
    <message>
        <location filename="../../gui/plots/channel_plot.py" line="77"/>
        <source>outlier threshold %1</source>
        <translation>离群阈值 %1</translation>
    </message>
    <message>
        <location filename="../../gui/plots/channel_plot.py" line="91"/>
        <source>channel %1: %2</source>
        <translation>通道 %1：%2</translation>
    </message>
</context>
<context>
    <name>ErrorBox</name>
    <message>
        <location filename="../../gui/error_box.py" line="21"/>
        <source>Unexpected error (%1): %2</source>
        <translation>意外错误（%1）：%2</translation>
    </message>
    <message>
        <location filename="../../gui/error_box.py" line="37"/>
        <source>quantviz error</source>
        <translation>quantviz 错误</translation>
    </message>
</context>
<context>
    <name>ErrorHeatmapsView</name>
    <message>
        <location filename="../../gui/plots/error_heatmaps_view.py" line="85"/>
        <source>FP8 − INT8 error</source>
        <translation>FP8 − INT8 误差</translation>
    </message>
</context>
<context>
    <name>ExportDialog</name>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="51"/>
        <source>Export to ONNX</source>
        <translation>导出为 ONNX</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="61"/>
        <source>&amp;Browse…</source>
        <translation>浏览(&amp;B)…</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="68"/>
        <source>lowest that fits the formats</source>
        <translation>支持所用格式的最低版本</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="71"/>
        <source>&amp;Check parity in ONNX Runtime</source>
        <translation>在 ONNX Runtime 中检查一致性(&amp;C)</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="85"/>
        <source>&amp;File:</source>
        <translation>文件(&amp;F)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="88"/>
        <source>&amp;Opset:</source>
        <translation>Opset(&amp;O)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="90"/>
        <source>Held-out sequences for the check:</source>
        <translation>一致性检查用的留出序列数：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="92"/>
        <source>Held-out texts for the benchmark:</source>
        <translation>基准测试用的留出文本数：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="99"/>
        <source>&amp;Export</source>
        <translation>导出(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="102"/>
        <source>&amp;Cancel</source>
        <translation>取消(&amp;C)</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="104"/>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="121"/>
        <source>Export to</source>
        <translation>导出到</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="121"/>
        <source>ONNX models (*.onnx)</source>
        <translation>ONNX 模型 (*.onnx)</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="139"/>
        <source>Choose a file to export to.</source>
        <translation>请选择要导出到的文件。</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="144"/>
        <source>Could not start: another job is running.</source>
        <translation>无法开始：另一个任务正在运行。</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="212"/>
        <source>Parity with PyTorch in ONNX Runtime: %1 (outputs with identical layer inputs: worst SQNR %2 dB; free-running: %3 dB; flipped codes %4 %)</source>
        <translation>ONNX Runtime 与 PyTorch 的一致性：%1（各层输入相同时的输出：最差 SQNR %2 dB；自由运行：%3 dB；量化码翻转 %4 %）</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="231"/>
        <source>%1 ms/batch on %2 threads</source>
        <translation>%2 线程 %1 ms/批</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="242"/>
        <source>(FP8 simulated: latency not meaningful)</source>
        <translation>（FP8 为模拟执行，延迟无参考意义）</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="244"/>
        <source>%1: %2 MB, %3; %4</source>
        <translation>%1：%2 MB，%3；%4</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="141"/>
        <source>Exporting…</source>
        <translation>正在导出…</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="76"/>
        <source>&amp;Benchmark against float32</source>
        <translation>与 float32 对比进行基准测试(&amp;B)</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="82"/>
        <source>Also measure ONNX Runtime&apos;s dynamic quantization</source>
        <translation>同时测量 ONNX Runtime 的动态量化</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="179"/>
        <source>Export failed: %1</source>
        <translation>导出失败：%1</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="189"/>
        <source>Wrote %1 (%2 MB, opset %3, %4 quantized layers)</source>
        <translation>已写入 %1（%2 MB，opset %3，%4 个量化层）</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="208"/>
        <source>passed</source>
        <translation>通过</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="208"/>
        <source>FAILED</source>
        <translation>失败</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="223"/>
        <source>first divergent layer: %1</source>
        <translation>首个出现偏差的层：%1</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/export_dialog.py" line="203"/>
        <source>Report saved to %1</source>
        <translation>报告已保存到 %1</translation>
    </message>
</context>
<context>
    <name>HeatmapPlot</name>
    <message>
        <location filename="../../gui/plots/heatmap_plot.py" line="16"/>
        <source>output channel</source>
        <translation>输出通道</translation>
    </message>
    <message>
        <location filename="../../gui/plots/heatmap_plot.py" line="17"/>
        <source>input channel</source>
        <translation>输入通道</translation>
    </message>
    <message>
        <location filename="../../gui/plots/heatmap_plot.py" line="18"/>
        <source>token</source>
        <translation>token</translation>
    </message>
    <message>
        <location filename="../../gui/plots/heatmap_plot.py" line="19"/>
        <source>channel</source>
        <translation>通道</translation>
    </message>
</context>
<context>
    <name>HistogramPlot</name>
    <message>
        <location filename="../../gui/plots/histogram_plot.py" line="101"/>
        <source>count</source>
        <translation>计数</translation>
    </message>
    <message>
        <location filename="../../gui/plots/histogram_plot.py" line="103"/>
        <source>value</source>
        <translation>数值</translation>
    </message>
    <message>
        <location filename="../../gui/plots/histogram_plot.py" line="137"/>
        <source>float</source>
        <translation>浮点</translation>
    </message>
</context>
<context>
    <name>LayerDetailPanel</name>
    <message>
        <location filename="../../gui/layer_detail.py" line="55"/>
        <source>tensor</source>
        <translation>张量</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="56"/>
        <source>format</source>
        <translation>格式</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="57"/>
        <source>SQNR dB</source>
        <translation>SQNR dB</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="58"/>
        <source>MSE</source>
        <translation>MSE</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="59"/>
        <source>cosine</source>
        <translation>余弦</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="60"/>
        <source>max |err|</source>
        <translation>最大 |误差|</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="61"/>
        <source>clipped</source>
        <translation>截断比例</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="62"/>
        <source>underflow</source>
        <translation>下溢比例</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="63"/>
        <source>scale</source>
        <translation>缩放因子</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="48"/>
        <location filename="../../gui/layer_detail.py" line="110"/>
        <source>FP8 E4M3</source>
        <translation>FP8 E4M3</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="114"/>
        <source>INT8/ch (clip range)</source>
        <translation>INT8/ch（截断范围）</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="115"/>
        <location filename="../../gui/layer_detail.py" line="123"/>
        <source>trained</source>
        <translation>训练后</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="50"/>
        <location filename="../../gui/layer_detail.py" line="122"/>
        <source>INT8</source>
        <translation>INT8</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="49"/>
        <source>FP8 E5M2</source>
        <translation>FP8 E5M2</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="51"/>
        <source>INT8/ch</source>
        <translation>INT8/ch</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="52"/>
        <source>UINT8 asym</source>
        <translation>UINT8 非对称</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="133"/>
        <source>&amp;Distributions</source>
        <translation>分布(&amp;D)</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="148"/>
        <source>&amp;Heatmaps</source>
        <translation>热力图(&amp;H)</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="165"/>
        <source>&amp;Numbers</source>
        <translation>数值(&amp;N)</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="213"/>
        <location filename="../../gui/layer_detail.py" line="301"/>
        <source>weight</source>
        <translation>权重</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="221"/>
        <source>input activation</source>
        <translation>输入激活</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="225"/>
        <source>input channel max |x|</source>
        <translation>输入通道最大 |x|</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="240"/>
        <source>No layer selected</source>
        <translation>未选择层</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="247"/>
        <source>%1, %2, %3 parameters</source>
        <translation>%1，%2，%3 个参数</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="253"/>
        <source>Recommendation: %1</source>
        <translation>推荐：%1</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="256"/>
        <source>Sensitivity (%1): weights %2, inputs %3, both %4</source>
        <translation>敏感度（%1）：权重 %2，输入 %3，两者 %4</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="266"/>
        <source>Not analysed yet.</source>
        <translation>尚未分析。</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="215"/>
        <location filename="../../gui/layer_detail.py" line="223"/>
        <location filename="../../gui/layer_detail.py" line="271"/>
        <location filename="../../gui/layer_detail.py" line="272"/>
        <source>trained scale</source>
        <translation>训练后的缩放因子</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="283"/>
        <source>Full-size error maps from the model&apos;s weight.</source>
        <translation>基于模型权重的全尺寸误差图。</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="289"/>
        <source>Analysis maps; computing full-size maps…</source>
        <translation>分析结果中的误差图；正在计算全尺寸误差图…</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="294"/>
        <source>FP8 E4M3 |W − Q(W)|</source>
        <translation>FP8 E4M3 |W − Q(W)|</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="294"/>
        <source>INT8/ch |W − Q(W)|</source>
        <translation>INT8/ch |W − Q(W)|</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="302"/>
        <source>input</source>
        <translation>输入</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="340"/>
        <source>Input: kurtosis %1, channel max/median %2×, %3 values ≥ %4, top channels %5</source>
        <translation>输入：峰度 %1，通道最大值/中位数 %2×，%3 个值 ≥ %4，幅值最大的通道 %5</translation>
    </message>
    <message>
        <location filename="../../gui/layer_detail.py" line="356"/>
        <source>Top tokens: %1</source>
        <translation>幅值最大的 token：%1</translation>
    </message>
</context>
<context>
    <name>LayerTableModel</name>
    <message>
        <location filename="../../gui/layer_table.py" line="71"/>
        <source>Layer</source>
        <translation>层</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="72"/>
        <source>Module path</source>
        <translation>模块路径</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="76"/>
        <source>Kind</source>
        <translation>类型</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="77"/>
        <source>Layer type</source>
        <translation>层类型</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="81"/>
        <source>Shape</source>
        <translation>形状</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="82"/>
        <source>Shape of the stored weight</source>
        <translation>存储的权重形状</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="86"/>
        <source>Params</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="87"/>
        <source>Weight and bias parameters</source>
        <translation>权重和偏置的参数量</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="92"/>
        <source>W precision</source>
        <translation>W 精度</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="93"/>
        <source>Weight format in the plan (click to change)</source>
        <translation>方案中的权重格式（点击修改）</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="98"/>
        <source>A precision</source>
        <translation>A 精度</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="99"/>
        <source>Input activation format in the plan (click to change)</source>
        <translation>方案中的输入激活格式（点击修改）</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="106"/>
        <source>W FP8</source>
        <translation>W FP8</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="107"/>
        <source>Weight SQNR in dB, FP8 E4M3 per tensor</source>
        <translation>权重 SQNR（dB），FP8 E4M3 逐张量</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="112"/>
        <source>W INT8/ch</source>
        <translation>W INT8/ch</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="113"/>
        <source>Weight SQNR in dB, INT8 symmetric per channel</source>
        <translation>权重 SQNR（dB），INT8 对称逐通道</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="118"/>
        <source>A FP8</source>
        <translation>A FP8</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="119"/>
        <source>Input SQNR in dB, FP8 E4M3 per tensor (calibrated)</source>
        <translation>输入 SQNR（dB），FP8 E4M3 逐张量（已校准）</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="124"/>
        <source>A INT8</source>
        <translation>A INT8</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="125"/>
        <source>Input SQNR in dB, INT8 per tensor (calibrated)</source>
        <translation>输入 SQNR（dB），INT8 逐张量（已校准）</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="130"/>
        <source>Outliers</source>
        <translation>离群值</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="131"/>
        <source>Largest input channel absolute max over the median channel&apos;s</source>
        <translation>各输入通道绝对值最大值中，最大者与中位数之比</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="138"/>
        <source>Sensitivity</source>
        <translation>敏感度</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="139"/>
        <source>Model output loss when only this layer is INT8 (weights and inputs)</source>
        <translation>仅此层（权重和输入）量化为 INT8 时的模型输出损失</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="146"/>
        <source>Recommendation</source>
        <translation>推荐</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="147"/>
        <source>Suggested format; hover for the reason</source>
        <translation>推荐的格式；悬停可查看原因</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="153"/>
        <source>float</source>
        <translation>浮点</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="154"/>
        <source>FP8 E4M3</source>
        <translation>FP8 E4M3</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="155"/>
        <source>INT8</source>
        <translation>INT8</translation>
    </message>
    <message>
        <location filename="../../gui/layer_table.py" line="328"/>
        <source>%1: weights %2, inputs %3, both %4</source>
        <translation>%1：权重 %2，输入 %3，两者 %4</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../gui/main_window.py" line="74"/>
        <source>quantviz</source>
        <translation>quantviz</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="107"/>
        <source>Filter layers: text or glob, e.g. *.mlp.* (Ctrl+F)</source>
        <translation>筛选层：文本或通配符，例如 *.mlp.*（Ctrl+F）</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="112"/>
        <location filename="../../gui/main_window.py" line="236"/>
        <source>All kinds</source>
        <translation>所有类型</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="113"/>
        <source>&amp;Filter:</source>
        <translation>筛选(&amp;F)：</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="138"/>
        <source>Layer</source>
        <translation>层</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="142"/>
        <source>Plan summary</source>
        <translation>方案摘要</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="147"/>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="165"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="167"/>
        <source>Stop the running job at its next step (Esc)</source>
        <translation>在下一步停止正在运行的任务（Esc）</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="226"/>
        <source>Select one or more layers first.</source>
        <translation>请先选择一个或多个层。</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="253"/>
        <source>no model</source>
        <translation>无模型</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="290"/>
        <source>Cancelling “%1”…</source>
        <translation>正在取消“%1”…</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="309"/>
        <source>Restore the last session?</source>
        <translation>恢复上次的会话？</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="312"/>
        <source>quantviz did not exit cleanly last time. Restore the session autosaved in %1?</source>
        <translation>quantviz 上次未正常退出。是否恢复自动保存在 %1 中的会话？</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="381"/>
        <source>Nothing to save: open a model first.</source>
        <translation>没有可保存的内容：请先打开一个模型。</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="390"/>
        <source>Session saved to %1</source>
        <translation>会话已保存到 %1</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="397"/>
        <source>Save session</source>
        <translation>保存会话</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="399"/>
        <source>quantviz sessions (*%1)</source>
        <translation>quantviz 会话 (*%1)</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="416"/>
        <source>Open session</source>
        <translation>打开会话</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="419"/>
        <source>The session file %1 names no model, so it cannot be opened.</source>
        <translation>会话文件 %1 未指定模型，无法打开。</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="439"/>
        <source>Open plan</source>
        <translation>打开方案</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="442"/>
        <source>Open a model before its plan.</source>
        <translation>请先打开模型，再打开它的方案。</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="447"/>
        <source>The plan names parts this model lacks: %1</source>
        <translation>方案中包含此模型没有的部分：%1</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="451"/>
        <source>Open plan %1</source>
        <translation>打开方案 %1</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="462"/>
        <source>Plan saved to %1</source>
        <translation>方案已保存到 %1</translation>
    </message>
    <message>
        <location filename="../../gui/main_window.py" line="510"/>
        <source>Stopping the running jobs…</source>
        <translation>正在停止运行中的任务…</translation>
    </message>
</context>
<context>
    <name>ModelOverview</name>
    <message>
        <location filename="../../gui/model_overview.py" line="23"/>
        <location filename="../../gui/model_overview.py" line="112"/>
        <source>W FP8 E4M3</source>
        <translation>W FP8 E4M3</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="24"/>
        <source>W FP8 E5M2</source>
        <translation>W FP8 E5M2</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="25"/>
        <source>W INT8</source>
        <translation>W INT8</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="26"/>
        <location filename="../../gui/model_overview.py" line="115"/>
        <source>W INT8/ch</source>
        <translation>W INT8/ch</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="27"/>
        <location filename="../../gui/model_overview.py" line="120"/>
        <source>A FP8 E4M3</source>
        <translation>A FP8 E4M3</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="28"/>
        <location filename="../../gui/model_overview.py" line="127"/>
        <source>A INT8</source>
        <translation>A INT8</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="66"/>
        <location filename="../../gui/model_overview.py" line="151"/>
        <source>Run the automatic plan to see the frontier.</source>
        <translation>运行自动方案后可查看前沿。</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="68"/>
        <source>Run automatic plan</source>
        <translation>运行自动方案</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="79"/>
        <source>SQNR per layer</source>
        <translation>各层 SQNR</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="80"/>
        <source>Layer × metric</source>
        <translation>层 × 指标</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="81"/>
        <source>Accuracy vs size</source>
        <translation>精度与大小</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="163"/>
        <source>%1
%2 % of layers 8-bit, loss %3, %4 MB</source>
        <translation>%1
%2 % 的层为 8 位，损失 %3，%4 MB</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="176"/>
        <source>float32 model</source>
        <translation>float32 模型</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="179"/>
        <source>loss (1 − cosine)</source>
        <translation>损失（1 − 余弦）</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="179"/>
        <source>KL (nats)</source>
        <translation>KL（nats）</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="180"/>
        <source>size (MB)</source>
        <translation>大小（MB）</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="182"/>
        <source>meets the target</source>
        <translation>达到目标</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="182"/>
        <source>misses the target</source>
        <translation>未达到目标</translation>
    </message>
    <message>
        <location filename="../../gui/model_overview.py" line="185"/>
        <source>%1 plans evaluated; the ringed plan is applied (%2). Click a point to apply it.</source>
        <translation>已评估 %1 个方案；圈出的方案已应用（%2）。点击某个点即可应用对应方案。</translation>
    </message>
</context>
<context>
    <name>OpenModelDialog</name>
    <message>
        <location filename="../../gui/dialogs/open_model_dialog.py" line="36"/>
        <source>Open model</source>
        <translation>打开模型</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/open_model_dialog.py" line="40"/>
        <source>model folder, .gguf or .safetensors file, org/name hub id, or sample:minilm</source>
        <translation>模型文件夹、.gguf 或 .safetensors 文件、org/name 形式的 Hub ID，或 sample:minilm</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/open_model_dialog.py" line="42"/>
        <source>&amp;Model:</source>
        <translation>模型(&amp;M)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/open_model_dialog.py" line="44"/>
        <source>F&amp;older…</source>
        <translation>文件夹(&amp;O)…</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/open_model_dialog.py" line="46"/>
        <source>F&amp;ile…</source>
        <translation>文件(&amp;I)…</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/open_model_dialog.py" line="57"/>
        <source>%1 (bundled sample)</source>
        <translation>%1（内置示例）</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/open_model_dialog.py" line="68"/>
        <source>&amp;Samples and recent models:</source>
        <translation>示例和最近使用的模型(&amp;S)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/open_model_dialog.py" line="93"/>
        <source>Model folder</source>
        <translation>模型文件夹</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/open_model_dialog.py" line="100"/>
        <source>Model file</source>
        <translation>模型文件</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/open_model_dialog.py" line="102"/>
        <source>Model files (%1)</source>
        <translation>模型文件 (%1)</translation>
    </message>
</context>
<context>
    <name>Precision</name>
    <message>
        <location filename="../../gui/precision.py" line="42"/>
        <location filename="../../gui/precision.py" line="64"/>
        <source>Float</source>
        <translation>浮点</translation>
    </message>
    <message>
        <location filename="../../gui/precision.py" line="43"/>
        <location filename="../../gui/precision.py" line="65"/>
        <source>FP8 E4M3</source>
        <translation>FP8 E4M3</translation>
    </message>
    <message>
        <location filename="../../gui/precision.py" line="46"/>
        <source>FP8 E4M3 per channel</source>
        <translation>FP8 E4M3 逐通道</translation>
    </message>
    <message>
        <location filename="../../gui/precision.py" line="49"/>
        <location filename="../../gui/precision.py" line="66"/>
        <source>FP8 E5M2</source>
        <translation>FP8 E5M2</translation>
    </message>
    <message>
        <location filename="../../gui/precision.py" line="52"/>
        <source>INT8 per channel</source>
        <translation>INT8 逐通道</translation>
    </message>
    <message>
        <location filename="../../gui/precision.py" line="56"/>
        <source>INT8 per tensor</source>
        <translation>INT8 逐张量</translation>
    </message>
    <message>
        <location filename="../../gui/precision.py" line="59"/>
        <location filename="../../gui/precision.py" line="69"/>
        <source>UINT8 asymmetric</source>
        <translation>UINT8 非对称</translation>
    </message>
    <message>
        <location filename="../../gui/precision.py" line="67"/>
        <source>INT8</source>
        <translation>INT8</translation>
    </message>
</context>
<context>
    <name>ProgressStage</name>
    <message>
        <location filename="../../gui/i18n.py" line="30"/>
        <source>resolving</source>
        <translation>解析模型</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="31"/>
        <source>hashing</source>
        <translation>计算哈希</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="32"/>
        <source>gguf de-quantization</source>
        <translation>GGUF 反量化</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="33"/>
        <source>tokenizer</source>
        <translation>分词器</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="34"/>
        <source>weights</source>
        <translation>权重</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="35"/>
        <source>discovering layers</source>
        <translation>查找层</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="36"/>
        <source>done</source>
        <translation>完成</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="37"/>
        <source>calibration</source>
        <translation>校准</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="38"/>
        <source>sensitivity</source>
        <translation>敏感度</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="39"/>
        <source>float</source>
        <translation>浮点模型</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="40"/>
        <source>evaluation</source>
        <translation>评估</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="41"/>
        <source>auto plan</source>
        <translation>自动方案</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="42"/>
        <source>smoothquant</source>
        <translation>SmoothQuant</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="43"/>
        <source>qat</source>
        <translation>QAT</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="44"/>
        <source>paused</source>
        <translation>已暂停</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="45"/>
        <source>tracing</source>
        <translation>追踪计算图</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="46"/>
        <source>mapping</source>
        <translation>映射层</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="47"/>
        <source>quantizing weights</source>
        <translation>量化权重</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="48"/>
        <source>rewriting</source>
        <translation>改写计算图</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="49"/>
        <source>writing</source>
        <translation>写入文件</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="50"/>
        <source>parity</source>
        <translation>一致性检查</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="51"/>
        <source>baselines</source>
        <translation>基线</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="52"/>
        <source>benchmark</source>
        <translation>基准测试</translation>
    </message>
</context>
<context>
    <name>Project</name>
    <message>
        <location filename="../../gui/project.py" line="177"/>
        <source>weights</source>
        <translation>权重</translation>
    </message>
    <message>
        <location filename="../../gui/project.py" line="177"/>
        <source>inputs</source>
        <translation>输入</translation>
    </message>
    <message>
        <location filename="../../gui/project.py" line="179"/>
        <source>Set %1 of %2 to %3</source>
        <translation>将 %2 的%1设为 %3</translation>
    </message>
    <message numerus="yes">
        <location filename="../../gui/project.py" line="182"/>
        <source>Set %1 of %n layers to %2</source>
        <translation>
            <numerusform>将 %n 个层的%1设为 %2</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../gui/project.py" line="208"/>
        <source>Apply rule %1</source>
        <translation>应用规则 %1</translation>
    </message>
    <message>
        <location filename="../../gui/project.py" line="236"/>
        <source>Apply recommendations</source>
        <translation>应用推荐</translation>
    </message>
</context>
<context>
    <name>QATDialog</name>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="48"/>
        <source>auto (KL or cosine by task)</source>
        <translation>自动（按任务选用 KL 或余弦）</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="49"/>
        <source>KL of the logits</source>
        <translation>logits 的 KL</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="50"/>
        <source>cosine of the hidden states</source>
        <translation>隐藏状态的余弦</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="51"/>
        <source>none (next-token cross-entropy)</source>
        <translation>无（下一 token 交叉熵）</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="71"/>
        <source>Quantization-aware training</source>
        <translation>量化感知训练</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="84"/>
        <source>only at start and end</source>
        <translation>仅在开始和结束时</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="87"/>
        <source>Learn the &amp;scales (LSQ)</source>
        <translation>学习缩放因子（LSQ）(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="95"/>
        <source>optional: folder for the fine-tuned model</source>
        <translation>可选：保存微调后模型的文件夹</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="96"/>
        <source>&amp;Browse…</source>
        <translation>浏览(&amp;B)…</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="102"/>
        <source>S&amp;teps:</source>
        <translation>步数(&amp;T)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="103"/>
        <source>&amp;Learning rate:</source>
        <translation>学习率(&amp;L)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="104"/>
        <source>Scale learning rate (relative):</source>
        <translation>缩放因子学习率（相对值）：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="105"/>
        <source>Batch si&amp;ze:</source>
        <translation>批大小(&amp;Z)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="106"/>
        <source>Se&amp;quence length:</source>
        <translation>序列长度(&amp;Q)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="107"/>
        <source>&amp;Distillation:</source>
        <translation>蒸馏(&amp;D)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="108"/>
        <source>E&amp;valuate every:</source>
        <translation>评估间隔步数(&amp;V)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="109"/>
        <source>Evaluation sa&amp;mples:</source>
        <translation>评估样本数(&amp;M)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="110"/>
        <source>Calibration samp&amp;les:</source>
        <translation>校准样本数(&amp;L)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="112"/>
        <source>&amp;Output folder:</source>
        <translation>输出文件夹(&amp;O)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="116"/>
        <source>&amp;Start</source>
        <translation>开始(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="118"/>
        <location filename="../../gui/dialogs/qat_dialog.py" line="251"/>
        <source>&amp;Pause</source>
        <translation>暂停(&amp;P)</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="121"/>
        <source>&amp;Cancel run</source>
        <translation>取消运行(&amp;C)</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="123"/>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="143"/>
        <source>layer</source>
        <translation>层</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="143"/>
        <source>W SQNR before</source>
        <translation>训练前 W SQNR</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="143"/>
        <source>after</source>
        <translation>训练后</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="143"/>
        <source>change</source>
        <translation>变化</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="188"/>
        <source>Output folder</source>
        <translation>输出文件夹</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="229"/>
        <source>Could not start: another job is running.</source>
        <translation>无法开始：另一个任务正在运行。</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="233"/>
        <source>Preparing: applying the plan and measuring the start…</source>
        <translation>准备中：正在应用方案并测量初始指标…</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="247"/>
        <source>&amp;Resume</source>
        <translation>继续(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="248"/>
        <source>Pausing before the next step…</source>
        <translation>将在下一步之前暂停…</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="256"/>
        <source>Stopping at the next step…</source>
        <translation>将在下一步停止…</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="268"/>
        <source>Paused after step %1</source>
        <translation>已在第 %1 步后暂停</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="282"/>
        <source>Step %1 of %2, %3</source>
        <translation>第 %1/%2 步，%3</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="285"/>
        <source>, about %1 s left</source>
        <translation>，约剩 %1 s</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="350"/>
        <source>%1: float %2, before QAT %3, after %4 (%5 steps, %6 s)</source>
        <translation>%1：浮点 %2，QAT 前 %3，QAT 后 %4（%5 步，%6 s）</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/qat_dialog.py" line="361"/>
        <source>(stopped early)</source>
        <translation>（提前停止）</translation>
    </message>
</context>
<context>
    <name>RuleDialog</name>
    <message>
        <location filename="../../gui/dialogs/rule_dialog.py" line="42"/>
        <source>Apply rule by pattern</source>
        <translation>按模式应用规则</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/rule_dialog.py" line="53"/>
        <source>&amp;Pattern:</source>
        <translation>模式(&amp;P)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/rule_dialog.py" line="54"/>
        <source>&amp;Weights:</source>
        <translation>权重(&amp;W)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/rule_dialog.py" line="55"/>
        <source>&amp;Inputs:</source>
        <translation>输入(&amp;I)：</translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/rule_dialog.py" line="72"/>
        <source>(unchanged)</source>
        <translation>（不变）</translation>
    </message>
    <message numerus="yes">
        <location filename="../../gui/dialogs/rule_dialog.py" line="86"/>
        <source>Matches %n layer(s)</source>
        <translation>
            <numerusform>匹配 %n 个层</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../gui/dialogs/rule_dialog.py" line="90"/>
        <source>Matches %n layer(s): %1</source>
        <translation>
            <numerusform>匹配 %n 个层：%1</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../gui/dialogs/rule_dialog.py" line="103"/>
        <source>Give a pattern and at least one format.</source>
        <translation>请输入模式，并至少选择一种格式。</translation>
    </message>
</context>
<context>
    <name>SensitivityMetric</name>
    <message>
        <location filename="../../gui/i18n.py" line="57"/>
        <source>logits KL</source>
        <translation>logits KL</translation>
    </message>
    <message>
        <location filename="../../gui/i18n.py" line="58"/>
        <source>1 − embedding cosine</source>
        <translation>1 − 嵌入余弦</translation>
    </message>
</context>
<context>
    <name>SqnrChart</name>
    <message>
        <location filename="../../gui/plots/sqnr_chart.py" line="43"/>
        <source>SQNR (dB)</source>
        <translation>SQNR（dB）</translation>
    </message>
    <message>
        <location filename="../../gui/plots/sqnr_chart.py" line="45"/>
        <source>layer index</source>
        <translation>层序号</translation>
    </message>
</context>
<context>
    <name>SummaryPanel</name>
    <message>
        <location filename="../../gui/summary_panel.py" line="65"/>
        <source>&amp;Evaluate plan</source>
        <translation>评估方案(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="71"/>
        <source>format</source>
        <translation>格式</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="71"/>
        <source>weights</source>
        <translation>权重</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="71"/>
        <source>inputs</source>
        <translation>输入</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="79"/>
        <source>Size:</source>
        <translation>大小：</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="80"/>
        <source>Estimated cost:</source>
        <translation>估计代价：</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="81"/>
        <source>Evaluation:</source>
        <translation>评估：</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="122"/>
        <source>%1 (float32 %2, %3 %)</source>
        <translation>%1（float32 为 %2，占 %3 %）</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="155"/>
        <source>needs the sensitivity analysis</source>
        <translation>需要敏感度分析</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="159"/>
        <source>%1 (%2, sum over the quantized layers of their own cost)</source>
        <translation>%1（%2，各量化层单独代价之和）</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="168"/>
        <source>not run (press Evaluate)</source>
        <translation>未运行（请点击“评估方案”）</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="172"/>
        <source>(for an earlier plan)</source>
        <translation>（针对之前的方案）</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="179"/>
        <source>perplexity %1 → %2 (%3 %), KL %4 nats</source>
        <translation>困惑度 %1 → %2（%3 %），KL %4 nats</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="187"/>
        <source>embedding cosine vs float: mean %1, min %2 (loss %3)</source>
        <translation>与浮点模型的嵌入余弦：平均 %1，最小 %2（损失 %3）</translation>
    </message>
    <message>
        <location filename="../../gui/summary_panel.py" line="192"/>
        <source>(the quantized model produced NaN)</source>
        <translation>（量化模型输出了 NaN）</translation>
    </message>
</context>
<context>
    <name>TrainingCurves</name>
    <message>
        <location filename="../../gui/plots/training_curves.py" line="19"/>
        <location filename="../../gui/plots/training_curves.py" line="42"/>
        <source>loss</source>
        <translation>损失</translation>
    </message>
    <message>
        <location filename="../../gui/plots/training_curves.py" line="20"/>
        <source>perplexity</source>
        <translation>困惑度</translation>
    </message>
    <message>
        <location filename="../../gui/plots/training_curves.py" line="21"/>
        <source>mean cosine</source>
        <translation>平均余弦</translation>
    </message>
    <message>
        <location filename="../../gui/plots/training_curves.py" line="46"/>
        <source>step</source>
        <translation>步</translation>
    </message>
</context>
<context>
    <name>WindowActions</name>
    <message>
        <location filename="../../gui/window_actions.py" line="74"/>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="76"/>
        <source>&amp;Open model…</source>
        <translation>打开模型(&amp;O)…</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="81"/>
        <source>Open a model folder, .gguf file, hub id or sample</source>
        <translation>打开模型文件夹、.gguf 文件、Hub ID 或示例</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="84"/>
        <source>Open &amp;sample</source>
        <translation>打开示例(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="90"/>
        <source>&amp;Recent models</source>
        <translation>最近使用的模型(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="94"/>
        <source>Open &amp;session…</source>
        <translation>打开会话(&amp;S)…</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="101"/>
        <source>&amp;Save session</source>
        <translation>保存会话(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="107"/>
        <source>Save session &amp;as…</source>
        <translation>会话另存为(&amp;A)…</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="112"/>
        <source>Open &amp;plan…</source>
        <translation>打开方案(&amp;P)…</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="113"/>
        <source>Save plan as…</source>
        <translation>方案另存为…</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="117"/>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="136"/>
        <source>&amp;Edit</source>
        <translation>编辑(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="138"/>
        <source>&amp;Undo</source>
        <translation>撤销(&amp;U)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="141"/>
        <source>&amp;Redo</source>
        <translation>重做(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="151"/>
        <source>&amp;Filter layers</source>
        <translation>筛选层(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="154"/>
        <source>Select &amp;all layers</source>
        <translation>选择所有层(&amp;A)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="193"/>
        <source>&amp;Plan</source>
        <translation>方案(&amp;P)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="195"/>
        <source>&amp;Weights of selection</source>
        <translation>所选层的权重(&amp;W)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="198"/>
        <source>&amp;Inputs of selection</source>
        <translation>所选层的输入(&amp;I)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="204"/>
        <source>Apply &amp;rule by pattern…</source>
        <translation>按模式应用规则(&amp;R)…</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="210"/>
        <source>Apply re&amp;commendations</source>
        <translation>应用推荐(&amp;C)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="214"/>
        <source>Give every layer the analysis&apos; recommended format</source>
        <translation>为每一层设置分析推荐的格式</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="217"/>
        <source>Apply recommendations to selection</source>
        <translation>对所选层应用推荐</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="221"/>
        <source>&amp;Automatic plan…</source>
        <translation>自动方案(&amp;A)…</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="226"/>
        <source>Search mixed-precision plans for the best accuracy at each size</source>
        <translation>搜索混合精度方案，找出每种大小下精度最高的方案</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="228"/>
        <location filename="../../gui/window_actions.py" line="268"/>
        <source>Reset plan to float</source>
        <translation>将方案重置为浮点</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="230"/>
        <source>&amp;Evaluate plan</source>
        <translation>评估方案(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="235"/>
        <source>Compare the plan with the float model on held-out text</source>
        <translation>在留出文本上比较方案与浮点模型</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="252"/>
        <source>Apply recommendations</source>
        <translation>应用推荐</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="257"/>
        <source>No change: run the analysis first, or the plan already follows the recommendations.</source>
        <translation>没有变化：请先运行分析，或者方案已符合推荐。</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="272"/>
        <source>&amp;Analysis</source>
        <translation>分析(&amp;A)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="274"/>
        <source>Calibration &amp;settings…</source>
        <translation>校准设置(&amp;S)…</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="280"/>
        <source>&amp;Run analysis again</source>
        <translation>重新运行分析(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="285"/>
        <source>&amp;Cancel job</source>
        <translation>取消任务(&amp;C)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="290"/>
        <source>&amp;Tools</source>
        <translation>工具(&amp;T)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="292"/>
        <source>&amp;Quantization-aware training…</source>
        <translation>量化感知训练(&amp;Q)…</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="299"/>
        <source>E&amp;xport to ONNX…</source>
        <translation>导出为 ONNX(&amp;X)…</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="310"/>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="315"/>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="316"/>
        <source>&amp;Keyboard shortcuts</source>
        <translation>键盘快捷键(&amp;K)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="317"/>
        <source>&amp;About quantviz</source>
        <translation>关于 quantviz(&amp;A)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="320"/>
        <source>Main</source>
        <translation>主工具栏</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="368"/>
        <source>Open session</source>
        <translation>打开会话</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="368"/>
        <source>quantviz sessions (*.qvsession)</source>
        <translation>quantviz 会话 (*.qvsession)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="375"/>
        <source>Open plan</source>
        <translation>打开方案</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="375"/>
        <location filename="../../gui/window_actions.py" line="382"/>
        <source>Plans (*.json)</source>
        <translation>方案 (*.json)</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="382"/>
        <source>Save plan</source>
        <translation>保存方案</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="412"/>
        <source>Automatic plan</source>
        <translation>自动方案</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="424"/>
        <source>QAT</source>
        <translation>QAT</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="437"/>
        <source>ONNX export</source>
        <translation>ONNX 导出</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="451"/>
        <source>Ctrl+1 / Ctrl+2 / Ctrl+3 / Ctrl+0: weights of the selected layers to FP8 E4M3 / INT8 per channel / FP8 E5M2 / float</source>
        <translation>Ctrl+1 / Ctrl+2 / Ctrl+3 / Ctrl+0：将所选层的权重设为 FP8 E4M3 / INT8 逐通道 / FP8 E5M2 / 浮点</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="454"/>
        <source>Ctrl+Shift+1 / 2 / 3 / 0: inputs of the selected layers likewise</source>
        <translation>Ctrl+Shift+1 / 2 / 3 / 0：同样设置所选层的输入</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="455"/>
        <source>Click or F2 on a precision cell: choose its format</source>
        <translation>单击精度单元格或在其上按 F2：选择格式</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="456"/>
        <source>Ctrl+R: rule by name pattern; Ctrl+Shift+R: apply recommendations</source>
        <translation>Ctrl+R：按名称模式设置规则；Ctrl+Shift+R：应用推荐</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="457"/>
        <source>F5: evaluate the plan; Esc: cancel the running job</source>
        <translation>F5：评估方案；Esc：取消正在运行的任务</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="458"/>
        <source>Ctrl+Z / Ctrl+Shift+Z: undo / redo; Ctrl+F: filter layers</source>
        <translation>Ctrl+Z / Ctrl+Shift+Z：撤销 / 重做；Ctrl+F：筛选层</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="462"/>
        <source>Keyboard shortcuts</source>
        <translation>键盘快捷键</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="474"/>
        <source>quantviz %1: see what FP8 and INT8 quantization does to each layer of a transformer.</source>
        <translation>quantviz %1：查看 FP8 和 INT8 量化对 Transformer 每一层的影响。</translation>
    </message>
    <message>
        <location filename="../../gui/window_actions.py" line="478"/>
        <source>About quantviz</source>
        <translation>关于 quantviz</translation>
    </message>
</context>
<context>
    <name>Workflow</name>
    <message>
        <location filename="../../gui/workflow.py" line="99"/>
        <source>Wait for “%1” to finish, or cancel it first.</source>
        <translation>请等待“%1”完成，或先取消它。</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="111"/>
        <source>%1: cancelled</source>
        <translation>%1：已取消</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="119"/>
        <source>Open a model first.</source>
        <translation>请先打开一个模型。</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="136"/>
        <source>Loading %1</source>
        <translation>正在加载 %1</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="156"/>
        <source>The plan names parts this model lacks: %1</source>
        <translation>方案中包含此模型没有的部分：%1</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="164"/>
        <source>Loaded %1 (%2 layers) in %3</source>
        <translation>已加载 %1（%2 个层），用时 %3</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="192"/>
        <source>Analysing %1</source>
        <translation>正在分析 %1</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="198"/>
        <source>Reading analysis %1</source>
        <translation>正在读取分析结果 %1</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="206"/>
        <source>The saved analysis is of other weights; analysing again.</source>
        <translation>保存的分析结果属于其他权重，正在重新分析。</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="218"/>
        <source>Analysis of %1 layers ready (%2)</source>
        <translation>%1 个层的分析已完成（%2）</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="236"/>
        <source>Evaluating the plan</source>
        <translation>正在评估方案</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="241"/>
        <source>Evaluation done (%1)</source>
        <translation>评估完成（%1）</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="254"/>
        <source>%1 is not available in this installation (%2 could not be imported: %3).</source>
        <translation>当前安装中无法使用 %1（无法导入 %2：%3）。</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="275"/>
        <source>QAT</source>
        <translation>QAT</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="286"/>
        <source>Quantization-aware training</source>
        <translation>量化感知训练</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="293"/>
        <source>Use the scales learned by QAT</source>
        <translation>使用 QAT 学到的缩放因子</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="295"/>
        <source>stopped early</source>
        <translation>提前停止</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="295"/>
        <source>done</source>
        <translation>完成</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="297"/>
        <source>QAT %1 after %2 steps (%3)</source>
        <translation>QAT 在 %2 步后%1（%3）</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="314"/>
        <source>ONNX export</source>
        <translation>ONNX 导出</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="325"/>
        <source>Exporting to ONNX</source>
        <translation>正在导出为 ONNX</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="331"/>
        <source>Exported %1 (%2)</source>
        <translation>已导出 %1（%2）</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="344"/>
        <source>The automatic plan</source>
        <translation>自动方案</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="348"/>
        <source>The automatic plan needs the analysis; wait for it.</source>
        <translation>自动方案需要分析结果，请等待分析完成。</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="356"/>
        <source>Searching plans</source>
        <translation>正在搜索方案</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="360"/>
        <source>Automatic plan</source>
        <translation>自动方案</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="363"/>
        <source>Automatic plan: %1 candidates evaluated (%2)</source>
        <translation>自动方案：已评估 %1 个候选方案（%2）</translation>
    </message>
    <message>
        <location filename="../../gui/workflow.py" line="383"/>
        <source>Frontier plan: %1</source>
        <translation>前沿方案：%1</translation>
    </message>
</context>
</TS>
