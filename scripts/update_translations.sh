#!/usr/bin/env bash
# Regenerate the GUI translation sources from quantviz/gui and compile them for the app.
#
#   scripts/update_translations.sh            update every quantviz_<lang>.ts, write its .qm
#   scripts/update_translations.sh de_DE      also start quantviz_de_DE.ts for a new language
#
# pyside6-lupdate adds the messages that are new in the code, keeps the translations of
# messages whose source text is unchanged and drops messages that left the code
# (-no-obsolete). Translate the new messages, which lupdate marks type="unfinished", in
# pyside6-linguist or a text editor, then run this script again: pyside6-lrelease writes
# the quantviz_<lang>.qm files that quantviz.gui.i18n loads. Commit the .ts and .qm files
# together, because the .qm files ship in the package.
set -euo pipefail
cd "$(dirname "$0")/.."

LUPDATE=.venv/bin/pyside6-lupdate
LRELEASE=.venv/bin/pyside6-lrelease
TRANSLATIONS=quantviz/resources/translations

sources=()
while IFS= read -r path; do
    sources+=("$path")
done < <(find quantviz/gui -name '*.py' | LC_ALL=C sort)

for lang in "$@"; do
    ts="$TRANSLATIONS/quantviz_$lang.ts"
    if [ ! -e "$ts" ]; then
        "$LUPDATE" -silent -target-language "$lang" "${sources[@]}" -ts "$ts"
    fi
done

for ts in "$TRANSLATIONS"/quantviz_*.ts; do
    "$LUPDATE" -no-obsolete "${sources[@]}" -ts "$ts"
    "$LRELEASE" "$ts" -qm "${ts%.ts}.qm"
done

# English is the source language, so its translation file is empty. QTranslator.load()
# tries the user's UI languages in order and stops at the first file it finds: this file
# keeps LANGUAGE=en_US:zh_CN in English, as Qt's own qtbase_en.qm does for Qt's strings.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
empty_ts="$work/quantviz_en.ts"
cat >"$empty_ts" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="en">
</TS>
EOF
"$LRELEASE" -silent "$empty_ts" -qm "$TRANSLATIONS/quantviz_en.qm"
