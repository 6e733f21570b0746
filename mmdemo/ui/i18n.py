"""The app in English and Simplified Chinese: one catalogue for the page, one for messages from the server.

**The page** (labels, info lines, placeholders, buttons, intros, accordions, choices, examples, tabs) is
translated in the browser by Gradio's i18n: the UI files wrap each English string in :func:`tr`, which
gives Gradio a translation key (an ``I18nData``); :data:`I18N` (passed to ``launch``) holds the text of
every key in each language of :data:`LOCALES`. Gradio picks the language from the browser's language
(``navigator.language``), and the page's footer → Settings → Language switches it at any time.

**Messages from the server** (errors, warnings, notices, the Models panel's table) are written in English
and translated on the server into the language of the request's ``Accept-Language`` header
(:func:`request_locale`): :func:`say` for a message the app builds (an English template from
:data:`MESSAGES` and its values), :func:`translate` for a finished English sentence (a backend error): it
is looked up whole, else matched against the templates, whose values are translated in turn when they
are known words (a field's label, a model's title …). Anything not in the catalogues stays English.

The API stays English: :func:`english` is what a key says in English (the gate's field names and the
API description use it), and API clients send no ``Accept-Language``.

To add a language: two dictionaries like :data:`UI` and :data:`MESSAGES` (the same English keys, the
``{name}`` placeholders kept) in :data:`CATALOGUES`, its locale in :data:`LOCALES` and its language tags in
:func:`supported_locale`. The browser offers it if it is one of Gradio's own locales (Settings → Language).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import gradio as gr
from gradio.i18n import I18nData

from ..messages import Message, catalogue

LOCALES = ("en", "zh-CN")
"""``en`` first: the language of the code, the API and anything not translated."""

UI: dict[str, str] = catalogue("zh-CN", "page")
"""The page's text (labels, info lines, choices …) in Simplified Chinese, keyed by its English: the ``page``
section of ``mmdemo/locales/zh-CN.json`` (``python scripts/messages.py page ENGLISH CHINESE`` adds one)."""
"""English → Simplified Chinese for the page (through :data:`I18N`); ``{name}``: a value :func:`tr` fills in."""

_IMAGE_FORMATS = ("upload a PNG, JPEG, WebP or GIF image", "请上传 PNG、JPEG、WebP 或 GIF 图片")
_AUDIO_FORMATS = (
    "upload a WAV, MP3, FLAC, OGG, M4A/AAC or WebM/Opus recording",
    "请上传 WAV、MP3、FLAC、OGG、M4A/AAC 或 WebM/Opus 录音",
)
_VIDEO_FORMATS = ("upload an MP4, WebM, MOV, MKV or AVI video", "请上传 MP4、WebM、MOV、MKV 或 AVI 视频")

MESSAGES: dict[str, str] = {
    "There is no image to send yet: run the task first.": "还没有可发送的图片：请先运行任务。",
    # --- titles of error, warning and info pop-ups ---------------------------------------------------
    "Error": "错误",
    "Cannot do that": "无法完成",
    "Cancelled": "已取消",
    "Unexpected error": "意外错误",
    "Not available here": "此处不可用",
    "Check the request": "请检查输入",
    "Slow down": "请稍候",
    # --- common (mmdemo.ui.common, access) -----------------------------------------------------------
    "Something unexpected went wrong while processing this request (details are in the server log). "
    "Try another input; the app is still running.": (
        "处理此请求时发生了意外错误（详情见服务器日志）。请换一个输入再试；应用仍在正常运行。"
    ),
    "This request was cancelled.": "此请求已取消。",
    "{title} is not available on this server: its model is not installed "
    "(the note at the top of this tab says more).": "本服务器无法使用{title}：其模型未安装（详见本标签页顶部的提示）。",
    "Too many requests: at most {limit} a minute per user. Try again in {wait} s.": (
        "请求过多：每位用户每分钟最多 {limit} 次。请在 {wait} 秒后再试。"
    ),
    "No text found in this image.": "这张图片中没有找到文字。",
    "Preview after step {step} of {steps}": "第 {step} 步（共 {steps} 步）后的预览",
    # --- the Models panel (a table: its headers cannot be translated in the browser) -----------------
    "Used in": "用于",
    "Size": "大小",
    "Model": "模型",
    "State": "状态",
    "Device": "设备",
    "Precision": "精度",
    "Busy": "使用中",
    "Files": "文件",
    "Last used": "上次使用",
    "Problem": "问题",
    "{seconds} s ago": "{seconds} 秒前",
    "not loaded": "未加载",
    "loading": "加载中",
    "moving": "迁移中",
    "ready": "就绪",
    "offloaded": "已移至内存",
    "failed": "失败",
    "HF cache": "HF 缓存",
    "local folder": "本地文件夹",
    "missing folder": "文件夹缺失",
    "prefetch folder": "预取文件夹",
    "pip package (offline)": "pip 包（离线）",
    "missing package": "包缺失",
    "missing (offline)": "缺失（离线）",
    "Hub (downloads on first use)": "Hub（首次使用时下载）",
    "Models load on first use and the least recently used idle ones make room when needed. ": (
        "模型在首次使用时加载；需要腾出空间时，最久未用的空闲模型会被卸载。"
    ),
    "**{tier}**: {used} of {budget} GiB budget": "**{tier}**：已用 {used} GiB，预算 {budget} GiB",
    # the OCR lines table
    "Text": "文字",
    "Confidence": "置信度",
    # --- what each model does (the specs' titles) ----------------------------------------------------
    "Image captioning": "图像描述",
    "Visual question answering": "视觉问答",
    "Text reading (OCR)": "文字识别（OCR）",
    "Fast image decoder (TAESD)": "快速图像解码器（TAESD）",
    "CLIP image–text score": "CLIP 图文评分",
    "Speech emotion (acoustic)": "语音情绪（声学）",
    "Speech recognition": "语音识别",
    "Speech recognition (offline fallback)": "语音识别（离线备用）",
    "Text emotion": "文本情绪",
    "Text summarisation": "文本摘要",
    "Sentence embeddings": "句子嵌入",
    # --- the availability notice at the top of each tab ----------------------------------------------
    "{feature} is not available on this server: its model ({models}) is not installed.": (
        "本服务器无法使用{feature}：其模型（{models}）未安装。"
    ),
    "{title} is not installed here: {without}.": "此处未安装{title}：{without}。",
    "Loading {model} failed last time; the next request tries again.": "上次加载 {model} 失败；下一次请求会重试。",
    "The first use downloads {models} from the Hugging Face Hub, which takes a while.": (
        "首次使用时会从 Hugging Face Hub 下载 {models}，需要一些时间。"
    ),
    "images are decoded by the model's full decoder (slower on a CPU)": "图片改由模型的完整解码器解码（在 CPU 上较慢）",
    "images get no CLIP score": "图片没有 CLIP 评分",
    "there is no emotion from the voice (the timeline stays empty)": "无法从声音判断情绪（时间线保持为空）",
    "there is no emotion from the words": "无法从话语判断情绪",
    "speech is transcribed by the smaller offline model (English only)": "语音改由较小的离线模型转写（仅限英文）",
    "speech is not transcribed when the main recogniser cannot run": "主识别模型无法运行时，语音不会被转写",
    "keyframes are not described": "关键帧不会被描述",
    "on-screen text is not read": "不会识别屏幕上的文字",
    "the summary is made of picked sentences instead of written by a model": "摘要由摘选的句子组成，而不是由模型撰写",
    "picked sentences are the first ones rather than the most central": "摘选的是最前面的句子，而不是最核心的句子",
    # --- the gate (mmdemo.ui.gate) -------------------------------------------------------------------
    "{field}: no {kind} was provided. Upload one.": "{field}：没有提供{kind}，请上传。",
    "{field}: this {kind} is not a file uploaded to this app (or it expired). Upload it again.": (
        "{field}：这个{kind}不是上传到本应用的文件（或已过期）。请重新上传。"
    ),
    "image": "图片",
    "recording": "录音",
    "video": "视频",
    "file": "文件",
    "audio": "音频",
    "{field} must be {what} (got {got}).": "{field}必须是{what}（收到的是 {got}）。",
    "{field} must be {what} (got nothing).": "{field}必须是{what}（但没有收到值）。",
    "a number": "数字",
    "a whole number": "整数",
    "a number from {low} to {high}": "介于 {low} 和 {high} 之间的数字",
    "a whole number from {low} to {high}": "介于 {low} 和 {high} 之间的整数",
    "a number of at least {low}": "不小于 {low} 的数字",
    "a whole number of at least {low}": "不小于 {low} 的整数",
    "a number of at most {high}": "不大于 {high} 的数字",
    "a whole number of at most {high}": "不大于 {high} 的整数",
    "{field} must be text (got {got}).": "{field}必须是文本（收到的是 {got}）。",
    "{field} is too long ({count} characters; at most {limit}).": "{field}太长（{count} 个字符；最多 {limit} 个）。",
    "{field} contains characters that are not valid Unicode text (a lone surrogate).": (
        "{field}包含无效的 Unicode 字符（孤立的代理项）。"
    ),
    "{field} must be one of {choices} (got {got}).": "{field}必须是 {choices} 之一（收到的是 {got}）。",
    "{field} must be true or false (got {got}).": "{field}必须是 true 或 false（收到的是 {got}）。",
    "This endpoint takes {count} values ({names}); the request sent {got}.": (
        "此接口需要 {count} 个值（{names}）；请求发送了 {got} 个。"
    ),
    "The request could not be read: a value does not match what this endpoint takes "
    "(see “Use via API” at the bottom of the page).": (
        "无法读取请求：有个值与此接口的要求不符（见页面底部的“通过 API 使用”）。"
    ),
    # --- input checks of the tasks -------------------------------------------------------------------
    "No image was provided: upload one.": "没有提供图片：请上传一张。",
    "No image to caption: upload one.": "没有要描述的图片：请上传一张。",
    "No image to read: upload one.": "没有要识别的图片：请上传一张。",
    "No audio was provided: upload a recording or record one with the microphone.": (
        "没有提供音频：请上传录音，或用麦克风录一段。"
    ),
    f"No video was provided: {_VIDEO_FORMATS[0]}.": f"没有提供视频：{_VIDEO_FORMATS[1]}。",
    "Type a prompt first: a description of the image you want.": "请先输入提示词：描述你想要的图片。",
    "Type a question about the image first.": "请先输入一个关于这张图片的问题。",
    "The {name} is too long ({count} characters; at most {limit}).": "{name}太长（{count} 个字符；最多 {limit} 个）。",
    "question": "问题",
    "prompt": "提示词",
    "negative prompt": "反向提示词",
    "caption prefix": "描述的开头",
    "{name} must be a whole number between {low} and {high} (got {value}).": (
        "{name}必须是介于 {low} 和 {high} 之间的整数（收到的是 {value}）。"
    ),
    "{name} must be a multiple of 8 (got {value}).": "{name}必须是 8 的倍数（收到的是 {value}）。",
    "Width": "宽度",
    "Height": "高度",
    "Number of images": "图片数量",
    "Size must be 'auto' or WIDTHxHEIGHT such as 768x512 (got {got}).": (
        "尺寸必须是 'auto' 或“宽x高”，例如 768x512（收到的是 {got}）。"
    ),
    "Guidance scale must be between 0 and {high} (got {value}).": (
        "引导强度必须在 0 到 {high} 之间（收到的是 {value}）。"
    ),
    # images
    "The image could not be read: the file is damaged or incomplete. Upload it again, or try a different file.": (
        "无法读取图片：文件已损坏或不完整。请重新上传，或换一个文件。"
    ),
    "SVG images aren't supported: export the drawing as PNG or JPEG and upload that instead.": (
        "不支持 SVG 图片：请把图形导出为 PNG 或 JPEG 后再上传。"
    ),
    "HEIC/HEIF photos aren't supported: convert the photo to JPEG or PNG and upload that "
    "(on an iPhone: Settings › Camera › Formats › Most Compatible).": (
        "不支持 HEIC/HEIF 照片：请把照片转换为 JPEG 或 PNG 后上传（iPhone 上：设置 › 相机 › 格式 › 兼容性最佳）。"
    ),
    f"This file is not an image, or its format isn't supported: {_IMAGE_FORMATS[0]}.": (
        f"此文件不是图片，或其格式不受支持：{_IMAGE_FORMATS[1]}。"
    ),
    f"This file is {{kind}}, not an image: {_IMAGE_FORMATS[0]}.": f"此文件是{{kind}}，不是图片：{_IMAGE_FORMATS[1]}。",
    "a PDF document": "PDF 文档",
    "a video": "视频",
    "an audio file": "音频文件",
    "a PostScript (EPS) file": "PostScript（EPS）文件",
    "a ZIP archive or office document": "ZIP 压缩包或 Office 文档",
    "The image is too large ({width} × {height} pixels = {pixels}; the limit is {limit}): "
    "resize it and upload it again.": (
        "图片太大（{width} × {height} 像素 = {pixels}；上限为 {limit}）：请缩小后重新上传。"
    ),
    "The image has no pixels ({width} × {height}): upload a different image.": (
        "图片没有像素（{width} × {height}）：请换一张图片上传。"
    ),
    "Links to images can't be opened here: download the image and upload the file.": (
        "这里不能打开图片链接：请先下载图片，再上传文件。"
    ),
    # files
    "The {kind} file is empty (0 bytes): upload a different file.": "{kind}文件是空的（0 字节）：请换一个文件上传。",
    "The {kind} file is too large ({size}; the limit is {limit}): {advice}": (
        "{kind}文件太大（{size}；上限为 {limit}）：{advice}"
    ),
    "upload a smaller or more compressed image.": "请上传更小或压缩率更高的图片。",
    "upload a shorter or more compressed recording.": "请上传更短或压缩率更高的录音。",
    "The uploaded {kind} could not be found: upload it again.": "找不到上传的{kind}：请重新上传。",
    "The uploaded {kind} could not be opened: upload it again.": "无法打开上传的{kind}：请重新上传。",
    # audio
    f"The audio could not be read: the file is damaged or incomplete. Upload it again, or {_AUDIO_FORMATS[0]}.": (
        f"无法读取音频：文件已损坏或不完整。请重新上传，或{_AUDIO_FORMATS[1].removeprefix('请')}。"
    ),
    "The recording is too long ({length}; the limit is {limit}): trim it and upload it again.": (
        "录音太长（{length}；上限为 {limit}）：请剪短后重新上传。"
    ),
    "The recording is too short ({length} ms; at least {limit} ms): record a little longer.": (
        "录音太短（{length} 毫秒；至少需要 {limit} 毫秒）：请录得稍长一些。"
    ),
    "The recording contains no sound samples (zero length): upload a different file.": (
        "录音中没有任何声音采样（长度为零）：请换一个文件上传。"
    ),
    f"This file is not an audio recording, or its format isn't supported: {_AUDIO_FORMATS[0]}.": (
        f"此文件不是录音，或其格式不受支持：{_AUDIO_FORMATS[1]}。"
    ),
    f"This file is {{kind}}, not an audio recording: {_AUDIO_FORMATS[0]}.": (
        f"此文件是{{kind}}，不是录音：{_AUDIO_FORMATS[1]}。"
    ),
    "No speech detected: the recording is silent or almost silent, so there is no emotion to estimate. "
    "Check the microphone level, or upload a recording with speech.": (
        "没有检测到语音：录音是静音或几乎无声，因此无法估计情绪。请检查麦克风音量，或上传一段有人说话的录音。"
    ),
    # video
    f"The video could not be read: the file is damaged or incomplete. Upload it again, or {_VIDEO_FORMATS[0]}.": (
        f"无法读取视频：文件已损坏或不完整。请重新上传，或{_VIDEO_FORMATS[1].removeprefix('请')}。"
    ),
    "The video is too long ({length}; the limit is {limit}): trim it and upload it again.": (
        "视频太长（{length}；上限为 {limit}）：请剪短后重新上传。"
    ),
    "This file has sound but no pictures (an audio file): use the audio tab, or upload a video.": (
        "此文件只有声音、没有画面（是音频文件）：请改用音频标签页，或上传视频。"
    ),
    f"This file is an image, not a video: {_VIDEO_FORMATS[0]} (or use the captioning tab).": (
        f"此文件是图片，不是视频：{_VIDEO_FORMATS[1]}（或改用图像标签页）。"
    ),
    f"This file has no video track: {_VIDEO_FORMATS[0]}.": f"此文件没有视频轨道：{_VIDEO_FORMATS[1]}。",
    f"The video contains no pictures that could be decoded: {_VIDEO_FORMATS[0]}.": (
        f"视频中没有可以解码的画面：{_VIDEO_FORMATS[1]}。"
    ),
    f"This file is {{kind}}, not a video: {_VIDEO_FORMATS[0]}.": f"此文件是{{kind}}，不是视频：{_VIDEO_FORMATS[1]}。",
    "Links to videos can't be opened here: download the video and upload the file.": (
        "这里不能打开视频链接：请先下载视频，再上传文件。"
    ),
    # models and memory
    "{title} is not available on this server (its model {model} is not installed).": (
        "本服务器无法使用{title}（其模型 {model} 未安装）。"
    ),
    "This model is still being loaded for another request. Try again in a moment.": (
        "该模型仍在为另一个请求加载中，请稍后再试。"
    ),
    "This server does not have enough memory for {model}.": "本服务器的内存不足以运行 {model}。",
    "The server is busy with other requests and has no memory free for this one. Try again in a moment.": (
        "服务器正忙于处理其他请求，没有空闲内存处理本请求。请稍后再试。"
    ),
    # --- zips (mmdemo.media.archive) -----------------------------------------------------------------
    "This file is not a zip archive, or it is damaged: upload a .zip file.": (
        "此文件不是 zip 压缩包，或已损坏：请上传 .zip 文件。"
    ),
    "The zip is empty: it contains no files.": "zip 是空的：里面没有任何文件。",
    "The zip contains a file with an absolute path ({name}): such zips are refused.": (
        "zip 中有使用绝对路径的文件（{name}）：此类 zip 会被拒绝。"
    ),
    "The zip contains a path that leads out of its folder with '..' ({name}): such zips are refused.": (
        "zip 中有用“..”跳出其文件夹的路径（{name}）：此类 zip 会被拒绝。"
    ),
    "The zip contains a symbolic link ({name}): links are refused. Zip the files themselves.": (
        "zip 中有符号链接（{name}）：不接受链接，请直接压缩文件本身。"
    ),
    "The zip contains a special file ({name}) that is neither a file nor a folder: such zips are refused.": (
        "zip 中有既不是文件也不是文件夹的特殊文件（{name}）：此类 zip 会被拒绝。"
    ),
    "The zip contains a password-protected file ({name}): zip the files without a password.": (
        "zip 中有设了密码的文件（{name}）：请不设密码重新压缩。"
    ),
    "The zip contains the same name twice ({name}): such zips are refused.": (
        "zip 中同一个名称出现了两次（{name}）：此类 zip 会被拒绝。"
    ),
    "The zip holds too many files ({count}; at most {limit}).": "zip 中的文件太多（{count} 个；最多 {limit} 个）。",
    "The zip's contents are too large once unpacked (over {limit}).": "zip 解压后的内容太大（超过 {limit}）。",
    "The zip contains a file compressed more than {limit} times ({name}): it looks like a zip bomb and is refused.": (
        "zip 中有压缩比超过 {limit} 倍的文件（{name}）：它看起来像 zip 炸弹，已被拒绝。"
    ),
    "A file in the zip could not be unpacked ({name}): the zip is damaged, or uses a compression method "
    "this server can't read.": "zip 中有个文件无法解压（{name}）：zip 已损坏，或使用了本服务器无法读取的压缩方式。",
    "all files together": "所有文件合计",
    "{field}: at most {limit} files at once (got {count}).": "{field}：一次最多 {limit} 个文件（收到 {count} 个）。",
    # --- evaluation of an uploaded data set (mmdemo.evaluation.upload) -------------------------------
    "The zip has no metadata.jsonl (at its top or in its one folder): add one, with a JSON object per line "
    "naming a file ('file_name') and its reference ({columns}); see README, Evaluation.": (
        "zip 中没有 metadata.jsonl（应位于顶层或其唯一的文件夹中）：请添加一个，每行一个 JSON 对象，"
        "写明文件（'file_name'）及其参考答案（{columns}）；见 README 的 Evaluation 一节。"
    ),
    "The zip holds several data sets ({names}): zip one of them.": "zip 中有多个数据集（{names}）：请只压缩其中一个。",
    "metadata.jsonl has {count} bad line(s):\n  {lines}": "metadata.jsonl 中有 {count} 行有问题：\n  {lines}",
    "{count} file(s) named in metadata.jsonl are not in the zip: {names}": (
        "metadata.jsonl 中列出的 {count} 个文件不在 zip 中：{names}"
    ),
    "metadata.jsonl lists no items.": "metadata.jsonl 中没有列出任何条目。",
    "metadata.jsonl is not UTF-8 text ({detail}).": "metadata.jsonl 不是 UTF-8 文本（{detail}）。",
    # the metrics and items tables (their headers are not translated in the browser)
    "Metric": "指标",
    "Value": "数值",
    "item": "条目",
    "reference": "参考答案",
    "prediction": "预测",
    "accuracy %": "准确率 %",
    "as word": "对应的词",
    "error": "错误",
    # --- many photos (mmdemo.tasks.batch_caption) ----------------------------------------------------
    "No photos to caption: upload photos, or a zip of photos.": "没有要描述的照片：请上传照片，或照片的 zip 压缩包。",
    "Too many photos (more than {limit}): split them into smaller batches.": (
        "照片太多（超过 {limit} 张）：请分成几批上传。"
    ),
    "Captioning this photo failed (the details are in the server log).": "描述这张照片时出错（详情见服务器日志）。",
    "No photo could be captioned: the table says why for each file.": (
        "没有一张照片能生成描述：表格中列出了每个文件的原因。"
    ),
    "caption": "描述",
    "text": "文字",
    "answer": "回答",
}
"""English → Simplified Chinese for what the server says (:func:`say`, :func:`translate`); whole sentences,
templates (``{name}``: a value, itself translated when it is a known word) and the words that fill them."""

CATALOGUES: dict[str, dict[str, dict[str, str]]] = {"ui": {"zh-CN": UI}, "messages": {"zh-CN": MESSAGES}}
"""Every catalogue by locale (English is the key itself)."""

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
I18N = gr.I18n(
    en={_key(text): text for text in _FIXED},
    **{locale: {_key(text): translated[text] for text in _FIXED} for locale, translated in CATALOGUES["ui"].items()},
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
        for locale, translated in CATALOGUES["ui"].items():
            I18N.translations[locale].setdefault(key, _format(translated[english], values))
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


def request_locale(request: Any = None) -> str:
    """The locale of ``request`` (a ``gr.Request``), else of the request being processed; ``en`` without one."""
    if request is None:
        request = current_request.get()
    if request is None:
        from gradio.context import LocalContext

        request = LocalContext.request.get(None)
    if isinstance(request, Sequence) and not isinstance(request, str):
        request = request[0] if request else None
    try:
        headers = getattr(request, "headers", None) or {}
        return locale_from_header(headers.get("accept-language"))
    except Exception:  # a request without readable headers
        return "en"


# --- messages from the server --------------------------------------------------------------------


def say(english: str, locale: str | None = None, **values: Any) -> str:
    """``english`` (an entry of :data:`MESSAGES`, else of :data:`UI`) in ``locale`` (default: the request's),
    with ``values`` filled in as they are (translate them first where they are words)."""
    if english not in MESSAGES and english not in UI:
        raise KeyError(f"not in the catalogues (mmdemo.ui.i18n): {english!r}")
    locale = locale or request_locale()
    return _format(english if locale == "en" else _known(english, locale) or english, values)


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(template)  # literal, name, literal, name, …
    return re.compile(
        "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)), re.DOTALL
    )


_TEMPLATES = sorted(
    ((_pattern(english), english) for english in MESSAGES if placeholders(english)),
    key=lambda item: -len(_PLACEHOLDER.sub("", item[1])),  # the most specific first
)
_FIELD = re.compile(r"(?P<label>.+) \((?P<parameter>[A-Za-z_][A-Za-z0-9_]*)\)")


def translate(text: str, locale: str | None = None) -> str:
    """A finished English message in ``locale`` (default: the request's): a whole entry of the catalogues, else
    the first template that matches, with its values translated where they are known words (a field named
    ``Label (parameter)`` by its label); anything else as it is."""
    locale = locale or request_locale()
    if locale == "en" or not isinstance(text, str):
        return text
    return _translate(text, locale, depth=0)


def _known(text: str, locale: str, first: str = "messages") -> str | None:
    """``text`` whole in ``locale`` from the catalogues (``first`` is asked first: a field's label is a word
    of the page, "Size" of an image; a table header a word of the server's, "Size" of a model)."""
    for name in (first, *(n for n in CATALOGUES if n != first)):
        english = MESSAGES if name == "messages" else UI
        if text in english:
            return CATALOGUES[name][locale].get(text)
    return None


def _translate(text: str, locale: str, depth: int) -> str:
    known = _known(text, locale)
    if known is not None:
        return known
    if depth > 2:
        return text
    for pattern, template in _TEMPLATES:
        match = pattern.fullmatch(text)
        if match:
            values = {name: _value(value, locale, depth) for name, value in match.groupdict().items()}
            return _format(CATALOGUES["messages"][locale].get(template, template), values)
    return text


def _value(value: str, locale: str, depth: int) -> str:
    field = _FIELD.fullmatch(value)
    label = _known(field["label"], locale, first="ui") if field else None
    if field and label is not None:
        return f"{label}（{field['parameter']}）"
    return _translate(value, locale, depth + 1)


def user_error(message: Message | str, title: str) -> gr.Error:
    """A ``gr.Error`` for the user: English, carrying ``message`` so that :func:`localized` renders it in the
    language of the request (a plain string is matched against the templates instead)."""
    error = gr.Error(str(message), title=title, print_exception=False)
    error.mmdemo_message = message  # type: ignore[attr-defined]
    return error


def localized(error: gr.Error, locale: str | None = None) -> gr.Error:
    """``error`` with its message and title in ``locale`` (default: the request's); the same error in English."""
    locale = locale or request_locale()
    if locale == "en":
        return error
    copy = type(error).__new__(type(error))
    copy.__dict__.update(error.__dict__)
    keyed = getattr(error, "mmdemo_message", None)  # a Message: rendered in the locale; else matched (below)
    copy.message = keyed.text(locale) if isinstance(keyed, Message) else translate(error.message, locale)
    copy.title = translate(error.title, locale)
    copy.args = (copy.message,)
    return copy
