"""Configuration as code: a YAML workspace applied in one transaction, and exported back."""
