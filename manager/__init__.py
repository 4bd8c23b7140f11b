"""LLM outreach and conversations: prompts, output checks, guardrails, approvals, handoff."""
