"""Edit the message catalogues (mmdemo/locales/*.json) safely: one entry in every locale at once, keys sorted,
the files locked while written (several people may add entries at the same time).

    python scripts/messages.py add image.too_large "The image is too large ({pixels})." "图片太大（{pixels}）。"
    python scripts/messages.py page "Seed" "种子"          # text of the page (a label, a word the server writes)
    python scripts/messages.py remove image.too_large      # a message no code uses any more, from every locale
    python scripts/messages.py remove --page "Old label"   # a text of the page no code uses any more
    python scripts/messages.py check                       # every key in every locale, placeholders alike
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from filelock import FileLock

FOLDER = Path(__file__).resolve().parents[1] / "mmdemo" / "locales"
sys.path.insert(0, str(FOLDER.parents[1]))


def _update(locale: str, section: str, key: str, value: str) -> None:
    path = FOLDER / f"{locale}.json"
    with FileLock(str(path) + ".lock"):
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data.setdefault(section, {})
        if key in entries and entries[key] != value:
            print(f"{locale}: {key!r} changed", file=sys.stderr)
        entries[key] = value
        data[section] = dict(sorted(entries.items()))
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)


def _remove(locale: str, section: str, key: str) -> bool:
    path = FOLDER / f"{locale}.json"
    with FileLock(str(path) + ".lock"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get(section, {}).pop(key, None) is None:
            return False
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="a message: key, English, Chinese")
    add.add_argument("key")
    add.add_argument("en")
    add.add_argument("zh")
    page = sub.add_parser("page", help="text of the page: English (its own key), Chinese")
    page.add_argument("en")
    page.add_argument("zh")
    remove = sub.add_parser("remove", help="a message: its key, from every locale (--page: a text of the page)")
    remove.add_argument("key")
    remove.add_argument("--page", action="store_true", help="KEY is a text of the page (its English)")
    sub.add_parser("check", help="completeness and placeholders")
    args = parser.parse_args()
    from mmdemo.messages import KEY, placeholders

    if args.command == "add":
        if not KEY.match(args.key):
            parser.error(f"a key is dotted lower-case words, e.g. image.too_large (got {args.key!r})")
        if placeholders(args.en) != placeholders(args.zh):
            parser.error(f"placeholders differ: {sorted(placeholders(args.en))} vs {sorted(placeholders(args.zh))}")
        _update("en", "messages", args.key, args.en)
        _update("zh-CN", "messages", args.key, args.zh)
    elif args.command == "remove" and args.page:
        if not _remove("zh-CN", "page", args.key):
            parser.error(f"no text of the page {args.key!r}")
    elif args.command == "remove":
        if not any([_remove(locale, "messages", args.key) for locale in ("en", "zh-CN")]):
            parser.error(f"no message {args.key!r}")
    elif args.command == "page":
        _update("zh-CN", "page", args.en, args.zh)
    else:
        en = json.loads((FOLDER / "en.json").read_text(encoding="utf-8"))["messages"]
        zh = json.loads((FOLDER / "zh-CN.json").read_text(encoding="utf-8"))["messages"]
        problems = [f"zh-CN lacks {k}" for k in en if k not in zh] + [f"en lacks {k}" for k in zh if k not in en]
        problems += [f"{k}: placeholders differ" for k in en if k in zh and placeholders(en[k]) != placeholders(zh[k])]
        print("\n".join(problems) or f"{len(en)} messages, complete")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
