"""Transcripts as WebVTT caption tracks, and a human name for each track's language."""

from __future__ import annotations

from collections.abc import Iterable

from .transcripts import Segment

# English names, as a caption menu in an English interface shows them; a tag not listed
# falls back to the tag itself, which a player still shows and a person can still read.
LANGUAGES = {
    "ar": "Arabic", "bn": "Bengali", "ca": "Catalan", "cs": "Czech", "da": "Danish", "de": "German",
    "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian",
    "fi": "Finnish", "fil": "Filipino", "fr": "French", "ga": "Irish", "gl": "Galician", "he": "Hebrew",
    "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "id": "Indonesian", "is": "Icelandic", "it": "Italian",
    "ja": "Japanese", "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian", "ms": "Malay", "nb": "Norwegian Bokmål",
    "nl": "Dutch", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sk": "Slovak", "sl": "Slovenian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "zh": "Chinese",
}
REGIONS = {
    "AR": "Argentina", "AT": "Austria", "AU": "Australia", "BE": "Belgium", "BR": "Brazil", "CA": "Canada",
    "CH": "Switzerland", "CN": "China", "DE": "Germany", "ES": "Spain", "FR": "France", "GB": "United Kingdom",
    "HK": "Hong Kong", "IE": "Ireland", "IN": "India", "MX": "Mexico", "NZ": "New Zealand", "PT": "Portugal",
    "TW": "Taiwan", "US": "United States", "ZA": "South Africa", "419": "Latin America",
}
SCRIPTS = {"Hans": "Simplified", "Hant": "Traditional", "Latn": "Latin", "Cyrl": "Cyrillic"}


def caption_label(language: str) -> str:
    """``pt-BR`` → ``Portuguese (Brazil)``; a tag it does not know stays as it is."""
    primary, *subtags = language.split("-")
    name = LANGUAGES.get(primary.lower())
    if name is None:
        return language
    details = []
    for subtag in subtags:
        if (region := REGIONS.get(subtag.upper())) is not None:
            details.append(region)
        elif (script := SCRIPTS.get(subtag.title())) is not None:
            details.append(script)
        else:
            return language  # a variant we cannot name: the exact tag says more than a half-name
    return f"{name} ({', '.join(details)})" if details else name


def cue_time(seconds: float) -> str:
    """WebVTT's ``hh:mm:ss.ttt`` (hours may exceed two digits)."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    whole, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}.{millis:03d}"


def _cue_text(text: str) -> str:
    # "&" and "<" would start markup, and "-->" in a payload ends the cue for some parsers;
    # a blank line would end it for all of them.
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join(line.strip() for line in escaped.splitlines() if line.strip())


def webvtt(segments: Iterable[Segment]) -> str:
    """A WebVTT file with one cue per segment, in the order given."""
    cues = [f"{cue_time(s.start)} --> {cue_time(s.end)}\n{_cue_text(s.text)}" for s in segments]
    return "WEBVTT\n\n" + "".join(f"{cue}\n\n" for cue in cues)
