"""The app in English and Simplified Chinese: the page is translated in the browser, messages from the server
by key on the server.

**The page** (labels, info lines, placeholders, buttons, intros, accordions, choices, examples, tabs) is
translated in the browser by Gradio's i18n: the UI files wrap each English string in :func:`tr`, which
gives Gradio a translation key (an ``I18nData``); :data:`I18N` (passed to ``launch``) holds the text of
every key in each language of :data:`LOCALES`. Gradio picks the language from the browser's language
(``navigator.language``), and the page's footer → Settings → Language switches it at any time.

**Messages from the server** (errors, warnings, notices, result notes, table headers) are
:class:`~mmdemo.messages.Message` objects — a catalogue key and its values (``mmdemo/locales/*.json``) —
rendered in the language the page shows (:func:`request_locale`) where they are shown: ``message.text(locale)``,
and for errors :func:`user_error` + :func:`localized`. Page text used inside a message or a table the server
builds is a :class:`~mmdemo.messages.Page`. The page's language is the browser's choice, which the visitor may
change in Settings without the server knowing: :data:`LOCALE_JS` tells the server with every request (a cookie),
and ``Accept-Language`` decides only where it does not come (API clients, the sign-in page).

The API stays English: :func:`english` is what a key says in English (the gate's field names and the
API description use it), and API clients send no ``Accept-Language``.

To add a language: its catalogue file in ``mmdemo/locales/`` (``scripts/messages.py``), its locale in
:data:`LOCALES` and :data:`mmdemo.messages.LOCALES`, and its language tags in :func:`supported_locale`. The
browser offers it if it is one of Gradio's own locales (Settings → Language).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import gradio as gr
from gradio.i18n import I18nData
from starlette.requests import cookie_parser

from ..messages import Message, catalogue

LOCALES = ("en", "zh-CN")
"""``en`` first: the language of the code, the API and anything not translated."""

UI: dict[str, str] = catalogue("zh-CN", "page")
"""The page's text (labels, info lines, choices …) in Simplified Chinese, keyed by its English: the ``page``
section of ``mmdemo/locales/zh-CN.json`` (``python scripts/messages.py page ENGLISH CHINESE`` adds one)."""
"""English → Simplified Chinese for the page (through :data:`I18N`); ``{name}``: a value :func:`tr` fills in."""

PAGE: dict[str, dict[str, str]] = {"zh-CN": UI}
"""The page's translations by locale (English is the key itself)."""

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a catalogue entry."""
    return set(_PLACEHOLDER.findall(text))


def _format(template: str, values: dict[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


# --- the page ------------------------------------------------------------------------------------


def _key(english: str) -> str:
    """A stable translation key: ``mmdemo.`` + the first words + a hash (no characters Gradio's parser trips on)."""
    words = re.sub(r"[^a-z0-9]+", "_", english.lower()).strip("_")[:32].rstrip("_")
    return f"mmdemo.{words}.{hashlib.sha1(english.encode()).hexdigest()[:6]}"


_FIXED = [text for text in UI if not placeholders(text)]
GRADIO_GAPS = {
    "common.complete": {"en": "Complete", "zh-CN": "完成"},
    "common.progress": {"en": "Progress", "zh-CN": "进度"},
}
"""Keys Gradio 6.31's own status tracker uses that its dictionaries lack: it announces a finished run to screen
readers as ``t.i18n("common.complete")``, so the raw key "common.complete" was read out (and was page text for 5 s)
in every language."""
I18N = gr.I18n(
    en={_key(text): text for text in _FIXED} | {key: texts["en"] for key, texts in GRADIO_GAPS.items()},
    **{
        locale: {_key(text): translated[text] for text in _FIXED} | {k: t[locale] for k, t in GRADIO_GAPS.items()}
        for locale, translated in PAGE.items()
    },
)
"""Gradio's translations of the page (``launch(i18n=I18N)``); :func:`tr` adds the entries with placeholders
once their values are known (one key per set of values)."""


def tr(english: str, **values: Any) -> I18nData:
    """The translation key of ``english`` (an entry of :data:`UI`) for a component's label, info, placeholder,
    value or choice, with ``values`` filled into its ``{name}`` placeholders. Raises ``KeyError`` for text that
    is not in the catalogue, so that nothing on the page is left untranslated by mistake."""
    if english not in UI:
        raise KeyError(f"not in the UI catalogue (mmdemo.ui.i18n.UI): {english!r}")
    if placeholders(english) != set(values):
        raise KeyError(f"{english!r} takes {sorted(placeholders(english))}, got {sorted(values)}")
    key = _key(english)
    if values:
        key += "." + hashlib.sha1(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:8]
        I18N.translations["en"].setdefault(key, _format(english, values))
        for locale, translated in PAGE.items():
            I18N.translations[locale].setdefault(key, _format(translated[english], values))
    return I18nData(key)


def page_value(texts: dict[str, str]) -> I18nData | str:
    """A value the server computes per language (``texts``: locale → text, every locale of :data:`LOCALES`) drawn
    with the page in the page's language: a translation key of its own (the text itself when all are alike)."""
    if len(set(texts.values())) == 1:
        return texts["en"]
    digest = hashlib.sha1(json.dumps(texts, sort_keys=True).encode()).hexdigest()
    key = f"mmdemo.value.{digest[:6]}.{digest[6:14]}"
    for locale, value in texts.items():
        I18N.translations.setdefault(locale, {})[key] = value
    return I18nData(key)


def tr_choices(choices: Iterable[tuple[str, Any]]) -> list[tuple[Any, Any]]:
    """``(label, value)`` choices with each label in :data:`UI` translated (others, such as ``768 × 512``, kept)."""
    return [(tr(label) if label in UI else label, value) for label, value in choices]


_MARKER = re.compile(r"__i18n__(\{[^}]*\})")


def english(value: Any) -> Any:
    """``value`` with translation keys (an ``I18nData``, or its ``__i18n__{…}`` text) replaced by their English."""
    if isinstance(value, I18nData):
        return I18N.translations["en"].get(value.key, value.key)
    if isinstance(value, str) and "__i18n__" in value:
        return _MARKER.sub(lambda m: str(english(I18nData(json.loads(m.group(1)).get("key", "")))), value)
    return value


def english_everywhere(value: Any) -> Any:
    """:func:`english` throughout nested dicts, lists and tuples (the API description)."""
    if isinstance(value, dict):
        return {k: english_everywhere(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(english_everywhere(v) for v in value)
    return english(value)


# --- the request's language ----------------------------------------------------------------------

current_request: contextvars.ContextVar[Any] = contextvars.ContextVar("mmdemo_request", default=None)
"""The request being processed (set by :class:`~mmdemo.ui.gate.GatedBlocks` for every event)."""


def supported_locale(tag: str) -> str | None:
    """The locale of :data:`LOCALES` for a language tag (``zh``, ``zh-CN``, ``zh-Hans-SG``, ``en-GB`` …), if any."""
    parts = tag.strip().lower().replace("_", "-").split("-")
    if parts[0] == "en":
        return "en"
    if parts[0] == "zh" and not {"tw", "hk", "mo", "hant"} & set(parts[1:]):
        return "zh-CN"  # Simplified Chinese: zh, zh-CN, zh-SG, zh-Hans…; Traditional Chinese is not offered
    return None


def locale_from_header(header: str | None) -> str:
    """The best locale of :data:`LOCALES` for an ``Accept-Language`` header (by weight, then order); ``en``
    when none is wanted."""
    ranked = []
    for position, item in enumerate((header or "").split(",")):
        tag, _, params = item.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, number = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(number)
                except ValueError:
                    weight = 0.0
        locale = supported_locale(tag) if tag.strip() and tag.strip() != "*" else None
        if locale is not None and weight > 0:
            ranked.append((-weight, position, locale))
    return min(ranked)[2] if ranked else "en"


LOCALE_COOKIE = "mmdemo-locale"
"""Where the page says its language (:data:`LOCALE_JS`): a cookie, sent with everything the page asks for."""


def chosen_locale(value: str | None) -> str | None:
    """``value`` if it is a locale of :data:`LOCALES`, else None: what a visitor's page sends only picks among
    them."""
    value = (value or "").strip()
    return value if value in LOCALES else None


def locale_of_headers(headers: Mapping[str, str]) -> str:
    """The language of a request with ``headers`` (lower-case names): the page's (:data:`LOCALE_COOKIE`), else
    the best of its ``Accept-Language``."""
    return chosen_locale(cookie_parser(headers.get("cookie") or "").get(LOCALE_COOKIE)) or locale_from_header(
        headers.get("accept-language")
    )


_LOCALE_JS = r"""
<script>
(() => {
  /* The server answers in the language the page shows: Gradio's Settings -> Language switches the page in the
     browser only (svelte-i18n writes it to <html lang>). Every request says it in a cookie, set again whenever
     the language may have changed or another tab of the site may have set its own. */
  const { locales: LOCALES, cookie: COOKIE } = SETTINGS;
  const attributes = location.protocol === "https:" ? "; SameSite=None; Secure; Partitioned" : "; SameSite=Lax";
  const shown = () => {
    /* svelte-i18n's lookup: the locale, then its shorter tags, then English (the app's text in any other locale) */
    const parts = (document.documentElement.lang || "en").split("-");
    for (let n = parts.length; n > 0; n--) {
      const tag = parts.slice(0, n).join("-");
      if (LOCALES.includes(tag)) return tag;
    }
    return "en";
  };
  const keep = () => {
    document.cookie = `${COOKIE}=${shown()}; path=/${attributes}`;
  };
  /* Gradio runs this once it has chosen the page's language (Index: i18n set up, then the head added), and
     svelte-i18n writes each later choice to <html lang>. */
  keep();
  new MutationObserver(keep).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
  addEventListener("focus", keep);  // several tabs share the cookie: the one in use says its own
  document.addEventListener("visibilitychange", keep);
  addEventListener("pointerdown", keep, true);  // before a click sends anything
  addEventListener("keydown", keep, true);

  /* Gradio's upload refuses a file of another type in English, listing MIME types ("Invalid file type: a.png.
     Only audio/aac,audio/midi,… allowed.", text of its page, without a translation key): say it plainly in the
     page's language instead, by the kind of file the input takes (audio, image, video; else the types). */
  const REFUSALS = REFUSAL_TEXTS;  // locale -> kind -> sentence
  const REFUSED = /^Invalid file types?: (.*)\. Only (.*) allowed\.$/s;
  const kind = (types) => ["audio", "image", "video"].find(
    (k) => types.split(",").every((t) => t.trim().startsWith(k + "/"))) || "other";
  const plain = (el) => {
    const refused = el.textContent.trim().match(REFUSED);
    if (!refused) return;
    const [, files, types] = refused;
    el.textContent = REFUSALS[shown()][kind(types)].replace("{files}", files).replace("{types}", types);
  };
  new MutationObserver(() => document.querySelectorAll('[data-testid="toast-text"]').forEach(plain))
    .observe(document.documentElement, { childList: true, subtree: true, characterData: true });
})();
</script>
"""
"""The page's part (``launch(head=…)``): it keeps the server told which language the page shows, and says Gradio's
refusal of a file of the wrong type in it (:func:`upload_refusals`)."""


def upload_refusals(locale: str) -> dict[str, str]:
    """What the page says instead of Gradio's "Invalid file type: … Only audio/aac,audio/midi,… allowed." in
    ``locale``, by the kind of file the input takes: the server's own sentence for a file that is not of that kind
    (``other``: a template with the refused ``{files}`` and the accepted ``{types}``)."""
    return {
        "audio": Message("audio.not_audio", formats=Message("audio.formats")).text(locale),
        "image": Message("image.not_image", formats=Message("image.formats")).text(locale),
        "video": Message("video.not_video", formats=Message("video.formats")).text(locale),
        "other": Message("upload.wrong_type", files="{files}", types="{types}").text(locale),
    }


LOCALE_JS = _LOCALE_JS.replace("SETTINGS", json.dumps({"locales": list(LOCALES), "cookie": LOCALE_COOKIE})).replace(
    "REFUSAL_TEXTS", json.dumps({locale: upload_refusals(locale) for locale in LOCALES})
)


def request_locale(request: Any = None) -> str:
    """The language of ``request`` (a ``gr.Request``), else of the request being processed
    (:func:`locale_of_headers`); ``en`` without one."""
    if request is None:
        request = current_request.get()
    if request is None:
        from gradio.context import LocalContext

        request = LocalContext.request.get(None)
    if isinstance(request, Sequence) and not isinstance(request, str):
        request = request[0] if request else None
    try:
        headers = getattr(request, "headers", None) or {}
        return locale_of_headers(headers)
    except Exception:  # a request without readable headers
        return "en"


# --- messages from the server --------------------------------------------------------------------


def user_error(message: Message, title: Message) -> gr.Error:
    """A ``gr.Error`` for the user: English, carrying ``message`` and ``title`` so that :func:`localized` renders
    them in the language of the request."""
    error = gr.Error(str(message), title=str(title), print_exception=False)
    error.mmdemo_message = message  # type: ignore[attr-defined]
    error.mmdemo_title = title  # type: ignore[attr-defined]
    return error


def localized(error: gr.Error, locale: str | None = None) -> gr.Error:
    """``error`` with its message and title in ``locale`` (default: the request's); the same error in English."""
    locale = locale or request_locale()
    if locale == "en":
        return error
    copy = type(error).__new__(type(error))
    copy.__dict__.update(error.__dict__)
    message = getattr(error, "mmdemo_message", None)  # an error not made by user_error stays as it is (English)
    title = getattr(error, "mmdemo_title", None)
    if isinstance(message, Message):
        copy.message = message.text(locale)
    if isinstance(title, Message):
        copy.title = title.text(locale)
    copy.args = (copy.message,)
    return copy
