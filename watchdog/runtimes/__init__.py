"""Where workers run: local processes or Docker containers, behind one interface (``base``)."""
