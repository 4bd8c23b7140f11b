"""Changing the configuration from the panel and the API: one service function per change, with
the workspace file's validation, an audit row and ``config.changed`` for the services."""
