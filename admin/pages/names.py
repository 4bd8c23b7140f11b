"""Words the templates translate from data — navigation groups, roles, inbox filters and statuses —
marked here so the catalogue extraction finds them:
``pybabel extract -F admin/babel.cfg -k N_ -o admin/locale/messages.pot admin``, then
``pybabel update -i admin/locale/messages.pot -d admin/locale``."""

from __future__ import annotations


def N_(text: str) -> str:  # the gettext convention: mark now, translate where shown
    return text


DATA_WORDS = (
    N_("Work"),
    N_("System"),
    N_("Setup"),
    N_("Keyword sets"),
    N_("Leads"),
    N_("Users"),
    N_("Audit log"),
    N_("Do-not-contact"),
    N_("panel"),
    N_("api"),
    N_("telegram"),
    N_("cli"),
    N_("system"),
    N_("conversation"),
    N_("message"),
    N_("lead"),
    N_("campaign"),
    N_("account"),
    N_("new"),
    N_("contacted"),
    N_("replied"),
    N_("viewer"),
    N_("operator"),
    N_("admin"),
    N_("owner"),
    N_("needs approval"),
    N_("needs human"),
    N_("active"),
    N_("opted out"),
    N_("finished"),
    N_("all"),
    N_("awaiting approval"),
    N_("handoff"),
    N_("drafting"),
    N_("waiting"),
    N_("rejected"),
    N_("expired"),
    N_("skipped"),
    N_("failed"),
    N_("pending approval"),
    N_("scheduled"),
    N_("queued"),
    N_("sent"),
    N_("cancelled"),
)
