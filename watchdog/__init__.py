"""Watchdog: keeps exactly one bots worker alive per active account."""
