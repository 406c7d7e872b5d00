"""Translation helpers: every user-visible string goes through Qt's translation system.

Widgets call ``self.tr(...)``; code outside a QObject calls :func:`translate` with a
context name. Compiled translations are looked up as ``quantviz_<lang>.qm`` in
``quantviz/resources/translations`` (a ``.ts`` source is made with ``pyside6-lupdate``).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from quantviz import RESOURCES_DIR

logger = logging.getLogger(__name__)

TRANSLATIONS_DIR = RESOURCES_DIR / "translations"


def translate(context: str, text: str, disambiguation: str | None = None, n: int = -1) -> str:
    """Translate ``text`` in ``context`` (usually the class name that shows it)."""
    return QCoreApplication.translate(context, text, disambiguation, n)


def install_translators(app: QCoreApplication, lang: str | None) -> list[QTranslator]:
    """Install quantviz's and Qt's own translations for ``lang`` (``zh_CN``) or the locale.

    Returns the installed translators, which must stay referenced while the app runs.
    A missing translation file is not an error: the interface stays in English.
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
