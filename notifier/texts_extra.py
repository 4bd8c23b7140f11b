"""Strings the bot translates that Babel cannot find where they are used.

Nothing imports this module: it exists so ``pybabel extract`` puts these strings in the catalogue.
Each group says where the string comes from at run time; the unit test of the catalogue checks
the groups still match their sources (roles, month names, link-code reasons).
"""

from __future__ import annotations

from notifier.texts import N_

# ``texts(person.role.value)``: the panel roles of core.access.Role.
ROLES = (N_("viewer"), N_("operator"), N_("admin"), N_("owner"))

# ``Texts.when`` shows another day as "3 Dec 14:05": ``strftime("%b")`` in the C locale.
MONTHS = (
    N_("Jan"),
    N_("Feb"),
    N_("Mar"),
    N_("Apr"),
    N_("May"),
    N_("Jun"),
    N_("Jul"),
    N_("Aug"),
    N_("Sep"),
    N_("Oct"),
    N_("Nov"),
    N_("Dec"),
)

# ``/start CODE`` refused by core.telegram_link_codes (core does not import the notifier); the
# bot shows them with ``texts(str(refused))``.
LINK_CODE_REASONS = (
    N_("this is not a link code"),
    N_("this link code has expired: get a new one"),
)

# rendering_groups: ``texts(HEADERS.get(family, N_("Alerts")))`` is too deep for the extractor.
NESTED = (N_("Alerts"),)
