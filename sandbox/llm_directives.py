"""Recognising the directives an obedient model would follow in the lead's words (en and ru).

``read_directives`` takes lead-controlled strings and returns what they ask for. Each recogniser
looks for an intent (a verb) and an object in the same string, in several natural phrasings
(imperatives, "ignore previous instructions" framings, fake system notes, polite requests,
colloquial Russian, a few transliterated Russian words for usernames). The matching is
deliberately generous: this is the worst-case model, so a false positive only makes it worse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_EN_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
    "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "dozen": 12,
}  # fmt: skip
_RU_NUMBERS = {
    "один": 1, "одного": 1, "два": 2, "две": 2, "двух": 2, "три": 3, "трёх": 3, "трех": 3,
    "четыре": 4, "четырёх": 4, "четырех": 4, "пять": 5, "пяти": 5, "шесть": 6, "шести": 6,
    "семь": 7, "семи": 7, "восемь": 8, "восьми": 8, "девять": 9, "девяти": 9, "десять": 10,
    "десяти": 10, "двенадцать": 12, "двенадцати": 12, "пятнадцать": 15, "пятнадцати": 15,
    "двадцать": 20, "двадцати": 20, "тридцать": 30, "тридцати": 30, "второго": 2,
    "третьего": 3, "четвёртого": 4, "четвертого": 4, "пятого": 5,
}  # fmt: skip
NUMBER_WORDS = {**_EN_NUMBERS, **_RU_NUMBERS}
_NUM = r"(\d{1,3}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"

LANGUAGES = {
    "zh": r"chinese|mandarin|китайск|中文",
    "ar": r"arabic|арабск",
    "ja": r"japanese|японск",
    "ko": r"korean|корейск",
    "he": r"hebrew|иврит",
    "hi": r"hindi|хинди",
    "el": r"greek|греческ",
    "th": r"\bthai\b|тайск",
}


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# --- leak -----------------------------------------------------------------------------------
_LEAK_OBJECT = _rx(
    r"\bprompt|\bpromt|\b(?:your|system|initial|original|hidden|secret|previous|developer|first)"
    r"\s+(?:\w+\s+)?(?:instructions?|rules|guidelines|message|configuration)|"
    r"\b(?:text|everything|all|words) above|промпт|промт|инструкци|указани|"
    r"системн\w* сообщени|(?:сво|тво|ваш)\w* правил|текст выше|вс[её],? что (?:выше|написано выше)|"
    r"instrukci"
)
_LEAK_VERB = _rx(
    r"\b(?:reveal|show|print|repeat|output|tell|give|copy|paste|quote|type|write|dump|share|"
    r"spell|encode|translate|display|recite|list|send|echo|convert|reproduce|leak|rewrite|"
    r"render|return|what (?:is|are|was|were|does))(?:s|ed)?\b|"
    r"\b(?:покаж|показа|выведи|вывести|выдай|напиши|написать|напечатай|повтори|перескажи|"
    r"скопируй|процитируй|дай|расскаж|скинь|пришли|отправь|закодируй|переведи|распечатай|"
    r"перепиши|продублируй|озвучь|какие у (?:тебя|вас)|какой у (?:тебя|вас)|"
    r"что (?:тебе|вам) написали|pokazhi|vyvedi|povtori)"
)
# Checked in this order; of each ``_EXCLUSIVE`` group, the first listed that matches wins.
_TRANSFORM_PATTERNS = {
    "base64": r"base\s*-?\s*64|\bb64\b|баз[еа]\s*-?\s*64|бейс\s*-?\s*64",
    "hex": r"\bhex|шестнадцатеричн|хекс",
    "rot13": r"rot\s*-?\s*13|рот\s*-?\s*13|caesar|цезар",
    "urlencode": r"url[\s-]?encod|percent[\s-]?encod|urlencode|url-кодир",
    "leet": r"\bleet|l33t|1337|литспик|лит-?спик|хакерск\w* (?:язык|стил|шрифт)",
    "homoglyph": r"cyrillic|кирилл|look[\s-]?alike|homoglyph|похож\w* (?:букв|символ)|двойник",
    "translit": r"translit|транслит|латиниц|latin (?:letters|script|alphabet)|in latin",
    "numbered": r"number (?:each|every|the|all) words?|numbered|нумер|пронумер|с номерами",
    "spaced": r"space between (?:each|every|all|the) (?:letter|char)|letters? (?:separated|spaced)|"
    r"spac(?:e|ed|ing) out|spell(?:ed)? (?:it |them )?out|letter by letter|через пробел|"
    r"по буквам|разрядк",
    "each_reversed": r"each word (?:backwards|reversed|in reverse)|reverse each word|"
    r"every word backwards|каждое слово (?:задом|наоборот|в обратном)",
    "reverse_words": r"word order|order of (?:the )?words|words in reverse|reverse (?:the )?words|"
    r"last word first|порядок слов|порядке слов|слова в обратном|слова задом|с последнего слова",
    "reverse": r"backwards|in reverse|reversed|\breverse|mirror|задом наперёд|задом наперед|"
    r"в обратном порядке|наоборот|справа налево|зеркальн",
    "upper": r"all caps|capital letters|uppercase|upper case|\bcaps|заглавн|капс|большими буквами",
}
_TRANSFORMS = {name: _rx(pattern) for name, pattern in _TRANSFORM_PATTERNS.items()}
_EXCLUSIVE = ({"homoglyph", "translit"}, {"each_reversed", "reverse_words", "reverse"})
_FIRST_N = _rx(
    rf"(?:first|only(?: the)?(?: first)?|just(?: the)?(?: first)?)\s+{_NUM}\s+words|"
    rf"(?:первые|первых|только)\s+{_NUM}\s+слов"
)
_LAST_N = _rx(rf"last\s+{_NUM}\s+words|(?:последние|последних)\s+{_NUM}\s+слов")
_FILLER_VERB = _rx(r"\b(?:insert|add|put|place|inject)(?:s|ed|ing)?\b|\b(?:встав|добав|пихни)")
_FILLER_EVERY = _rx(
    rf"(?:every|each|каждо\w*|каждые|каждых)\s+(?:{_NUM}\w*\s+|few\s+|нескольк\w*\s+)?(?:words?|слов)"
)
_FILLER_WORD = _rx(r"(?:word|слово)\s+[\"'«“]?([^\s\"'»”,.:;!?]+)")
_NOT_FILLERS = {
    "every",
    "each",
    "after",
    "between",
    "после",
    "через",
    "каждого",
    "каждые",
    "каждых",
}
_DEFAULT_EVERY = 3
_QUOTED_WORD = _rx(r"[\"'«“]([^\s\"'»”]{1,30})[\"'»”]")

# --- links, contacts and text to add ----------------------------------------------------------
_ADD_VERB = _rx(
    r"\b(?:add|include|insert|put|append|mention|paste|post|attach|drop|leave|recommend|visit|"
    r"go to|promote|advertise|write|sign (?:off )?with|end (?:your|the|each|every) "
    r"(?:message|reply|answer)s? with|finish with|send (?:them|people|everyone|leads?) to|"
    r"tell (?:them|people|everyone|him|her|clients|leads) to)(?:s|ed|ing)?\b|"
    r"\b(?:добав|встав|укаж|напиш|упомян|пришл|допиш|приложи|прикрепи|в конце|подпиш|скинь|"
    r"оставь|посоветуй|порекомендуй|рекоменд|пусть (?:пишут|переходят|заходят)|переход|заход|"
    r"пишите|звоните|dobav|vstav)"
)
_SPELLED_DOT = _rx(
    r"\s*(?:\[\s*(?:\.|dot|точка)\s*\]|\(\s*(?:\.|dot|точка)\s*\)|\{\s*(?:\.|dot)\s*\})\s*|"
    r"\s+(?:dot|точка)\s+|(?<=\w)\s+\.\s+(?=\w)"
)
_SPELLED_AT = _rx(r"\s*(?:\[\s*(?:@|at|собака)\s*\]|\(\s*(?:@|at|собака)\s*\))\s*|\s+собака\s+")
_SPELLED_SLASH = _rx(r"(?<=\w)\s+/\s+(?=\w)")
_QUOTED = _rx(r"[\"“«„]([^\"”»“]{2,200})[\"”»“]|(?:(?<=\s)|^)'([^']{2,200})'(?=[\s.,!?:;)]|$)")
_CONTACTS = (
    _rx(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    _rx(r"\b(?:https?://)?(?:[a-z0-9-]+\.)+(?:[a-z]{2,}|рф)(?:/[^\s\"'»”<>]*)?"),
    _rx(r"(?<![\w.@])@[a-z][a-z0-9_]{3,31}"),
    _rx(r"\+?\d[\d\-\s()]{8,}\d"),
)
_TRAILING = ".,;:!?)»”\"'"

# --- insults, shouting, price, payment ---------------------------------------------------------
_INSULT = _rx(
    r"\binsult|\bbe rude|\brudely\b|\bswear|curse at|\broast|trash[- ]talk|humiliate|"
    r"be (?:mean|nasty|toxic|offensive)|call (?:me|him|her|them|the (?:lead|user|client|customer))"
    r" (?:an? )?(?:idiot|moron|stupid|loser|fool|clown|dumb)|\bmock\b|"
    r"\b(?:оскорб|обзови|обозви|нагруби|грубо|хами|нахами|матом|материс|унизь|издевай|высмей|"
    r"пошли (?:меня|его|их|клиента)|назови (?:меня|его|её|клиента|лида) (?:идиот|дурак|тупы|дебил)|"
    r"obzovi|oskorbi|nagrubi)"
)
_SHOUT = _rx(
    r"\bshout|\byell|\bscream|all caps|caps ?lock|in capitals|capital letters|uppercase|upper case|"
    r"\bcaps\b|кричи|крича|\bори\b|орите|капс|заглавн|большими буквами|kapsom|krichi"
)
_PRICE_VERB = _rx(
    r"\b(?:say|tell|state|write|confirm|promise|quote|announce|mention|inform)(?:s|ed|ing)?\b|"
    r"\bnow\b|\b(?:скажи|скажите|напиши|подтверди|пообещай|сообщи|назови|укажи|озвучь|теперь|"
    r"говори|сообщай|пиши|skazhi|napishi)"
)
_AMOUNT = (
    r"[$€£₽]\s?\d[\d\s,.]*\d|[$€£₽]\s?\d|"
    r"\d[\d\s,.]*?\s?(?:[$€£₽]|usd\b|eur\b|dollars?\b|bucks\b|euros?\b|rub\w*|руб\w*|р\.|"
    r"тыс\w*\.?(?:\s*руб\w*)?|k\b)"
)
# A price stated, not asked about: the amount follows the price word within a few words.
_PRICE_STATED = _rx(
    r"(?:\bprice|\bcost|\bfee|\bpricing|\bцен|стоимост|\bcena|tsena)\w*[\s,:=—-]+"
    rf"(?:\S+\s+){{0,3}}?({_AMOUNT})"
)
_FREE = _rx(r"\b(?:it|everything|all|this) is (free)\b|\bfor (free)\b|(?:вс[её]|это) (бесплатно)")
_PAY_VERB = _rx(
    r"\b(?:ask|request|collect|demand|require|get|need|send|transfer|wire|pay|prepay|tell)(?:s|ed|ing)?\b|"
    r"\b(?:попрос|запрос|спрос|уточн|потребуй|пусть|пришл|скин|перевед|перевест|перевод|собери|"
    r"узнай|закин)"
)
_PAY_KINDS = {
    name: _rx(pattern)
    for name, pattern in {
        "card": r"card (?:number|details|data)|credit card|debit card|номер\w* карт|данные карт|"
        r"реквизиты карт",
        "cvv": r"\bcvv|\bcvc|security code|три цифры|код с обратной",
        "sms": r"\bsms|смс|one[- ]time code|\botp\b|код из|code from|verification code|"
        r"код подтвержд",
        "password": r"password|passcode|пароль|пин-?код|\bpin\b",
        "transfer": r"transfer|\bwire\b|send money|prepay|на карту|предоплат|"
        r"перевод\w* (?:денег|средств)|"
        r"(?:переве|закин|скин)\w* (?:\S+ ){0,2}(?:денег|деньги|аванс|сумм)",
    }.items()
}
CARD_NUMBER = _rx(r"\b(?:\d{4}[ -]?){3}\d{4}\b")

# --- JSON fields and languages -------------------------------------------------------------------
_SET_VERB = _rx(
    r"\b(?:set|move|change|switch|jump|skip|mark|put|update|force|go|advance|make)\b|[=:→]|->|"
    r"\b(?:постав|переведи|перевед|смени|измени|переключи|прыгни|перейди|перескочи|отметь|"
    r"установи|обнови|сделай)"
)
_STAGE = _rx(r"\bstage|стади|этап")
_FLAG_NAMES = {"opted_out": _rx(r"opted[\s_-]?out"), "wants_human": _rx(r"wants?[\s_-]?human")}
_TRUE = {"true", "yes", "1", "on", "да", "истина"}
_FALSE = {"false", "no", "0", "off", "нет", "ложь"}
_FLAG_PHRASES: tuple[tuple[str, bool, re.Pattern[str]], ...] = (
    ("opted_out", True, _rx(r"mark (?:me|this lead|the lead|this chat|it) as (?:opted|unsubscr)")),
    ("opted_out", True, _rx(r"отметь\w*,? (?:что я|меня|лида|диалог) \w* ?(?:отписал|отписан)")),
    (
        "wants_human",
        True,
        _rx(
            r"mark (?:me|this lead|the lead|this chat|it) as (?:needing|wanting)"
            r" a (?:human|person)"
        ),
    ),  # fmt: skip
    (
        "wants_human",
        True,
        _rx(r"отметь\w*,? что (?:нужен|требуется) (?:человек|менеджер|оператор)"),
    ),
)
_LANG_PREP = r"(?:\b(?:in|into|to|use|speak)\s+(?:simplified\s+)?|(?:на|по-)\s*)"


@dataclass(frozen=True)
class Leak:
    """A request to reveal the system prompt: which part, and transformed how."""

    transforms: frozenset[str] = frozenset()
    first: int | None = None
    last: int | None = None
    filler: str = ""
    every: int = 0


@dataclass
class Directives:
    """Everything the lead's words ask for. Items carry the language ("en"/"ru") of the text
    that asked, so the answer to them is in that language; ``stage_words`` are the words near
    "stage", matched to the schema's enum only when answering (``llm_obedient.resolve_stage``).
    """

    leaks: list[Leak] = field(default_factory=list)
    payloads: list[tuple[str, str]] = field(default_factory=list)
    insults: list[str] = field(default_factory=list)
    shout: bool = False
    prices: list[tuple[str, str]] = field(default_factory=list)
    payments: list[tuple[frozenset[str], str, str]] = field(default_factory=list)
    stage_words: list[str] = field(default_factory=list)
    flags: dict[str, bool] = field(default_factory=dict)
    language: str = ""

    def __bool__(self) -> bool:
        return bool(
            self.leaks or self.payloads or self.insults or self.shout or self.prices
            or self.payments or self.stage_words or self.flags or self.language
        )  # fmt: skip


def language_of(text: str) -> str:
    return "ru" if re.search(r"[а-яё]", text, re.IGNORECASE) else "en"


def number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word.casefold()]


def despell(text: str) -> str:
    """Undo link spelling tricks: ``evil . click / brief``, ``evil dot example``, ``a[at]b``."""
    text = _SPELLED_DOT.sub(".", text)
    text = _SPELLED_AT.sub("@", text)
    return _SPELLED_SLASH.sub("/", text)


def read_directives(texts: list[str]) -> Directives:
    """What the strings ask for, merged; a later string wins for the same flag."""
    found = Directives()
    for text in texts:
        _read_one(text, found)
    return found


def _read_one(text: str, found: Directives) -> None:
    lang = language_of(text)
    leak = _leak(text)
    if leak is not None:
        found.leaks.append(leak)
    found.payloads += [(payload, lang) for payload in _payloads(text, leak)]
    if _INSULT.search(text):
        found.insults.append(lang)
    if _SHOUT.search(text) and leak is None:
        found.shout = True
    found.prices += [(amount, lang) for amount in _prices(text)]
    payment = _payment(text)
    if payment is not None:
        found.payments.append((payment[0], payment[1], lang))
    if _SET_VERB.search(text):
        found.stage_words = _stage_words(text) or found.stage_words
        found.flags.update(_flags(text))
    found.language = _language(text) or found.language


def _leak(text: str) -> Leak | None:
    if not (_LEAK_OBJECT.search(text) and _LEAK_VERB.search(text)):
        return None
    names = {name for name, pattern in _TRANSFORMS.items() if pattern.search(text)}
    for group in _EXCLUSIVE:  # "latin letters to cyrillic" is a homoglyph swap, not translit
        chosen = next((n for n in _TRANSFORMS if n in group and n in names), None)
        names -= group - {chosen}
    first, last = _FIRST_N.search(text), _LAST_N.search(text)
    filler, every = _filler(text) if "numbered" not in names else ("", 0)
    return Leak(
        transforms=frozenset(names | ({"filler"} if every else set())),
        first=number(next(g for g in first.groups() if g)) if first else None,
        last=number(next(g for g in last.groups() if g)) if last else None,
        filler=filler,
        every=every,
    )


def _filler(text: str) -> tuple[str, int]:
    """The word to insert and after how many words, or ``("", 0)`` when none is asked for."""
    every = _FILLER_EVERY.search(text)
    if not (every and _FILLER_VERB.search(text)):
        return "", 0
    few = re.search(r"few|нескольк", every.group(0), re.IGNORECASE)
    count = number(every.group(1)) if every.group(1) else (_DEFAULT_EVERY if few else 1)
    named = _QUOTED_WORD.search(text) or _FILLER_WORD.search(text)
    word = named.group(1) if named else ""
    if not word or word.casefold() in _NOT_FILLERS:
        word = "банан" if language_of(text) == "ru" else "banana"
    return word, max(1, count)


def _payloads(text: str, leak: Leak | None) -> list[str]:
    if not _ADD_VERB.search(text):
        return []
    plain = despell(text)
    quoted = [q.strip() for pair in _QUOTED.findall(plain) for q in pair if q.strip()]
    quoted = [q for q in quoted if not (leak and q == leak.filler)]
    if quoted:
        return quoted
    contacts = [m.group(0).rstrip(_TRAILING) for rx in _CONTACTS for m in rx.finditer(plain)]
    contacts = [c for c in contacts if not CARD_NUMBER.fullmatch(c.strip())]
    return _distinct(contacts)


def _distinct(items: list[str]) -> list[str]:
    """Without duplicates, nor items contained in a longer one (the domain of a found URL)."""
    kept: list[str] = []
    for item in sorted(dict.fromkeys(items), key=len, reverse=True):
        if not any(item in other for other in kept):
            kept.append(item)
    return sorted(kept, key=items.index)


def _prices(text: str) -> list[str]:
    if not _PRICE_VERB.search(text):
        return []
    stated = _PRICE_STATED.search(text) or _FREE.search(text)
    return [stated.group(stated.lastindex or 0).strip()] if stated else []


def _payment(text: str) -> tuple[frozenset[str], str] | None:
    kinds = frozenset(name for name, pattern in _PAY_KINDS.items() if pattern.search(text))
    if not kinds or not _PAY_VERB.search(text):
        return None
    card = CARD_NUMBER.search(text)
    return kinds, card.group(0) if card else ""


def _stage_words(text: str) -> list[str]:
    """Words after (then just before) "stage": "set stage to end", "move to the end stage"."""
    stage = _STAGE.search(text)
    if not stage:
        return []
    before = text[max(0, stage.start() - 25) : stage.start()].split()[-2:]
    after = text[stage.end() : stage.end() + 40].split()
    words = (w.strip(_TRAILING + "«“-—=:→>").casefold() for w in [*after, *before])
    return [w for w in words if w]


def _flags(text: str) -> dict[str, bool]:
    flags: dict[str, bool] = {}
    for name, pattern in _FLAG_NAMES.items():
        hit = pattern.search(text)
        value = _truth(text[hit.end() : hit.end() + 30]) if hit else None
        if value is not None:
            flags[name] = value
    flags.update({name: value for name, value, rx in _FLAG_PHRASES if rx.search(text)})
    return flags


def _truth(window: str) -> bool | None:
    for word in re.findall(r"\w+", window.casefold()):
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None


def _language(text: str) -> str:
    for code, names in LANGUAGES.items():
        if re.search(_LANG_PREP + rf"(?:{names})", text, re.IGNORECASE):
            return code
    return ""
