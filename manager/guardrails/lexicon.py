"""Word lists for the content checks (``content.py``): insults, payment requests, credentials.

Everything is written in the form the checks compare against: case folded, ``ё`` as ``е``.
Payment and credential patterns are regular-expression fragments, joined by ``content.py``;
each must begin with a letter or ``$``, so a draft is scanned quickly for their first letters.
"""

from __future__ import annotations

# Insults and obscenities. A stem matches a word beginning with it; an exact word only itself
# (short or ambiguous words: "ass" but not "assistant", "dick" but not "Dickens").
INSULT_STEMS_EN = (
    "idiot", "moron", "imbecil", "cretin", "fuck", "motherfuck", "bitch", "bastard",
    "asshole", "arsehole", "dickhead", "cunt", "wanker", "wanking", "shithead", "bullshit",
    "dumbass", "jackass", "douchebag", "scumbag", "faggot", "nigger",
)  # fmt: skip
INSULT_EXACT_EN = (
    "ass", "asses", "arse", "dick", "dicks", "shit", "shits", "shitty", "twat", "twats",
    "prick", "pricks", "retard", "retards", "retarded", "crap", "crappy", "piss", "pissed",
    "slut", "sluts", "whore", "whores", "loser", "losers", "jerk", "jerks", "fck", "fuk",
    "stfu", "wtf", "douche", "scum", "cock", "cocks",
)  # fmt: skip
# Obscene Russian roots, also after a verbal prefix ("нахуй", "заебал", "распиздяй").
OBSCENE_ROOTS_RU = ("хуй", "хуе", "хуя", "хую", "хуи", "пизд", "еба", "ебу", "ебл", "ебн",
                    "ебо", "ебе", "еби", "ебт", "бляд", "блят", "бля")  # fmt: skip
RU_PREFIXES = (
    "на", "по", "за", "от", "отъ", "вы", "у", "раз", "разъ", "рас", "до", "при", "про", "пере",
    "недо", "въ", "с", "съ", "подъ", "объ", "из", "изъ", "долбо", "схуе", "о", "об",
)  # fmt: skip
INSULT_STEMS_RU = (
    "мудак", "мудил", "мудач", "дебил", "идиот", "кретин", "придур", "ублюд", "мраз", "сволоч",
    "скотин", "говн", "дерьм", "шлюх", "гандон", "гондон", "пидор", "пидар", "педик", "залуп",
    "засран", "обосра", "жоп", "сучар", "уебан", "уебок", "долбан", "тупорыл", "конченн",
    "конченый", "дурак", "дебилоид", "имбецил",
)  # fmt: skip
INSULT_EXACT_RU = (
    "сука", "суки", "суку", "сукой", "сучий", "сучка", "сучки", "сучку", "чмо", "лох", "лохи",
    "лоха", "лошара", "дура", "дуры", "хер", "херня", "херни", "нахер", "похер", "тварь",
    "урод", "уроды", "урода", "козел", "козлы", "хули", "отсоси", "соси",
)  # fmt: skip
# Words that are insults only said of someone: "вы тупой", "you are stupid".
INSULTING_ADJECTIVES = (
    "stupid", "dumb", "useless", "worthless", "pathetic", "clown", "ugly", "тупой", "тупая",
    "тупые", "тупица", "глупый", "глупая", "глупые", "никчемный", "никчемная", "ничтожество",
    "клоун", "бездарь", "бездарность",
)  # fmt: skip
YOU_ARE = (  # the word start is checked by the caller: a lookbehind first slows the scan
    r"(?:you(?:'re| are| r)?|u r|ur|ты|вы)\s+"
    r"(?:so\s+|such\s+an?\s+|an?\s+|такой\s+|такая\s+|просто\s+|реально\s+)?"
)

# Acronyms written in capitals that are no shouting.
ACRONYMS = frozenset(
    "SEO SMM CRM ERP API SDK UX UI UX/UI MVP CMS CSS HTML HTTP HTTPS JSON REST AJAX SQL PHP "
    "IELTS TOEFL FAQ B2B B2C SAAS PAAS IAAS AWS GCP CEO CTO CFO COO HR PR KPI ROI CPA CPC CTR "
    "ASAP PDF USD EUR RUB GPT LLM AI ML IT QA DEVOPS NASA FIFA UNESCO ООО ОАО ЗАО ПАО ИП НДС "
    "ИНН ОГРН КПП СНИЛС ТЗ ЛК ЦА СМИ СНГ РФ США МФЦ ФНС ЖКХ".split()
)

# Asking the lead to pay now (not payment terms: "оплата по этапам", "50% upfront").
PAYMENT_REQUEST = (
    # ru: an imperative that only means "pay"
    r"(?:(?:пред|до)?оплатите|(?:пред|до)?оплати|заплатите|заплати)(?![^\W\d_])",
    # ru: an imperative that means "pay" with money as its object
    r"(?:переведите|переведи|перечислите|перечисли|скиньте|скинь|закиньте|закинь|киньте|кинь"
    r"|отправьте|отправь|пришлите|пришли|внесите|внеси|пополните|пополни)[\s,]"
    r"[^.!?\n]{0,40}?(?:деньг|денег|бабк|бабл|оплат|предоплат|аванс|сумм|перевод|на карт|на сч[её]т"
    r"|на кошел|на номер|по номеру|₽|руб|\$|€|usd|долл)",
    # ru: "нужно оплатить", "прошу перевести предоплату"
    r"(?:нужно|надо|необходимо|требуется|прошу|просим|попрошу)\s(?:вас\s|бы\s)?"
    r"(?:сейчас\s|сразу\s|сегодня\s|срочно\s)?(?:(?:пред|до)?оплатить|заплатить"
    r"|(?:перевести|перечислить|внести|скинуть|отправить)\s(?:\w+\s)?(?:деньги|оплату"
    r"|предоплату|аванс|сумму|на карту))",
    # en
    r"(?:please|kindly|just|now)\s(?:pay|prepay|transfer|wire|send (?:me |us )?(?:the )?"
    r"(?:money|payment|funds|deposit)|make (?:a|the) (?:payment|deposit|transfer))",
    r"pay\s(?:now|today|immediately|right away|asap|me|us|in full now)",
    r"(?:send|transfer|wire)\s(?:me\s|us\s)?(?:the\s|your\s)?(?:money|payment|funds|deposit"
    r"|prepayment|fee|\$\s?\d|\d+\s?(?:usd|\$|eur|€))",
    r"(?:you (?:need|have|must|should) to|need you to)\s(?:pay|prepay|transfer"
    r"|wire|send (?:the )?(?:money|payment)|make (?:a|the) payment)",
    r"(?:send|transfer|wire|pay)\s[^.!?\n]{0,40}?(?:to|into|on) (?:my|our|this) "
    r"(?:card|account|wallet|paypal)",
)

# The first three letters (or the whole word, when shorter) of every word a PAYMENT_REQUEST
# pattern can begin with: only where such a word begins is the pattern tried.
PAYMENT_REQUEST_KEYS = frozenset(
    "опл пре доп зап пер ски зак кин отп при вне поп нуж над нео тре про ple kin jus now pay "
    "sen tra wir you nee".split()
)

# Asking for what lets someone take the lead's money: label -> patterns.
CREDENTIALS = {
    "a card number": (
        r"номер\w*\s(?:вашей\s|своей\s|банковской\s)*карт",
        r"данн\w+\s(?:вашей\s|своей\s|банковской\s)*карт",
        r"реквизит\w*\s(?:вашей\s|своей\s)*карт",
        r"card\s?(?:number|details|info|data|no\b)",
    ),
    "the card's CVV/CVC code": (
        r"cvv2?\b|cvc2?\b|cvn\b|свв\b|свс\b",
        r"(?:трех|3)[-\s]?значн\w*\sкод",
        r"код\w*\s(?:с|на)\s(?:обратной|оборотной)\sстороны",
        r"security code",
    ),
    "the card's expiry date": (
        r"срок\w*\sдействия\s(?:вашей\s|своей\s)?карт",
        r"expir(?:y|ation)\sdate",
        r"exp\.?\sdate",
    ),
    "a confirmation code": (
        r"(?:sms|смс|one[- ]time|verification|confirmation|login|auth|authentication|2fa)"
        r"[-\s]?(?:code|код|pin|пароль)",
        r"otp\b",
        r"код\w*\s(?:из|с|по)\s(?:смс|sms|сообщени|пуш|push)",
        r"code\s(?:from|in)\s(?:the\s|your\s|this\s|that\s)?(?:sms|text|message)",
        r"код\w*\sподтвержд",
        r"код\w*\s(?:для\s)?(?:входа|авторизац)",
    ),
    "a password": (
        r"(?:ваш\w*|сво\w+)\s(?:\w+\s)?парол",
        r"парол\w*\s(?:от|к|для)\s",
        r"(?:password|passcode|passphrase)(?![^\W\d_])",
    ),
    "a PIN": (r"pin[-\s]?(?:code|код)", r"your pin\b", r"пин[-\s]?код", r"пин\b"),
    "a seed phrase or private key": (
        r"seed[-\s]?(?:phrase|words)",
        r"recovery phrase",
        r"mnemonic",
        r"secret (?:phrase|words|key)",
        r"private key",
        r"сид[-\s]?фраз",
        r"мнемони\w*",
        r"секретн\w+\s(?:фраз|слов|ключ)",
        r"приватн\w+\sключ",
    ),
    "bank login details": (
        r"(?:bank|banking)\s(?:login|credentials|username|account access)",
        r"(?:логин|доступ)\w*\s(?:от|к|в|для)\s(?:вашего\s|вашему\s)?(?:банк|онлайн[-\s]?банк"
        r"|интернет[-\s]?банк|личн\w+\sкабинет\w*\sбанк|сбер|тинькофф|госуслуг)",
    ),
}
# As PAYMENT_REQUEST_KEYS, for the CREDENTIALS patterns.
CREDENTIAL_KEYS = frozenset(
    "ном дан рек car cvv cvc cvn свв свс тре 3 3-з код cod sec сро exp sms смс one ver con "
    "log aut 2fa otp пар pas pin you пин see rec mne pri сид мне сек при ban лог дос ваш "
    "сво".split()
)

# A credential counts when the sentence asks for it: a request word before it in the sentence,
# or "?" / "please" just after it, and no negation ("не присылайте", "don't send") before it.
ASK = (
    r"пришл|присыл|скин|отправ|напиш|сообщ|назов|назыв|продикт|скаж|дайте|дай|укаж|введ|ввод"
    r"|нужен|нужна|нужно|нужны|понадоб|требу|пожалуйста|подскаж|поделит|send|give|share|tell"
    r"|provide|enter|type|need|what is|what's|whats|please|confirm|read|dictate|forward"
)
NEGATION = (
    r"(?<![^\W\d_])(?:не|ни|нет|нельзя|никогда|no|never|don't|dont|do not|not|no need|без)"
    r"(?![^\W\d_])"
    r"(?!\s(?:могли|можете|сможете|подскаж|скаж|сложно|трудно|забудьте))"  # polite requests
)
