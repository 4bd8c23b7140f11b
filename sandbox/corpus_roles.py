"""Who says a campaign's keywords without wanting to buy, and the profiles of every role.

A keyword match is not a buyer: freelancers and agencies advertise, job seekers and recruiters
post about work, learners ask how to do it themselves, and people share news and jokes — all with
the same words a buyer uses. These "lookalike" messages hit a demo keyword set (see
``sandbox.corpus``) and none of its minus words, so only the parser's second stage (lead intent)
can tell them from a buyer's. Templates use the corpus's ``{a|b}`` choices and ``{E}`` emoji; they
are written for the sandbox, not taken from the classifier's labelled examples (no testing on
training data).
"""

from __future__ import annotations

from typing import Literal

Role = Literal[
    "buyer",  # wants to order the work: the only role a campaign should write to
    "seller",  # a freelancer advertising their services
    "agency",  # a studio or agency advertising
    "job_seeker",  # looking for a job
    "recruiter",  # posting a vacancy
    "learner",  # asking how to do it themselves
    "news",  # news, jokes and opinions that mention the trade
    "chatter",  # never says a keyword
]
ROLES: tuple[Role, ...] = (
    "buyer",
    "seller",
    "agency",
    "job_seeker",
    "recruiter",
    "learner",
    "news",
    "chatter",
)
# A default crowd of 20 (repeated): about a third of those who say a keyword are not buyers.
CROWD_PATTERN: dict[Role, int] = {
    "buyer": 6,
    "seller": 2,
    "agency": 1,
    "job_seeker": 2,
    "recruiter": 1,
    "learner": 1,
    "news": 1,
    "chatter": 6,
}

# (topic, lang) → role → templates. Web-dev keywords: разработчик, программист, "сделать сайт",
# developer, "build a website" (never вакансия, резюме, hiring); design: дизайнер, логотип,
# "фирменный стиль", designer, logo (never курс, course).
LOOKALIKE: dict[tuple[str, str], dict[Role, list[str]]] = {
    ("web-dev", "ru"): {
        "seller": [
            "{Я|Сам} {веб-разработчик|разработчик|программист}, {делаю|собираю} {сайты|лендинги|"
            "интернет-магазины} под ключ. {Портфолио в профиле|Примеры работ в профиле|"
            "Работаю по договору}{E}",
            "Опытный программист берёт заказы на {Django|Laravel|Битрикс|WordPress}: {сроки от "
            "недели|оплата поэтапно|поддержка после запуска}. Восемь лет опыта, отзывы в "
            "профиле{E}",
            "Фрилансер-разработчик {свободен|освободился} с {понедельника|первого числа}, беру "
            "{пару проектов|один-два заказа}: {лендинги|магазины|телеграм-боты}, {цены "
            "адекватные|от 15 000 ₽}",
            "Хотите сайт, который приносит заявки? Я {веб-разработчик|разработчик-фрилансер}, "
            "делаю под ключ за {5|7|10} дней, {недорого|с гарантией|с хостингом на год}. "
            "Портфолио и отзывы в профиле{E}",
        ],
        "agency": [
            "Наша {веб-студия|команда} {делает|разрабатывает} сайты для {малого бизнеса|клиник|"
            "ресторанов} {с 2015 года|уже восемь лет}: свои программисты и дизайнер, {оценка "
            "проекта бесплатно|поддержка 24/7}{E}",
            "Студия «{Вектор|Сайтика|Пиксель Про|Код и кофе}» принимает заказы на {январь|весну|"
            "следующий месяц}: команда из {пяти|шести|восьми} разработчиков, {магазины и "
            "CRM|лендинги и боты}",
        ],
        "job_seeker": [
            "{Всем привет|Здравствуйте}! Ищу работу {веб-разработчиком|программистом|"
            "frontend-разработчиком}, {два года опыта|опыт три года|после стажировки}, {React|"
            "Python и Django|PHP и Laravel}. {Рассмотрю удалёнку|Москва или удалённо|Готов к "
            "тестовому}{E}",
            "{Junior|Начинающий} {разработчик|программист} ищет {первую работу|стажировку|место в "
            "команде}: {готов к тестовому заданию|учусь быстро|могу в офис}, опыт — пет-проекты, "
            "портфолио на GitHub",
            "Я программист, {ищу работу в штат|ищу работу в продуктовой компании|ищу постоянную "
            "работу}, не фриланс. {Python, три года|Go и немного Rust|1С и веб}, {Казань|"
            "Новосибирск|удалённо}",
        ],
        "recruiter": [
            "В {нашу команду|финтех-стартап|продуктовую компанию} требуется {разработчик|"
            "программист} {Python|Go|PHP}, {удалённо|офис в Москве|гибрид}, {от 250 тыс.|вилка "
            "после собеседования}. {Отклики в лс|Пишите HR}",
            "{Ищем в штат|Набираем в команду} программиста {1С|на Java|на Kotlin}: {полный день|"
            "гибкий график}, требования: опыт от двух лет, оформление по ТК, ДМС, зарплата от "
            "{180|220} тыс., {Казань|"
            "Екатеринбург|удалённо}{E}",
        ],
        "learner": [
            "Как {самому|самостоятельно} сделать сайт {на Тильде|на WordPress|на конструкторе}? "
            "{Есть нормальные гайды|С чего начать|Какие уроки посмотреть}?",
            "{Вопрос к разработчикам|Разработчики, вопрос}: {почему у меня вёрстка едет на "
            "айфоне|как подключить оплату к своему сайту на Django|как правильно хранить "
            "пароли в базе}? Сам разбираюсь, не выходит",
        ],
        "news": [
            "{Интересно|Любопытно}: по {данным hh|опросу Хабра} программисты {в регионах|на "
            "удалёнке} стали получать {на 15%|на 10%} больше за год",
            "{Ахах|Лол}, классический разработчик: «{у меня на машине работает|это не баг, а "
            "фича|там делов на пять минут}»{E}",
        ],
    },
    ("web-dev", "en"): {
        "seller": [
            "{Freelance|Senior|Full-stack} developer {here|available}: I build {landing pages|"
            "online stores|web apps} {on Webflow|with React|on WordPress}. {Portfolio in my "
            "bio|DM for rates|Free quote}{E}",
            "Web developer here, taking new clients: I can build a website for your business in "
            "{5|7|10} days, {from $400|fixed price|hosting included}. Portfolio in my bio{E}",
        ],
        "agency": [
            "Our {agency|studio} has a team of {eight|twelve} developers and takes {two|three} new "
            "clients {this month|for Q1}. {Free consultation|Book a call on our site}",
        ],
        "job_seeker": [
            "{Hi all|Hey folks}, {junior|mid-level} {frontend|Python|full-stack} developer "
            "looking for {a full-time role|my first job|remote work}. {Two years of "
            "experience|Bootcamp grad|Open to internships}{E}",
            "Laid off last week: experienced developer ({React|Go|Django}) open to {new "
            "roles|full-time positions}, {remote or Berlin|EU timezone}",
        ],
        "recruiter": [
            "{Our startup|A fintech company in Berlin} is looking for a {senior|backend|React} "
            "developer to join the team full-time, {remote EU|visa support|equity "
            "included}. Apply via the link in our channel",
        ],
        "learner": [
            "Trying to learn: how do I build a website {myself|on my own} {without coding|with "
            "no code}? {Wix or Squarespace|Which tutorials helped you}? Learning this for fun",
            "Question for developers: {how do you deploy a Django app|what's the best way to "
            "learn React|how do you handle CORS errors}? Trying to figure it out myself",
        ],
        "news": [
            "{Interesting read|Saw this today}: developer salaries {dropped 8%|grew 12%} this "
            "year according to {a new survey|Stack Overflow's report}",
            "lol every developer's favourite phrase: \u201c{works on my machine|it's a "
            "feature|just a quick fix}\u201d{E}",
        ],
    },
    ("design", "ru"): {
        "seller": [
            "{Я|Сама} дизайнер, {рисую|делаю} логотипы и фирменный стиль {от 5000 ₽|за три "
            "дня|под ключ}. {Портфолио в профиле|Работы на Behance|Примеры скину в лс}{E}",
            "Графический дизайнер {возьмёт|берёт} заказы: {упаковка, баннеры, логотип|визитки и "
            "логотип|оформление соцсетей}, {правки без доплат|быстро и аккуратно}",
        ],
        "agency": [
            "Наша {студия дизайна|команда дизайнеров} «{Форма|Линия|Графит}» уже {8|10} лет "
            "разрабатывает фирменный стиль ресторанам и салонам, больше 200 брендов в портфолио. "
            "{Скидка 15% до конца месяца|Бриф бесплатно}{E}",
        ],
        "job_seeker": [
            "Ищу работу {дизайнером|графическим дизайнером|UI-дизайнером} в {агентство|студию|"
            "продуктовую команду}, {опыт два года|Figma и Illustrator}, {портфолио скину|можно "
            "удалённо}",
        ],
        "recruiter": [
            "В {студию|агентство} требуется дизайнер {на полный день|на постоянку}, {логотипы "
            "и упаковка|Figma обязательно}, {Москва|удалённо}. Пишите с портфолио",
        ],
        "learner": [
            "Как {самому|самой} нарисовать логотип {в Figma|в Canva|без навыков}? {Есть "
            "уроки|Посоветуйте видео}?",
        ],
        "news": [
            "{Лол|Ахах}, заказчик опять просит «сделать логотип побольше и поярче»{E}",
            "{Видели|Новость дня}: {Сбер|Яндекс|Аэрофлот} {обновил|сменил} логотип. По-моему, "
            "старый был лучше, {как вам|а вы что думаете}?",
        ],
    },
    ("design", "en"): {
        "seller": [
            "Freelance designer {here|available}, taking new clients: logos, brand identity, "
            "{packaging|social media kits}. {Portfolio on Behance|Seven years of experience}, "
            "{my rates are in the bio|fast turnaround}{E}",
        ],
        "agency": [
            "Our branding studio designs logo and identity packages for {cafes|startups|"
            "clinics}, {three concepts in five days|free brief this week}",
        ],
        "job_seeker": [
            "{Junior|Mid-level} graphic designer, currently job hunting: {just finished my "
            "degree|two years of agency experience}. Would love a full-time position, CV in my bio",
        ],
        "recruiter": [
            "{Our agency|A startup in Lisbon} is looking for a designer to join the team "
            "{full-time|in-house}: salary €{40|45}-55k, {remote ok|visa support}. Apply with "
            "your portfolio via the link in our channel",
        ],
        "learner": [
            "Learning {Figma|Canva} on my own: how do I make a logo myself that doesn't look "
            "cheap? {Any tutorials for beginners|Tips welcome}?",
        ],
        "news": [
            "{Did you see|Interesting}: {Jaguar|Pepsi|Mastercard} {changed|unveiled} its logo, "
            "{thoughts|love it or hate it}?",
        ],
    },
}

# Whose profile says what: the parser reads a sender's bio beside the message.
BIOS: dict[Role, dict[str, list[str]]] = {
    "buyer": {
        "ru": [
            "Владелец кофейни в Казани",
            "Мама двоих детей и владелица пекарни",
            "Открываю студию йоги",
            "Маркетолог, пишу про малый бизнес",
            "Цветочная мастерская, Тверь",
        ],
        "en": [
            "Owner of a small bakery in Leeds",
            "Running a yoga studio",
            "Product manager at a fintech startup",
            "Co-founder @ a tiny coffee roastery",
        ],
    },
    "seller": {
        "ru": ["Веб-разработчик | сайты под ключ", "Дизайнер логотипов · портфолио в канале"],
        "en": ["Freelance web developer | open for projects", "Brand designer · DM for rates"],
    },
    "agency": {
        "ru": ["Студия «Вектор» — сайты и брендинг", "Агентство: сайты, дизайн, реклама"],
        "en": ["Digital agency • web & branding", "Studio for websites and identity"],
    },
    "job_seeker": {
        "ru": ["Ищу работу в IT", "Junior frontend, в поиске работы"],
        "en": ["Junior developer | open to work", "Graphic designer, looking for a job"],
    },
    "recruiter": {
        "ru": ["IT-рекрутер", "HR в продуктовой компании"],
        "en": ["Tech recruiter", "Talent partner @ fintech"],
    },
    "learner": {
        "ru": ["Учусь верстать", "Студент, учу Python"],
        "en": ["Learning to code", "CS student"],
    },
    "news": {
        "ru": ["Пишу про IT и дизайн", "Читаю Хабр по утрам"],
        "en": ["Tech news, daily", "Writing about the web"],
    },
    "chatter": {
        "ru": ["Люблю кофе и горы ☕", "Фотограф. Москва", "Путешествую и пишу об этом"],
        "en": ["Coffee, code and mountains", "Photographer based in Lisbon 📷"],
    },
}
