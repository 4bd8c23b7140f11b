"""Keyword matcher throughput: ``Matcher`` against ``NaiveMatcher`` at 10 … 10,000 rules.

Run ``python -m bench.parser``. Everything is generated from a seeded random: a vocabulary of real
and real-looking Russian and English words with their inflected forms, keyword sets (words and
phrases, minus words, campaigns scoped to chats or global) and chat messages of 5–40 words with
punctuation, emoji, links and mentions, some of them carrying a keyword of a set listening in that
chat. The last line printed is one JSON object for the CI record.

At 1,000 rules it also measures the parser with the lead-intent second stage on: every message
with a keyword hit then goes through an ``IntentClassifier`` (the shipped general model, one
instance shared by the campaigns that use it, as the parser keeps them), verdict and reason
included; the JSON line reports that rate and the drop against matching alone, measured
alternately in the same run.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from parser.intent.classify import IntentClassifier
from parser.intent.defaults import load_default
from parser.intent.examples_set import GENERAL
from parser.matcher import KeywordSetRules, Matcher, NaiveMatcher
from parser.stemming import StemCache

SEED = 20240601
RULE_COUNTS = (10, 100, 1_000, 10_000)
MESSAGES = 20_000
NAIVE_MESSAGES = {10: 2_000, 100: 1_000, 1_000: 300, 10_000: 100}
CHATS = 3_000
GLOBAL_CAMPAIGN_SHARE = 0.1  # most campaigns listen to chosen chats, a few to every chat
INJECT_SHARE = 0.08  # messages that carry a keyword of a set listening in their chat
INTENT_RULES = 1_000  # the rule count measured with the second stage on as well

# --- vocabulary ------------------------------------------------------------------------------

RU_MASC = (
    "разработчик программист дизайнер маркетолог таргетолог копирайтер бухгалтер юрист менеджер "
    "аналитик тестировщик фотограф монтажер сайт магазин проект заказ клиент ремонт договор бизнес "
    "бюджет кредит риелтор офис склад товар курс урок репетитор перевод переводчик инвестор "
    "стартап продукт сервис бот канал чат контент трафик лендинг логотип баннер ролик текст пост "
    "отзыв рецепт торт салон мастер парикмахер стилист тренер массаж психолог врач стоматолог "
    "адвокат нотариус участок гараж подрядчик электрик сантехник плиточник грузчик курьер переезд "
    "кондиционер холодильник ноутбук компьютер телефон смартфон планшет принтер роутер сервер "
    "хостинг домен маркетплейс поставщик экспорт импорт налог отчет аудит кредитор долг штраф "
    "иск патент бренд интерьер фасад забор фундамент кирпич бетон ламинат паркет потолок фургон "
    "эвакуатор тур отель билет праздник банкет фрилансер заказчик исполнитель специалист"
).split()
RU_FEM = (
    "работа квартира задача услуга реклама система программа команда зарплата оплата доставка "
    "покупка продажа аренда школа книга машина клиника уборка стрижка выпечка вывеска визитка "
    "верстка настройка разработка площадка платформа игра музыка свадьба фирма цена скидка "
    "подписка рассылка воронка страница витрина таблица схема модель кухня ванна дача"
).split()
RU_IYA = (
    "вакансия консультация студия компания акция стратегия лицензия гарантия презентация "
    "фотография инструкция категория технология аналитика"
).split()
RU_ADJ = (
    "новый быстрый красивый удобный надежный опытный срочный бесплатный платный личный полный "
    "частный готовый интересный рекламный мобильный строительный свадебный дешевый кухонный "
    "офисный оптовый розничный старый добрый умный модный современный"
).split()
RU_VERB = (
    "делать сделать знать работать читать думать помогать отвечать играть слушать начинать "
    "понимать обсуждать изучать покупать снимать собирать выбирать нанимать обучать продвигать "
    "запускать настраивать рассчитывать оплачивать заказывать предлагать ожидать решать"
).split()
EN_NOUN = (
    "developer designer website project client app bot channel chat course lesson tutor "
    "translator investor startup product service marketer copywriter accountant lawyer manager "
    "analyst tester photographer editor shop store order repair contract business budget loan "
    "realtor house office warehouse seller supplier logo banner video text post review recipe "
    "cake salon trainer massage therapist doctor dentist plumber electrician driver courier "
    "laptop computer phone printer router server domain marketplace tax report audit brand "
    "interior apartment room ticket hotel tour event wedding freelancer job task team price "
    "discount landing template plugin script parser scraper campaign lead funnel chatbot"
).split()
EN_VERB = (
    "build need look want help create make hire find order launch fix design develop write edit "
    "test sell buy rent translate teach learn work start pay search offer"
).split()
EN_ADJ = (
    "new fast cheap good simple mobile online local remote senior junior professional "
    "experienced reliable free paid urgent small big modern"
).split()
CHATTER = (
    "и в на не что как это я ты мы вы он она они с у к по за из от до для о же бы ли так вот уже "
    "еще только очень тоже всем привет здравствуйте спасибо пожалуйста да нет кто где когда "
    "почему можно нужно надо есть был была будет сегодня завтра вчера сейчас потом тут там все "
    "вообще кстати ладно окей хорошо отлично понятно ребята друзья коллеги подскажите "
    "the a an to and is it of for you i we this that in on with be are was hi hello thanks please "
    "yes no what how who when why can could would just so also anyone guys today tomorrow now here"
).split()
IRREGULAR_PAST = {
    "build": "built",
    "make": "made",
    "find": "found",
    "write": "wrote",
    "sell": "sold",
    "buy": "bought",
    "teach": "taught",
    "pay": "paid",
}
EMOJI = ("🔥", "👍", "🙏", "😊", "🚀", "✅", "❗", "💰")


def _ru_masc(root: str) -> list[str]:
    soft = root[-1] in "кгхжшчщ"
    hush = root[-1] in "жшчщ"
    plural, gen_pl = ("и" if soft else "ы"), ("ей" if hush else "ов")
    return [root + e for e in ("", "а", "у", "ом", "е", plural, gen_pl, "ам", "ами", "ах")]


def _ru_fem(word: str) -> list[str]:
    root = word[:-1]
    plural = "и" if root[-1] in "кгхжшчщ" else "ы"
    return [root + e for e in ("а", plural, "е", "у", "ой", "ам", "ами", "ах")]


def _ru_iya(word: str) -> list[str]:
    root = word[:-1]
    return [root + e for e in ("я", "и", "ю", "ей", "й", "ям", "ями", "ях")]


def _ru_adj(word: str) -> list[str]:
    root = word[:-2]
    endings = ("ый", "ая", "ое", "ые", "ого", "ой", "ому", "ую", "ым", "ых", "ыми")
    return [root + e for e in endings]


def _ru_verb(word: str) -> list[str]:
    root = word[:-3]
    endings = ("ать", "аю", "аешь", "ает", "аем", "аете", "ают", "ал", "ала", "али", "ай", "айте")
    return [root + e for e in endings]


def _en_noun(word: str) -> list[str]:
    return [word, word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")]


def _en_verb(word: str) -> list[str]:
    stem = word[:-1] if word.endswith("e") else word
    past = IRREGULAR_PAST.get(word, stem + "ed")
    return [word, word + "s", past, stem + "ing"]


def _pseudo_roots(rng: random.Random, consonants: str, vowels: str, count: int) -> list[str]:
    roots: set[str] = set()
    while len(roots) < count:
        syllables = rng.randint(2, 3)
        roots.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables)))
    return sorted(roots)


@dataclass(frozen=True)
class Vocabulary:
    general: list[list[str]]  # lemmas (their forms) people chat with; never keywords
    domain: list[list[str]]  # lemmas keyword sets are written with
    adjectives: list[list[str]]  # phrase starters: "срочный ремонт", "build website"


def build_vocabulary(rng: random.Random) -> Vocabulary:
    real = [_ru_masc(w) for w in RU_MASC] + [_ru_fem(w) for w in RU_FEM]
    real += [_ru_iya(w) for w in RU_IYA] + [_en_noun(w) for w in EN_NOUN]
    real += [_ru_verb(w) for w in RU_VERB] + [_en_verb(w) for w in EN_VERB]
    pseudo = [
        _ru_masc(r + rng.choice(("ник", "тель", "ист", "ор", "ант")))
        for r in _pseudo_roots(rng, "бвгдзклмнпрстфх", "аеиоу", 1_800)
    ]
    pseudo += [_ru_verb(r + "ать") for r in _pseudo_roots(rng, "бвдзклмнпрст", "аиоу", 400)]
    pseudo += [
        _en_noun(r + rng.choice(("er", "or", "ist", "ment", "ion")))
        for r in _pseudo_roots(rng, "bdfgklmnprstv", "aeiou", 1_200)
    ]
    lemmas = real + pseudo
    rng.shuffle(lemmas)
    cut = len(lemmas) * 2 // 5
    adjectives = (
        [_ru_adj(w) for w in RU_ADJ] + [[w] for w in EN_ADJ] + [_en_verb(w) for w in EN_VERB]
    )
    return Vocabulary(general=lemmas[:cut], domain=lemmas[cut:], adjectives=adjectives)


# --- rules and messages ----------------------------------------------------------------------

Keyword = list[list[str]]  # the forms of each word of a keyword; the first form is as written


@dataclass(frozen=True)
class Workload:
    sets: list[KeywordSetRules]
    keywords: list[list[Keyword]]  # per set, to put a keyword's forms into messages
    chats: list[int]  # the chats our parser accounts sit in


def _keyword(rng: random.Random, vocab: Vocabulary) -> Keyword:
    roll = rng.random()
    if roll < 0.7:
        return [rng.choice(vocab.domain)]
    if roll < 0.9:
        return [rng.choice(vocab.adjectives), rng.choice(vocab.domain)]
    return [rng.choice(vocab.domain), rng.choice(vocab.general), rng.choice(vocab.domain)]


def build_workload(rng: random.Random, vocab: Vocabulary, rules: int) -> Workload:
    sets: list[KeywordSetRules] = []
    keywords: list[list[Keyword]] = []
    chats: set[int] = set()
    campaign = 0
    while len(sets) < rules:
        campaign += 1
        scope = None
        if rng.random() >= GLOBAL_CAMPAIGN_SHARE:
            scope = frozenset(rng.sample(range(1, CHATS + 1), rng.randint(1, 30)))
            chats |= scope
        for _ in range(min(rng.randint(1, 4), rules - len(sets))):
            words = [_keyword(rng, vocab) for _ in range(rng.randint(2, 6))]
            minus = [_keyword(rng, vocab) for _ in range(rng.randint(0, 3))]
            sets.append(
                KeywordSetRules(
                    set_id=len(sets) + 1,
                    name=f"set-{len(sets) + 1}",
                    keywords=[" ".join(w[0] for w in k) for k in words],
                    exclude=[" ".join(w[0] for w in k) for k in minus],
                    campaign_id=campaign,
                    chat_ids=scope,
                )
            )
            keywords.append(words)
    return Workload(sets, keywords, sorted(chats) or list(range(1, 21)))


class MessageMaker:
    def __init__(self, rng: random.Random, vocab: Vocabulary, workload: Workload) -> None:
        self._rng = rng
        self._vocab = vocab
        self._workload = workload
        self._chatter_cum = list(accumulate(1 / rank for rank in range(1, len(CHATTER) + 1)))
        self._general_cum = list(accumulate(1 / rank for rank in range(1, len(vocab.general) + 1)))
        self._domain_cum = list(accumulate(1 / rank for rank in range(1, len(vocab.domain) + 1)))
        self._sets_by_chat: dict[int, list[int]] = {}
        for number, rules in enumerate(workload.sets):
            for chat in rules.chat_ids or workload.chats:
                self._sets_by_chat.setdefault(chat, []).append(number)

    def _word(self) -> str:
        rng, roll = self._rng, self._rng.random()
        if roll < 0.5:
            return rng.choices(CHATTER, cum_weights=self._chatter_cum)[0]
        if roll < 0.98:
            lemma = rng.choices(self._vocab.general, cum_weights=self._general_cum)[0]
        else:
            lemma = rng.choices(self._vocab.domain, cum_weights=self._domain_cum)[0]
        return rng.choice(lemma)

    def _decorate(self, word: str) -> str:
        rng, roll = self._rng, self._rng.random()
        if roll < 0.08:
            return word + rng.choice((",", ".", "!", "?", "...", ":"))
        if roll < 0.10:
            return word + " " + rng.choice(EMOJI)
        if roll < 0.11:
            return rng.choice(
                ("@alex_dev", "https://t.me/jobs_chat/123", "site.ru", "2024", "5000₽")
            )
        return word.capitalize() if roll < 0.13 else word

    def message(self) -> tuple[str, int]:
        rng = self._rng
        chat = rng.choice(self._workload.chats)
        words = [self._word() for _ in range(rng.randint(5, 40))]
        listening = self._sets_by_chat.get(chat)
        if listening and rng.random() < INJECT_SHARE:
            keyword = rng.choice(self._workload.keywords[rng.choice(listening)])
            at = rng.randint(0, len(words))
            words[at:at] = [rng.choice(forms) for forms in keyword]
        return " ".join(map(self._decorate, words)), chat


# --- measuring -------------------------------------------------------------------------------


def throughput(match: Callable[[str, int], object], messages: Sequence[tuple[str, int]]) -> float:
    # CPU time of this (single-threaded) process: messages per second of one core, and other
    # processes sharing the machine do not count against us.
    started = time.process_time()
    for text, chat in messages:
        match(text, chat)
    return len(messages) / (time.process_time() - started)


def best_of(runs: int, measure: Callable[[], float]) -> float:
    return max(measure() for _ in range(runs))


@dataclass(frozen=True)
class Row:
    rules: int
    ours: float
    naive: float
    cold: float
    compile_s: float
    matching_share: float
    hits_per_message: float
    with_intent: float | None = None  # msg/s with the second stage on keyword hits


def with_second_stage(
    matcher: Matcher, classifier: IntentClassifier
) -> Callable[[str, int], object]:
    """Matching, then the verdict (with its reason) for a message with any hit."""

    def match(text: str, chat: int) -> object:
        hits = matcher.match(text, chat)
        return classifier.classify(text) if hits else None

    return match


def alternately(
    runs: int, first: Callable[[], float], second: Callable[[], float]
) -> tuple[float, float]:
    """Best of ``runs`` of each, interleaved so that a busy moment of the machine hits both."""
    a = b = 0.0
    for _ in range(runs):
        a, b = max(a, first()), max(b, second())
    return a, b


def run_one(vocab: Vocabulary, rules: int) -> Row:
    rng = random.Random(SEED + rules)
    workload = build_workload(rng, vocab, rules)
    maker = MessageMaker(rng, vocab, workload)
    messages = [maker.message() for _ in range(MESSAGES)]
    cache = StemCache()
    started = time.perf_counter()
    ours = Matcher.compile(workload.sets, cache=cache)
    compile_s = time.perf_counter() - started
    cold = throughput(ours.match, messages)  # first pass fills the stem cache
    naive = NaiveMatcher.compile(workload.sets)
    sample = messages[: NAIVE_MESSAGES[rules]]
    for text, chat in sample:
        assert ours.match(text, chat) == naive.match(text, chat), (text, chat)
    results = [ours.match(text, chat) for text, chat in messages]
    with_intent: float | None = None
    if rules == INTENT_RULES:
        staged = with_second_stage(ours, IntentClassifier(load_default(GENERAL)))
        throughput(staged, messages)  # fills the classifier's word cache, as a running parser has
        warm, with_intent = alternately(
            5, lambda: throughput(ours.match, messages), lambda: throughput(staged, messages)
        )
    else:
        warm = best_of(5, lambda: throughput(ours.match, messages))
    return Row(
        rules=rules,
        ours=warm,
        naive=throughput(naive.match, sample),
        cold=cold,
        compile_s=compile_s,
        matching_share=sum(1 for hits in results if hits) / len(results),
        hits_per_message=sum(map(len, results)) / len(results),
        with_intent=with_intent,
    )


def main() -> None:
    vocab = build_vocabulary(random.Random(SEED))
    forms = sum(map(len, vocab.general + vocab.domain + vocab.adjectives)) + len(CHATTER)
    print(f"parser keyword matcher: {forms} word forms, {MESSAGES} messages per rule count")
    print("rates are messages per CPU second of one thread (other processes do not count)")
    print("ours: stem cache warmed by a first pass (its rate is 'cold'), best of 5 warm passes")
    print("naive: no stem cache, every rule tried; fewer messages, checked equal to ours\n")
    header = f"{'rules':>6} {'ours msg/s':>11} {'cold msg/s':>11} {'naive msg/s':>12} {'ratio':>7}"
    print(header + f" {'compile s':>9} {'matching':>9} {'hits/msg':>9}")
    rows = {}
    for rules in RULE_COUNTS:
        row = run_one(vocab, rules)
        rows[rules] = row
        print(
            f"{rules:>6} {row.ours:>11,.0f} {row.cold:>11,.0f} {row.naive:>12,.0f} "
            f"{row.ours / row.naive:>6.0f}x {row.compile_s:>9.2f} {row.matching_share:>8.1%} "
            f"{row.hits_per_message:>9.2f}"
        )
    at_1000 = rows[1_000]
    staged = at_1000.with_intent or 0.0
    drop = 1 - staged / at_1000.ours
    per_hit_us = (1 / staged - 1 / at_1000.ours) * 1e6 / max(at_1000.matching_share, 1e-9)
    print(
        f"\nat {INTENT_RULES} rules with the intent stage on hits ({at_1000.matching_share:.1%}): "
        f"{staged:,.0f} msg/s against {at_1000.ours:,.0f} ({drop:.1%} fewer; "
        f"{per_hit_us:.1f} µs per message with a hit)"
    )
    print(
        json.dumps(
            {
                "bench": "parser",
                "ours": round(at_1000.ours),
                "baseline": round(at_1000.naive),
                "ratio": round(at_1000.ours / at_1000.naive, 1),
                "unit": "msg/s",
                "by_rules": {
                    str(n): {"ours": round(r.ours), "naive": round(r.naive)}
                    for n, r in rows.items()
                },
                "flatness": round(rows[10_000].ours / rows[10].ours, 3),
                "cold_ours": round(at_1000.cold),
                "warm_cache": True,
                "with_intent": round(staged),
                "intent_drop": round(drop, 3),
                "intent_us_per_hit": round(per_hit_us, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
