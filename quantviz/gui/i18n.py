"""Translation helpers: every user-visible string goes through Qt's translation system.

Widgets call ``self.tr(...)``; code outside a QObject calls :func:`translate` with a
context name. Compiled translations are looked up as ``quantviz_<lang>.qm`` in
``quantviz/resources/translations`` (a ``.ts`` source is made with ``pyside6-lupdate``).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QCoreApplication,
    QLibraryInfo,
    QLocale,
    QTranslator,
)

from quantviz import RESOURCES_DIR

logger = logging.getLogger(__name__)

TRANSLATIONS_DIR = RESOURCES_DIR / "translations"

STAGE_CONTEXT = "ProgressStage"
# The stage names that engine jobs report in ProgressEvent.stage, listed so that lupdate
# extracts them. A stage missing here is shown untranslated.
STAGE_NAMES = (
    QT_TRANSLATE_NOOP("ProgressStage", "resolving"),
    QT_TRANSLATE_NOOP("ProgressStage", "hashing"),
    QT_TRANSLATE_NOOP("ProgressStage", "gguf de-quantization"),
    QT_TRANSLATE_NOOP("ProgressStage", "tokenizer"),
    QT_TRANSLATE_NOOP("ProgressStage", "weights"),
    QT_TRANSLATE_NOOP("ProgressStage", "discovering layers"),
    QT_TRANSLATE_NOOP("ProgressStage", "done"),
    QT_TRANSLATE_NOOP("ProgressStage", "calibration"),
    QT_TRANSLATE_NOOP("ProgressStage", "sensitivity"),
    QT_TRANSLATE_NOOP("ProgressStage", "float"),
    QT_TRANSLATE_NOOP("ProgressStage", "evaluation"),
    QT_TRANSLATE_NOOP("ProgressStage", "auto plan"),
    QT_TRANSLATE_NOOP("ProgressStage", "smoothquant"),
    QT_TRANSLATE_NOOP("ProgressStage", "qat"),
    QT_TRANSLATE_NOOP("ProgressStage", "paused"),
    QT_TRANSLATE_NOOP("ProgressStage", "tracing"),
    QT_TRANSLATE_NOOP("ProgressStage", "mapping"),
    QT_TRANSLATE_NOOP("ProgressStage", "quantizing weights"),
    QT_TRANSLATE_NOOP("ProgressStage", "rewriting"),
    QT_TRANSLATE_NOOP("ProgressStage", "writing"),
    QT_TRANSLATE_NOOP("ProgressStage", "parity"),
    QT_TRANSLATE_NOOP("ProgressStage", "baselines"),
    QT_TRANSLATE_NOOP("ProgressStage", "benchmark"),
)

# The loss names that quantviz.analysis.sensitivity reports in Sensitivity.metric.
SENSITIVITY_METRICS = {
    "kl": QT_TRANSLATE_NOOP("SensitivityMetric", "logits KL"),
    "cosine_loss": QT_TRANSLATE_NOOP("SensitivityMetric", "1 − embedding cosine"),
}


def translate(context: str, text: str, disambiguation: str | None = None, n: int = -1) -> str:
    """Translate ``text`` in ``context`` (usually the class name that shows it)."""
    return QCoreApplication.translate(context, text, disambiguation, n)


def stage_label(stage: str) -> str:
    """Return the translated name of an engine progress stage, or ``stage`` itself."""
    return translate(STAGE_CONTEXT, stage) if stage else stage


def sensitivity_metric_label(metric: str) -> str:
    """Return the translated name of a sensitivity loss (``kl``, ``cosine_loss``)."""
    if metric not in SENSITIVITY_METRICS:
        return metric
    return translate("SensitivityMetric", SENSITIVITY_METRICS[metric])


def install_translators(app: QCoreApplication, lang: str | None) -> list[QTranslator]:
    """Install quantviz's and Qt's own translations for ``lang`` (``zh_CN``) or the locale.

    Returns the installed translators, which must stay referenced while the app runs.
    A missing translation file is not an error: the interface stays in English.
    ``QTranslator.load`` tries the locale's UI languages in order and stops at the first
    file it finds, so the empty ``quantviz_en.qm`` keeps ``LANGUAGE=en_US:zh_CN`` English.
    """
    locale = QLocale(lang) if lang else QLocale.system()
    installed = []
    ours = QTranslator(app)
    if ours.load(locale, "quantviz", "_", str(TRANSLATIONS_DIR)):
        app.installTranslator(ours)
        installed.append(ours)
    else:
        logger.debug("no quantviz translation for %s in %s", locale.name(), TRANSLATIONS_DIR)
    qt_path = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    qt_own = QTranslator(app)
    if qt_own.load(locale, "qtbase", "_", qt_path):
        app.installTranslator(qt_own)
        installed.append(qt_own)
    return installed
