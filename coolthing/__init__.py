"""The composition root: the `coolthing` command that starts services, the demo and tools."""
