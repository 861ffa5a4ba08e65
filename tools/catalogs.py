"""The catalogs' chores for `make messages`.

``english PO``: fill the English catalog from its message ids. English is the
language the texts are written in, so a new message's English translation is
its text; a message whose English was edited in the catalog keeps its edit.

``todo PO...``: name each catalog with messages still untranslated or fuzzy.
"""

import sys

from babel.messages.pofile import read_po, write_po


def read(path: str):
    with open(path, "rb") as handle:
        return read_po(handle)


def untranslated(catalog) -> list:
    """Messages a reader would see in English: no translation, or a fuzzy guess."""
    def missing(message):
        strings = message.string if message.pluralizable else (message.string,)
        return message.fuzzy or not all(strings)

    return [m for m in catalog if m.id and missing(m)]


def fill_english(path: str) -> int:
    catalog = read(path)
    filled = untranslated(catalog)
    for message in filled:
        message.string = tuple(message.id) if message.pluralizable else message.id
        message.flags.discard("fuzzy")
    with open(path, "wb") as handle:
        write_po(handle, catalog, width=100, no_location=True, ignore_obsolete=True)
    return len(filled)


def main(command: str, *paths: str) -> int:
    if command == "english":
        print(f"{paths[0]}: {fill_english(paths[0])} new messages filled from their text")
        return 0
    if command == "todo":
        for path in paths:
            count = len(untranslated(read(path)))
            if count:
                print(f"{path}: {count} to translate (msgstr \"\" or fuzzy)")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
